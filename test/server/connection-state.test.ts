/**
 * The compact per-connection state that keeps idle connections cheap: a connection's rooms
 * (one name, then a set) and the connection's logger made on first use, still binding the
 * connection's ids. The store's connections per user (one id, then a set) are counted in
 * state-store.test.ts, against both stores.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { CompactSetOf } from '../../server/compact-set.js';
import { buildServer, openClient, signToken, until } from '../helpers.js';

t.test('a CompactSetOf answers as a Set through one member, several and none', async (t) => {
  const rooms = new CompactSetOf();
  const model = new Set<string>();
  const steps: ReadonlyArray<readonly ['add' | 'delete', string]> = [
    ['delete', 'a'],
    ['add', 'a'],
    ['add', 'a'],
    ['delete', 'b'],
    ['add', 'b'],
    ['add', 'c'],
    ['delete', 'a'],
    ['add', 'a'],
    ['delete', 'b'],
    ['delete', 'c'],
    ['delete', 'a'],
    ['add', 'd'],
    ['delete', 'd'],
    ['delete', 'd'],
  ];
  for (const [op, room] of steps) {
    const label = `${op} ${room}`;
    if (op === 'add') {
      t.equal(rooms.add(room), rooms, `${label} returns the set`);
      model.add(room);
    } else {
      t.equal(rooms.delete(room), model.delete(room), `${label}: same answer as a Set`);
    }
    t.equal(rooms.size, model.size, `${label}: same size`);
    t.strictSame([...rooms], [...model], `${label}: same members, same order`);
    for (const probe of ['a', 'b', 'c', 'd']) {
      t.equal(rooms.has(probe), model.has(probe), `${label}: has(${probe})`);
    }
  }
});

/** A pino logger at `level` whose lines are collected, parsed. */
function collectingLogger(level: string) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  return { logger: pino({ level }, stream), lines };
}

t.test("a connection's log lines bind its company, user and connection", async (t) => {
  const { logger, lines } = collectingLogger('debug');
  const srv = await buildServer(t, {}, { logger });
  const visitor = openClient(srv.wsUrl, signToken({ sub: 'v-log', company_id: 'co-log' }));
  t.teardown(() => visitor.close());
  const { connectionId } = await visitor.established();
  const bound = { companyId: 'co-log', userId: 'v-log', connId: connectionId };
  await until(() => lines.some((l) => l['msg'] === 'connection established'));
  t.match(
    lines.find((l) => l['msg'] === 'connection established'),
    bound,
  );
  visitor.ws.close(1000);
  await until(() => lines.some((l) => l['msg'] === 'connection closed'));
  t.match(
    lines.find((l) => l['msg'] === 'connection closed'),
    { ...bound, code: 1000 },
  );
});

t.test('with debug off, a line at info still binds the ids', async (t) => {
  const { logger, lines } = collectingLogger('info');
  const srv = await buildServer(t, { maxConnectionsPerUser: 1 }, { logger });
  const token = signToken({ sub: 'v-twice', company_id: 'co-twice' });
  const first = openClient(srv.wsUrl, token);
  t.teardown(() => first.close());
  await first.established();
  const second = openClient(srv.wsUrl, token);
  t.teardown(() => second.close());
  t.equal((await second.closed).code, 4008, 'the second connection is refused');
  await until(() => lines.some((l) => l['msg'] === 'too many connections'));
  t.match(
    lines.find((l) => l['msg'] === 'too many connections'),
    { companyId: 'co-twice', userId: 'v-twice', connId: String, count: 2 },
  );
  t.notOk(
    lines.some((l) => l['level'] === 20),
    'no debug line was written',
  );
});
