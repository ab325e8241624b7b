import t from 'tap';
import {
  bearer,
  buildTestApp,
  databaseTemplate,
  errorOf,
  insertCall,
  openTestDatabase,
  seedCompany,
  tokenOf,
  type Teardown,
  type TestAppOptions,
} from './helpers.js';

const PEOPLE = [
  { email: 'alice@example.test', name: 'Alice Agent' },
  { email: 'bob@example.test', name: 'Bob Agent' },
  { email: 'ada@example.test', name: 'Ada Admin', role: 'admin' as const },
];

const template = databaseTemplate(async (database) => {
  const [alice, bob, ada] = await seedCompany(database, 'acme', PEOPLE);
  const [gAlice, , gAda] = await seedCompany(database, 'globex', PEOPLE);
  return {
    acme: { alice: alice!, bob: bob!, ada: ada! },
    globex: { alice: gAlice!, ada: gAda! },
  };
});

const T0 = Date.parse('2024-03-01T09:00:00.000Z');
const FROM = '2024-03-01T09:00:00.000Z';
const TO = '2024-03-01T10:00:00.000Z'; // T0 + 3600 s, exclusive

async function setup(t: Teardown, options: TestAppOptions = {}) {
  const { path, seeded } = await template();
  const database = await openTestDatabase(t, path);
  const { app } = await buildTestApp(t, { ...options, database });
  return { app, database, ...seeded };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/**
 * The known set. Times in seconds after creation; SERVICE_LEVEL_S is 20.
 *
 *   call  agent  state      created  answered  ended   speed of answer  handle
 *   c1    Alice  ended      T0+0     +5        +65     5                60
 *   c2    Alice  ended      T0+60    +30       +150    30               120
 *   c3    Bob    answered   T0+120   +20       -       20 (exactly SL)  - (not ended)
 *   c4    Alice  missed     T0+180   -         +30     -                -
 *   c5    Bob    declined   T0+240   -         +4      -                -
 *   c6    -      abandoned  T0+300   -         +30     -                -
 *   c7    -      abandoned  T0+360   -         +50     -                -
 *   c8    Bob    failed     T0+420   +10       +40     10               30  (server_restart)
 * Outside the window: c9 at T0-1 ms, c10 at T0+3600 s (to is exclusive); globex: g1, g2.
 */
async function seedKnownSet({ database, acme, globex }: Setup) {
  const at = (s: number) => T0 + s * 1000;
  const { alice, bob } = acme;
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(0),
    state: 'ended',
    target: alice,
    agent: alice,
    answeredAfterS: 5,
    endedAfterS: 65,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(60),
    state: 'ended',
    agent: alice,
    answeredAfterS: 30,
    endedAfterS: 150,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(120),
    state: 'answered',
    agent: bob,
    answeredAfterS: 20,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(180),
    state: 'missed',
    target: alice,
    endedAfterS: 30,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(240),
    state: 'declined',
    target: bob,
    endedAfterS: 4,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(300),
    state: 'abandoned',
    endedAfterS: 30,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(360),
    state: 'abandoned',
    endedAfterS: 50,
  });
  await insertCall(database, {
    companyId: 'acme',
    createdAt: at(420),
    state: 'failed',
    agent: bob,
    answeredAfterS: 10,
    endedAfterS: 40,
    endReason: 'server_restart',
  });
  // Outside [FROM, TO): one millisecond before, and exactly at the end.
  await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 - 1,
    state: 'ended',
    agent: alice,
    answeredAfterS: 100,
    endedAfterS: 200,
  });
  await insertCall(database, { companyId: 'acme', createdAt: at(3600), state: 'abandoned' });
  // Another company's calls in the same window, with agents of the same emails.
  await insertCall(database, {
    companyId: 'globex',
    createdAt: at(30),
    state: 'ended',
    agent: globex.alice,
    answeredAfterS: 3,
    endedAfterS: 13,
  });
  await insertCall(database, {
    companyId: 'globex',
    createdAt: at(90),
    state: 'abandoned',
    endedAfterS: 9,
  });
}

async function stats(app: Setup['app'], token: string, query = `?from=${FROM}&to=${TO}`) {
  return app.inject({ method: 'GET', url: `/api/calls/stats${query}`, headers: bearer(token) });
}

t.test('an admin gets the company figures of the known set, checked by hand', async (t) => {
  const s = await setup(t);
  await seedKnownSet(s);
  const res = await stats(s.app, tokenOf(s.acme.ada));
  t.equal(res.statusCode, 200);
  t.same(res.json(), {
    from: FROM,
    to: TO,
    serviceLevelThresholdSec: 20,
    offered: 8, // c1..c8
    answered: 4, // c1, c2, c3, c8
    missed: 1, // c4
    declined: 1, // c5
    abandoned: 2, // c6, c7
    failed: 1, // c8
    serviceLevel: 0.375, // within 20 s: c1 (5), c3 (20), c8 (10) = 3; 3 / 8
    averageSpeedOfAnswerSec: 16.25, // (5 + 30 + 20 + 10) / 4 = 65 / 4
    abandonmentRate: 0.25, // 2 / 8
    averageHandleTimeSec: 90, // calls in state ended: c1, c2: (60 + 120) / 2; c8 (failed) is left out
    averageRating: 0,
    rated: 0,
  });
});

t.test('an agent gets the figures of its own calls only', async (t) => {
  const s = await setup(t);
  await seedKnownSet(s);
  const alice = await stats(s.app, tokenOf(s.acme.alice));
  t.equal(alice.statusCode, 200);
  t.same(alice.json(), {
    from: FROM,
    to: TO,
    serviceLevelThresholdSec: 20,
    offered: 3, // c1, c2 (answered by her), c4 (rang her)
    answered: 2, // c1, c2
    missed: 1, // c4
    declined: 0,
    abandoned: 0,
    failed: 0,
    serviceLevel: 0.3333, // c1 only: 1 / 3, rounded to 4 places
    averageSpeedOfAnswerSec: 17.5, // (5 + 30) / 2
    abandonmentRate: 0,
    averageHandleTimeSec: 90, // (60 + 120) / 2
    averageRating: 0,
    rated: 0,
  });

  const bob = await stats(s.app, tokenOf(s.acme.bob));
  const expectedBob = {
    offered: 3, // c3, c5 (rang him), c8
    answered: 2, // c3, c8
    missed: 0,
    declined: 1, // c5
    abandoned: 0,
    failed: 1, // c8
    serviceLevel: 0.6667, // c3 (20, on the threshold) and c8 (10): 2 / 3, rounded
    averageSpeedOfAnswerSec: 15, // (20 + 10) / 2
    abandonmentRate: 0,
    averageHandleTimeSec: 0, // c3 has not ended and c8 failed: nothing to average
    averageRating: 0,
    rated: 0,
  };
  t.match(bob.json(), expectedBob);

  const byAdmin = await stats(
    s.app,
    tokenOf(s.acme.ada),
    `?from=${FROM}&to=${TO}&agentId=${s.acme.bob.id}`,
  );
  t.match(byAdmin.json(), expectedBob, "an admin asking for Bob's figures gets the same");
});

t.test('the other company gets only its own figures', async (t) => {
  const s = await setup(t);
  await seedKnownSet(s);
  const res = await stats(s.app, tokenOf(s.globex.ada));
  t.match(res.json(), {
    offered: 2, // g1, g2
    answered: 1,
    abandoned: 1,
    serviceLevel: 0.5, // g1 answered in 3 s: 1 / 2
    averageSpeedOfAnswerSec: 3,
    abandonmentRate: 0.5,
    averageHandleTimeSec: 10, // 13 - 3
    averageRating: 0,
    rated: 0,
  });
});

t.test('nothing to count gives zeros, not NaN or null', async (t) => {
  const s = await setup(t);
  await seedKnownSet(s);
  const res = await stats(
    s.app,
    tokenOf(s.acme.ada),
    '?from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z',
  );
  t.equal(res.statusCode, 200);
  t.same(res.json(), {
    from: '2020-01-01T00:00:00.000Z',
    to: '2020-01-02T00:00:00.000Z',
    serviceLevelThresholdSec: 20,
    offered: 0,
    answered: 0,
    missed: 0,
    declined: 0,
    abandoned: 0,
    failed: 0,
    serviceLevel: 0,
    averageSpeedOfAnswerSec: 0,
    abandonmentRate: 0,
    averageHandleTimeSec: 0,
    averageRating: 0,
    rated: 0,
  });
});

t.test('the service-level threshold comes from the configuration', async (t) => {
  const s = await setup(t, { config: { serviceLevelS: 5 } });
  await seedKnownSet(s);
  const res = await stats(s.app, tokenOf(s.acme.ada));
  t.equal(res.json().serviceLevelThresholdSec, 5);
  t.equal(res.json().serviceLevel, 0.125, 'within 5 s: c1 only; 1 / 8');
});

t.test('without from and to the figures cover the last 24 hours', async (t) => {
  const s = await setup(t);
  const now = Date.now();
  await insertCall(s.database, {
    companyId: 'acme',
    createdAt: now - 3_600_000,
    state: 'abandoned',
  });
  await insertCall(s.database, {
    companyId: 'acme',
    createdAt: now - 25 * 3_600_000,
    state: 'abandoned',
  });
  const res = await stats(s.app, tokenOf(s.acme.ada), '');
  t.equal(res.statusCode, 200);
  const body = res.json();
  const to = Date.parse(body.to);
  t.ok(to >= now && to <= Date.now(), 'to is now');
  t.equal(to - Date.parse(body.from), 24 * 3_600_000);
  t.equal(body.offered, 1);

  const onlyFrom = await stats(
    s.app,
    tokenOf(s.acme.ada),
    `?from=${new Date(now - 30 * 3_600_000).toISOString()}`,
  );
  t.equal(onlyFrom.json().offered, 2, 'from alone runs to now');
  const onlyTo = await stats(
    s.app,
    tokenOf(s.acme.ada),
    `?to=${new Date(now - 2 * 3_600_000).toISOString()}`,
  );
  t.equal(onlyTo.json().offered, 1, 'to alone covers the 24 hours before it (the 25 h old call)');
  t.equal(Date.parse(onlyTo.json().to) - Date.parse(onlyTo.json().from), 24 * 3_600_000);
});

t.test('stats rejects bad query values with 400 bad_request', async (t) => {
  const s = await setup(t);
  const admin = tokenOf(s.acme.ada);
  for (const query of [
    '?from=soon',
    '?to=2024-13-01T00:00:00Z',
    `?from=${TO}&to=${FROM}`,
    '?state=ended',
    '?limit=5',
  ]) {
    const res = await stats(s.app, admin, query);
    t.equal(res.statusCode, 400, query);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'bad_request' }, query);
  }
});
