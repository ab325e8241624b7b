import t from 'tap';
import {
  buildServer,
  connect,
  connectAgent,
  connectVisitor,
  httpGet,
  metricValue,
  type TestClient,
  type TestServer,
  flush,
  since,
  ok,
  code,
  until,
} from '../helpers.js';

// ---------------------------------------------------------------------------------------------
// Local helpers
// ---------------------------------------------------------------------------------------------

/** Acks other than those of {@link flush}, from index `from` on. */
function realAcks(c: TestClient, from: number) {
  return since(c, from, 'ack').filter((a) => !a.id.startsWith('flush-'));
}

const join = (roomId: unknown) => ({ type: 'join_room', roomId });
const leave = (roomId: unknown) => ({ type: 'leave_room', roomId });

async function rooms(srv: TestServer): Promise<number> {
  return metricValue((await httpGet(srv, '/metrics')).body, 'calldocker_rooms');
}

// ---------------------------------------------------------------------------------------------
// Join and leave
// ---------------------------------------------------------------------------------------------

t.test(
  'join_room with an id is acked once with the roomId and the joiner gets room_joined',
  async (t) => {
    const srv = await buildServer(t);
    const visitor = await connectVisitor(t, srv);
    const from = visitor.received.length;
    const res = await ok(visitor, { ...join('lobby'), id: 'j1' });
    t.strictSame(res, { type: 'ack', id: 'j1', roomId: 'lobby' });
    t.strictSame(await visitor.next('room_joined'), { type: 'room_joined', roomId: 'lobby' });
    await flush(visitor);
    t.equal(realAcks(visitor, from).length, 1, 'exactly one ack');
    t.equal(since(visitor, from, 'room_joined').length, 1, 'exactly one room_joined');
    t.equal(since(visitor, from, 'error').length, 0);
  },
);

t.test('join_room without an id gets room_joined and no ack', async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  const from = visitor.received.length;
  visitor.send(join('lobby'));
  t.strictSame(await visitor.next('room_joined'), { type: 'room_joined', roomId: 'lobby' });
  await flush(visitor);
  t.equal(realAcks(visitor, from).length, 0);
  t.equal(since(visitor, from, 'error').length, 0);
});

t.test('leave_room with an id is acked once and the leaver gets room_left', async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  await ok(visitor, join('lobby'));
  const from = visitor.received.length;
  const res = await ok(visitor, { ...leave('lobby'), id: 'l1' });
  t.strictSame(res, { type: 'ack', id: 'l1', roomId: 'lobby' });
  t.strictSame(await visitor.next('room_left'), { type: 'room_left', roomId: 'lobby' });
  await flush(visitor);
  t.equal(realAcks(visitor, from).length, 1);
  t.equal(since(visitor, from, 'room_left').length, 1);
});

t.test('leave_room without an id gets room_left and no ack', async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  await ok(visitor, join('lobby'));
  const from = visitor.received.length;
  visitor.send(leave('lobby'));
  t.strictSame(await visitor.next('room_left'), { type: 'room_left', roomId: 'lobby' });
  await flush(visitor);
  t.equal(realAcks(visitor, from).length, 0);
  t.equal(since(visitor, from, 'error').length, 0);
});

t.test('a visitor may leave public-calls and join it again', async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  t.strictSame((await ok(visitor, leave('public-calls')))['roomId'], 'public-calls');
  await visitor.next('room_left');
  t.strictSame((await ok(visitor, join('public-calls')))['roomId'], 'public-calls');
  await visitor.next('room_joined');
});

// ---------------------------------------------------------------------------------------------
// Room names
// ---------------------------------------------------------------------------------------------

t.test('room names matching the pattern are accepted', async (t) => {
  const srv = await buildServer(t);
  const visitor = await connectVisitor(t, srv);
  for (const roomId of ['a', '0', 'room-1', '9lives', 'trailing-', 'a'.repeat(63)]) {
    const res = await visitor.request(join(roomId));
    t.strictSame(res.type === 'ack' ? res['roomId'] : res, roomId, `joins ${roomId}`);
    t.strictSame(await visitor.next('room_joined'), { type: 'room_joined', roomId });
  }
});

t.test('bad room names get bad_request and join nothing', async (t) => {
  const srv = await buildServer(t);
  // Members of rooms close to the bad names, which must hear of no one.
  const agent = await connectAgent(t, srv);
  for (const roomId of ['lobby', 'a'.repeat(63)]) await ok(agent, join(roomId));
  const visitor = await connectVisitor(t, srv);
  const agentFrom = agent.received.length;
  const visitorFrom = visitor.received.length;

  const bad: Array<[string, unknown]> = [
    ['uppercase', 'Lobby'],
    ['leading dash', '-lobby'],
    ['64 characters', 'a'.repeat(64)],
    ['empty', ''],
    ['a number', 42],
    ['null', null],
    ['a space', 'lob by'],
    ['an underscore', 'lob_by'],
    ['a trailing newline', 'lobby\n'],
  ];
  for (const [what, roomId] of bad) {
    t.equal(await code(visitor, join(roomId)), 'bad_request', `join: ${what}`);
    t.equal(await code(visitor, leave(roomId)), 'bad_request', `leave: ${what}`);
  }
  t.equal(await code(visitor, { type: 'join_room' }), 'bad_request', 'join: roomId missing');
  t.equal(await code(visitor, { type: 'leave_room' }), 'bad_request', 'leave: roomId missing');

  // Without an id the error comes back without one.
  visitor.send(join('Lobby'));
  const err = await visitor.next('error', 3000, (e) => e.id === undefined);
  t.equal(err.code, 'bad_request');
  t.notOk('id' in err, 'no id on the error of a message without one');

  await flush(agent, visitor);
  t.equal(since(agent, agentFrom, 'user_joined').length, 0, 'no member heard of a join');
  t.equal(since(visitor, visitorFrom, 'room_joined').length, 0);
  t.equal(since(visitor, visitorFrom, 'room_left').length, 0);
  t.equal(realAcks(visitor, visitorFrom).length, 0);
});

// ---------------------------------------------------------------------------------------------
// agent-room
// ---------------------------------------------------------------------------------------------

t.test(
  'a visitor joining agent-room is forbidden and hears nothing from it afterwards',
  async (t) => {
    const srv = await buildServer(t);
    const agent = await connectAgent(t, srv);
    const visitor = await connectVisitor(t, srv);
    const agentFrom = agent.received.length;
    const visitorFrom = visitor.received.length;

    t.equal(await code(visitor, join('agent-room')), 'forbidden');
    visitor.send(join('agent-room'));
    const err = await visitor.next('error', 3000, (e) => e.id === undefined);
    t.equal(err.code, 'forbidden', 'forbidden without an id too');
    t.equal(await code(visitor, leave('agent-room')), 'not_found', 'it is not a member');
    await flush(agent);
    t.equal(since(agent, agentFrom, 'user_joined').length, 0, 'agent-room heard of no join');

    // A call queued by another visitor: agent-room gets the queue, the refused visitor does not.
    const caller = await connectVisitor(t, srv, { sub: 'visitor-2' });
    await ok(caller, { type: 'call_request', callType: 'audio' });
    await agent.next('queue_updated', 3000, (q) => q.calls.length === 1);

    // Another agent arrives: agent-room members hear of it, the refused visitor does not.
    const second = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
    const joined = await agent.next('user_joined', 3000, (m) => m.user.id === 'agent-2');
    t.strictSame(joined, {
      type: 'user_joined',
      roomId: 'agent-room',
      user: { id: 'agent-2', role: 'agent', name: 'Bob Agent' },
    });
    await flush(second, agent, visitor);
    t.equal(since(visitor, visitorFrom, 'queue_updated').length, 0, 'no queue_updated');
    t.equal(since(visitor, visitorFrom, 'user_joined').length, 0, 'no user_joined');
    t.equal(since(visitor, visitorFrom, 'room_joined').length, 0, 'no room_joined');
  },
);

// ---------------------------------------------------------------------------------------------
// Announcements to other members
// ---------------------------------------------------------------------------------------------

t.test(
  'the other members of a room get user_joined and user_left, the joiner does not',
  async (t) => {
    const srv = await buildServer(t);
    const agent = await connectAgent(t, srv);
    await ok(agent, join('lobby'));
    const visitor = await connectVisitor(t, srv);
    const visitorFrom = visitor.received.length;

    await ok(visitor, join('lobby'));
    t.strictSame(await agent.next('user_joined', 3000, (m) => m.roomId === 'lobby'), {
      type: 'user_joined',
      roomId: 'lobby',
      user: { id: 'visitor-1', role: 'visitor', name: 'Victor Visitor' },
    });

    const admin = await connect(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada Admin' });
    await ok(admin, join('lobby'));
    const adminJoined = {
      type: 'user_joined',
      roomId: 'lobby',
      user: { id: 'admin-1', role: 'admin', name: 'Ada Admin' },
    };
    t.strictSame(await visitor.next('user_joined', 3000, (m) => m.roomId === 'lobby'), adminJoined);
    t.strictSame(await agent.next('user_joined', 3000, (m) => m.roomId === 'lobby'), adminJoined);

    await ok(visitor, leave('lobby'));
    const left = { type: 'user_left', roomId: 'lobby', userId: 'visitor-1' };
    t.strictSame(await agent.next('user_left', 3000, (m) => m.roomId === 'lobby'), left);
    t.strictSame(await admin.next('user_left', 3000, (m) => m.roomId === 'lobby'), left);

    await flush(agent, admin, visitor);
    const self = since(visitor, visitorFrom, 'user_joined').filter(
      (m) => m.user.id === 'visitor-1',
    );
    t.equal(self.length, 0, 'the joiner is not told of itself');
    t.equal(since(visitor, visitorFrom, 'user_left').length, 0, 'the leaver is not told of itself');

    // Once out, the visitor no longer hears about the room.
    const afterLeave = visitor.received.length;
    const late = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
    await ok(late, join('lobby'));
    await agent.next('user_joined', 3000, (m) => m.user.id === 'agent-2' && m.roomId === 'lobby');
    await flush(visitor);
    t.equal(since(visitor, afterLeave, 'user_joined').length, 0);
  },
);

t.test('the same room name in two companies is two rooms', async (t) => {
  const srv = await buildServer(t);
  // Same user ids in both companies: only the company tells them apart.
  const acmeAgent = await connectAgent(t, srv, { company_id: 'acme' });
  const acmeVisitor = await connectVisitor(t, srv, { company_id: 'acme' });
  await ok(acmeAgent, join('lobby'));
  await ok(acmeVisitor, join('lobby'));
  await acmeAgent.next('user_joined', 3000, (m) => m.roomId === 'lobby');
  const acmeFrom = [acmeAgent.received.length, acmeVisitor.received.length] as const;

  const globexAgent = await connectAgent(t, srv, { company_id: 'globex', name: 'Gina Globex' });
  await ok(globexAgent, join('lobby'));
  const globexVisitor = await connectVisitor(t, srv, {
    company_id: 'globex',
    name: 'Gus Globex',
  });
  await ok(globexVisitor, join('lobby'));
  // Globex members see each other...
  t.strictSame(await globexAgent.next('user_joined', 3000, (m) => m.roomId === 'lobby'), {
    type: 'user_joined',
    roomId: 'lobby',
    user: { id: 'visitor-1', role: 'visitor', name: 'Gus Globex' },
  });
  await ok(globexVisitor, leave('lobby'));
  await globexAgent.next('user_left', 3000, (m) => m.roomId === 'lobby');
  await ok(globexVisitor, join('lobby'));
  await globexAgent.next('user_joined', 3000, (m) => m.roomId === 'lobby');
  await globexVisitor.close();
  await globexAgent.next('user_left', 3000, (m) => m.roomId === 'lobby');
  await ok(globexAgent, leave('lobby'));

  // ...and Acme's members of "lobby" heard none of it.
  await flush(acmeAgent, acmeVisitor);
  for (const [i, c] of [acmeAgent, acmeVisitor].entries()) {
    for (const type of ['user_joined', 'user_left', 'agent_status_changed'] as const) {
      t.equal(since(c, acmeFrom[i]!, type).length, 0, `acme client ${i} got no ${type}`);
    }
  }
  // Nor did Globex hear of Acme: its agent's lobby saw only its own visitor.
  const globexLobby = globexAgent.all('user_joined').filter((m) => m.roomId === 'lobby');
  t.ok(globexLobby.every((m) => m.user.name === 'Gus Globex'));

  // Acme's room still works after Globex's came and went.
  await ok(acmeVisitor, leave('lobby'));
  t.equal(
    (await acmeAgent.next('user_left', 3000, (m) => m.roomId === 'lobby')).userId,
    'visitor-1',
  );
});

// ---------------------------------------------------------------------------------------------
// public-calls privacy
// ---------------------------------------------------------------------------------------------

t.test('visitors in public-calls are never told of each other', async (t) => {
  const srv = await buildServer(t);
  // An agent in public-calls gives a positive signal that each event happened.
  const agent = await connectAgent(t, srv);
  await ok(agent, join('public-calls'));
  const first = await connectVisitor(t, srv);
  await agent.next('user_joined', 3000, (m) => m.user.id === 'visitor-1');
  const firstFrom = first.received.length;

  const second = await connectVisitor(t, srv, { sub: 'visitor-2', name: 'Second' });
  await agent.next('user_joined', 3000, (m) => m.user.id === 'visitor-2');
  const secondFrom = 1; // everything after connection_established

  // Explicit leave and join of public-calls.
  await ok(second, leave('public-calls'));
  await agent.next('user_left', 3000, (m) => m.userId === 'visitor-2');
  await ok(second, join('public-calls'));
  await agent.next('user_joined', 3000, (m) => m.user.id === 'visitor-2');
  // The first one leaves and comes back too, while the second watches.
  await ok(first, leave('public-calls'));
  await agent.next('user_left', 3000, (m) => m.userId === 'visitor-1');
  await ok(first, join('public-calls'));
  await agent.next('user_joined', 3000, (m) => m.user.id === 'visitor-1');
  // And the second disconnects.
  await second.close();
  await agent.next('user_left', 3000, (m) => m.userId === 'visitor-2');

  await flush(first);
  for (const type of ['user_joined', 'user_left'] as const) {
    t.equal(since(first, firstFrom, type).length, 0, `the first visitor got no ${type}`);
    t.equal(since(second, secondFrom, type).length, 0, `the second visitor got no ${type}`);
  }
});

t.test('an agent that joins public-calls sees visitors arrive and leave', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  await ok(agent, join('public-calls'));
  const visitor = await connectVisitor(t, srv);
  t.strictSame(await agent.next('user_joined', 3000, (m) => m.roomId === 'public-calls'), {
    type: 'user_joined',
    roomId: 'public-calls',
    user: { id: 'visitor-1', role: 'visitor', name: 'Victor Visitor' },
  });
  await visitor.close();
  t.strictSame(await agent.next('user_left', 3000, (m) => m.roomId === 'public-calls'), {
    type: 'user_left',
    roomId: 'public-calls',
    userId: 'visitor-1',
  });
});

t.test('an agent that stays in agent-room only is not told of visitors', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  const from = agent.received.length;
  const visitor = await connectVisitor(t, srv);
  await visitor.close();
  const other = await connectVisitor(t, srv, { sub: 'visitor-2' });
  await flush(other, agent);
  t.equal(since(agent, from, 'user_joined').length, 0);
  t.equal(since(agent, from, 'user_left').length, 0);
});

t.test(
  'visitors in a named room are never told of each other, staff there see them all',
  async (t) => {
    const srv = await buildServer(t);
    const agent = await connectAgent(t, srv);
    await ok(agent, join('support'));
    const visitors: TestClient[] = [];
    for (const sub of ['visitor-1', 'visitor-2', 'visitor-3']) {
      const visitor = await connectVisitor(t, srv, { sub, name: `Name of ${sub}` });
      await ok(visitor, join('support'));
      // The agent's user_joined is the positive signal that the join was announced.
      t.strictSame(await agent.next('user_joined', 3000, (m) => m.roomId === 'support'), {
        type: 'user_joined',
        roomId: 'support',
        user: { id: sub, role: 'visitor', name: `Name of ${sub}` },
      });
      visitors.push(visitor);
    }
    const [first, second, third] = visitors as [TestClient, TestClient, TestClient];

    // Visitors still hear of staff arriving and leaving.
    const admin = await connect(t, srv, { sub: 'admin-1', role: 'admin', name: 'Ada Admin' });
    await ok(admin, join('support'));
    for (const visitor of visitors) {
      t.strictSame(await visitor.next('user_joined', 3000, (m) => m.roomId === 'support'), {
        type: 'user_joined',
        roomId: 'support',
        user: { id: 'admin-1', role: 'admin', name: 'Ada Admin' },
      });
    }

    // A leave, a re-join and a disconnect: staff hear of each, no visitor does.
    await ok(second, leave('support'));
    t.equal(
      (await agent.next('user_left', 3000, (m) => m.roomId === 'support')).userId,
      'visitor-2',
    );
    t.equal(
      (await admin.next('user_left', 3000, (m) => m.roomId === 'support')).userId,
      'visitor-2',
    );
    await ok(second, join('support'));
    await agent.next('user_joined', 3000, (m) => m.user.id === 'visitor-2');
    await third.close();
    await agent.next('user_left', 3000, (m) => m.userId === 'visitor-3');
    await admin.close();
    await first.next('user_left', 3000, (m) => m.userId === 'admin-1');
    await second.next('user_left', 3000, (m) => m.userId === 'admin-1');

    await flush(agent, first, second);
    for (const [i, visitor] of visitors.entries()) {
      const told = [
        ...visitor.all('user_joined').map((m) => m.user.id),
        ...visitor.all('user_left').map((m) => m.userId),
      ];
      t.strictSame(
        told.filter((id) => id.startsWith('visitor-')),
        [],
        `visitor ${i + 1} learnt no other visitor's id`,
      );
      // Its own id and name come back in connection_established; nobody else's, anywhere.
      // (Each visitor's name holds its id.)
      const seen = visitor.received.flatMap((m) => JSON.stringify(m).match(/visitor-\d/g) ?? []);
      t.strictSame(
        [...new Set(seen)],
        [`visitor-${i + 1}`],
        `visitor ${i + 1} saw no other visitor's id or name in any frame`,
      );
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Errors and limits
// ---------------------------------------------------------------------------------------------

t.test('leaving a room you are not in gets not_found', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  await ok(agent, join('lobby'));
  const visitor = await connectVisitor(t, srv);
  const agentFrom = agent.received.length;

  t.equal(await code(visitor, leave('lobby')), 'not_found', 'a room others are in');
  t.equal(await code(visitor, leave('nowhere')), 'not_found', 'a room no one is in');
  await ok(visitor, join('support'));
  await ok(visitor, leave('support'));
  t.equal(await code(visitor, leave('support')), 'not_found', 'a room already left');
  visitor.send(leave('lobby'));
  const err = await visitor.next('error', 3000, (e) => e.id === undefined);
  t.equal(err.code, 'not_found', 'not_found without an id too');

  await flush(agent, visitor);
  t.equal(since(agent, agentFrom, 'user_left').length, 0, 'the members heard nothing');
});

t.test('joining a room twice is idempotent', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  await ok(agent, join('lobby'));
  const visitor = await connectVisitor(t, srv);
  const agentFrom = agent.received.length;
  const visitorFrom = visitor.received.length;

  t.strictSame(await ok(visitor, { ...join('lobby'), id: 'first' }), {
    type: 'ack',
    id: 'first',
    roomId: 'lobby',
  });
  t.strictSame(await ok(visitor, { ...join('lobby'), id: 'second' }), {
    type: 'ack',
    id: 'second',
    roomId: 'lobby',
  });
  // The starting room, too.
  t.strictSame(await ok(visitor, { ...join('public-calls'), id: 'third' }), {
    type: 'ack',
    id: 'third',
    roomId: 'public-calls',
  });
  await flush(agent, visitor);
  const acks = realAcks(visitor, visitorFrom).map((a) => a.id);
  t.strictSame(acks, ['first', 'second', 'third'], 'each request acked exactly once');
  t.equal(since(visitor, visitorFrom, 'room_joined').length, 1, 'one room_joined');
  t.equal(since(agent, agentFrom, 'user_joined').length, 1, 'one user_joined to the others');

  // One leave is enough to be out.
  await ok(visitor, leave('lobby'));
  t.equal(await code(visitor, leave('lobby')), 'not_found');
});

t.test('a connection may be in at most 32 rooms', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  await ok(agent, join('r32'));
  const visitor = await connectVisitor(t, srv);
  const agentFrom = agent.received.length;
  const visitorFrom = visitor.received.length;

  // public-calls is the first of the 32.
  for (let i = 1; i <= 31; i++) await ok(visitor, join(`r${i}`));
  t.equal(await code(visitor, join('r32')), 'forbidden', 'the 33rd room is refused');
  t.equal(await code(visitor, leave('r32')), 'not_found', 'and was not joined');
  await flush(agent, visitor);
  t.equal(since(agent, agentFrom, 'user_joined').length, 0, 'its members heard nothing');
  t.equal(since(visitor, visitorFrom, 'room_joined').length, 31);

  // Re-joining a room it is in is still fine at the limit.
  t.equal(await code(visitor, join('r1')), 'ack');
  // Leaving one makes room for another.
  await ok(visitor, leave('r1'));
  await ok(visitor, join('r32'));
  t.equal((await agent.next('user_joined', 3000, (m) => m.roomId === 'r32')).user.id, 'visitor-1');
});

t.test('disconnecting announces user_left to the other members of each room', async (t) => {
  const srv = await buildServer(t);
  const agent = await connectAgent(t, srv);
  for (const roomId of ['public-calls', 'lobby', 'support']) await ok(agent, join(roomId));
  const second = await connectAgent(t, srv, { sub: 'agent-2', name: 'Bob Agent' });
  await ok(second, join('lobby'));
  const bystander = await connectVisitor(t, srv, { sub: 'visitor-2' });
  await ok(bystander, join('lobby'));
  const leaving = await connectVisitor(t, srv);
  for (const roomId of ['lobby', 'support']) await ok(leaving, join(roomId));
  await flush(agent, second, bystander);
  const from = [agent, second, bystander].map((c) => c.received.length);

  await leaving.close();
  const roomsLeft = async (c: TestClient, n: number) => {
    const got: string[] = [];
    for (let i = 0; i < n; i++) {
      got.push((await c.next('user_left', 3000, (m) => m.userId === 'visitor-1')).roomId);
    }
    return got.sort();
  };
  t.strictSame(await roomsLeft(agent, 3), ['lobby', 'public-calls', 'support']);
  t.strictSame(await roomsLeft(second, 1), ['lobby']);
  await flush(agent, second, bystander);
  t.equal(since(agent, from[0]!, 'user_left').length, 3, 'once per room');
  t.equal(since(second, from[1]!, 'user_left').length, 1);
  t.equal(since(bystander, from[2]!, 'user_left').length, 0, 'a fellow visitor is told nothing');

  // An agent leaving announces agent-room and its named rooms.
  await second.close();
  const agentLeft: string[] = [];
  for (let i = 0; i < 2; i++) {
    agentLeft.push((await agent.next('user_left', 3000, (m) => m.userId === 'agent-2')).roomId);
  }
  t.strictSame(agentLeft.sort(), ['agent-room', 'lobby']);
  t.strictSame(
    (await bystander.next('user_left', 3000, (m) => m.userId === 'agent-2')).roomId,
    'lobby',
  );
});

// ---------------------------------------------------------------------------------------------
// Metrics
// ---------------------------------------------------------------------------------------------

t.test('the calldocker_rooms gauge counts rooms with members', async (t) => {
  const srv = await buildServer(t);
  t.equal(await rooms(srv), 0, 'no rooms on a fresh server');

  const visitor = await connectVisitor(t, srv);
  await flush(visitor);
  t.equal(await rooms(srv), 1, 'public-calls');
  await ok(visitor, join('lobby'));
  await ok(visitor, join('support'));
  t.equal(await rooms(srv), 3);

  const agent = await connectAgent(t, srv);
  await flush(agent);
  t.equal(await rooms(srv), 4, 'agent-room');
  await ok(agent, join('lobby'));
  t.equal(await rooms(srv), 4, 'a second member adds no room');

  // The same name in another company is another room.
  const other = await connectVisitor(t, srv, { company_id: 'globex' });
  await ok(other, join('lobby'));
  t.equal(await rooms(srv), 6);
  await other.close();
  await until(async () => (await rooms(srv)) === 4);

  await ok(visitor, leave('support'));
  t.equal(await rooms(srv), 3);
  await visitor.close();
  await until(async () => (await rooms(srv)) === 2);
  t.pass('public-calls gone with its last member, lobby kept by the agent');
  await agent.close();
  await until(async () => (await rooms(srv)) === 0);
  t.pass('back to zero');
});

t.test("a user's second connection in a room is not announced again", async (t) => {
  const srv = await buildServer(t);
  const watcher = await connectAgent(t, srv, { sub: 'agent-w', name: 'Watcher' });
  const firstTab = await connectAgent(t, srv, { sub: 'agent-2', name: 'Two' });
  await watcher.next('user_joined', 3000, (m) => m.user.id === 'agent-2');
  const mark = watcher.received.length;
  const firstMark = firstTab.received.length;
  const secondTab = await connectAgent(t, srv, { sub: 'agent-2', name: 'Two' });
  await flush(watcher, firstTab, secondTab);
  t.same(since(watcher, mark, 'user_joined'), [], 'others hear of the user once');
  t.same(since(firstTab, firstMark, 'user_joined'), [], 'the first tab is not told of itself');

  await secondTab.close();
  await flush(watcher, firstTab);
  t.same(since(watcher, mark, 'user_left'), [], 'the user is still there through its first tab');
  await firstTab.close();
  const left = await watcher.next('user_left', 3000, (m) => m.userId === 'agent-2');
  t.same(left, { type: 'user_left', roomId: 'agent-room', userId: 'agent-2' });
});
