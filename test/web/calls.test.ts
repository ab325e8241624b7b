import t from 'tap';
import {
  bearer,
  buildTestApp,
  databaseTemplate,
  errorOf,
  insertCall,
  openTestDatabase,
  seedCompany,
  tokenFor,
  tokenOf,
  type Teardown,
} from './helpers.js';

const PEOPLE = [
  { email: 'alice@example.test', name: 'Alice Agent' },
  { email: 'bob@example.test', name: 'Bob Agent' },
  { email: 'ada@example.test', name: 'Ada Admin', role: 'admin' as const },
];

// Two companies with the same emails: nothing but the company tells their people apart.
const template = databaseTemplate(async (database) => {
  const [alice, bob, ada] = await seedCompany(database, 'acme', PEOPLE);
  const [gAlice, gBob, gAda] = await seedCompany(database, 'globex', PEOPLE);
  return {
    acme: { alice: alice!, bob: bob!, ada: ada! },
    globex: { alice: gAlice!, bob: gBob!, ada: gAda! },
  };
});

const T0 = Date.parse('2024-03-01T09:00:00.000Z');
const MIN = 60_000;

async function setup(t: Teardown) {
  const { path, seeded } = await template();
  const database = await openTestDatabase(t, path);
  const { app } = await buildTestApp(t, { database });
  return { app, database, ...seeded };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/**
 * Six acme calls and four globex calls, interleaved in time:
 * acme: a1 Alice answered (direct), a2 Bob answered (queued), a3 missed ringing Alice,
 * a4 abandoned in the queue, a5 declined by Bob, a6 Alice answering now;
 * globex: g1..g4 mirroring a1, a2, a3, a4 with globex's own Alice and Bob.
 */
async function seedCalls({ database, acme, globex }: Setup) {
  const a1 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0,
    state: 'ended',
    target: acme.alice,
    agent: acme.alice,
    answeredAfterS: 4,
    endedAfterS: 94,
    endReason: 'hangup',
    visitor: { id: 'v_one', name: 'Vera' },
    callType: 'video',
    purpose: 'sales',
  });
  const g1 = await insertCall(database, {
    companyId: 'globex',
    createdAt: T0 + 1,
    state: 'ended',
    target: globex.alice,
    agent: globex.alice,
    answeredAfterS: 2,
    endedAfterS: 12,
  });
  const a2 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 + 10 * MIN,
    state: 'ended',
    agent: acme.bob,
    answeredAfterS: 30,
    endedAfterS: 90,
  });
  const g2 = await insertCall(database, {
    companyId: 'globex',
    createdAt: T0 + 10 * MIN + 1,
    state: 'ended',
    agent: globex.bob,
    answeredAfterS: 3,
    endedAfterS: 5,
  });
  const a3 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 + 20 * MIN,
    state: 'missed',
    target: acme.alice,
    endedAfterS: 30,
    endReason: 'timeout',
  });
  const g3 = await insertCall(database, {
    companyId: 'globex',
    createdAt: T0 + 20 * MIN + 1,
    state: 'missed',
    target: globex.alice,
    endedAfterS: 30,
  });
  const a4 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 + 30 * MIN,
    state: 'abandoned',
    endedAfterS: 45,
    endReason: 'visitor_left',
  });
  const g4 = await insertCall(database, {
    companyId: 'globex',
    createdAt: T0 + 30 * MIN + 1,
    state: 'abandoned',
    endedAfterS: 5,
  });
  const a5 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 + 40 * MIN,
    state: 'declined',
    target: acme.bob,
    endedAfterS: 3,
  });
  const a6 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 + 50 * MIN,
    state: 'answered',
    target: acme.alice,
    agent: acme.alice,
    answeredAfterS: 6,
  });
  return { a1, a2, a3, a4, a5, a6, g1, g2, g3, g4 };
}

type App = Setup['app'];

async function list(app: App, token: string, query = '') {
  const res = await app.inject({
    method: 'GET',
    url: `/api/calls${query}`,
    headers: bearer(token),
  });
  return res;
}

const ids = (body: { calls: Array<{ id: string }> }) => body.calls.map((c) => c.id);

t.test('an admin lists its company calls newest first, each call in full', async (t) => {
  const s = await setup(t);
  const c = await seedCalls(s);
  const res = await list(s.app, tokenOf(s.acme.ada));
  t.equal(res.statusCode, 200);
  const body = res.json();
  t.same(ids(body), [c.a6, c.a5, c.a4, c.a3, c.a2, c.a1]);
  t.equal(body.nextCursor, null);
  t.same(body.calls[5], {
    id: c.a1,
    visitor: { id: 'v_one', name: 'Vera' },
    agent: { id: s.acme.alice.id, name: 'Alice Agent' },
    targetAgentId: s.acme.alice.id,
    callType: 'video',
    purpose: 'sales',
    state: 'ended',
    endReason: 'hangup',
    createdAt: '2024-03-01T09:00:00.000Z',
    queuedAt: null,
    ringingAt: '2024-03-01T09:00:00.000Z',
    answeredAt: '2024-03-01T09:00:04.000Z',
    endedAt: '2024-03-01T09:01:34.000Z',
    durationSec: 90,
    rating: null,
    ratingComment: null,
  });
  t.same(body.calls[2], {
    id: c.a4,
    visitor: body.calls[2].visitor,
    agent: null,
    targetAgentId: null,
    callType: 'audio',
    purpose: null,
    state: 'abandoned',
    endReason: 'visitor_left',
    createdAt: '2024-03-01T09:30:00.000Z',
    queuedAt: '2024-03-01T09:30:00.000Z',
    ringingAt: null,
    answeredAt: null,
    endedAt: '2024-03-01T09:30:45.000Z',
    durationSec: null,
    rating: null,
    ratingComment: null,
  });
  t.equal(body.calls[0].durationSec, null, 'a call still answered has no duration yet');
  t.equal(body.calls[0].endedAt, null);
});

t.test('an agent sees only the calls it answered or that rang it', async (t) => {
  const s = await setup(t);
  const c = await seedCalls(s);
  const alice = await list(s.app, tokenOf(s.acme.alice));
  t.same(ids(alice.json()), [c.a6, c.a3, c.a1]);
  const bob = await list(s.app, tokenOf(s.acme.bob));
  t.same(ids(bob.json()), [c.a5, c.a2]);
  const own = await list(s.app, tokenOf(s.acme.bob), `?agentId=${s.acme.bob.id}`);
  t.equal(own.statusCode, 200, 'naming itself is fine');
  t.same(ids(own.json()), [c.a5, c.a2]);
});

t.test("an agent asking for another agent's calls gets 403 forbidden", async (t) => {
  const s = await setup(t);
  await seedCalls(s);
  for (const url of ['/api/calls', '/api/calls/stats']) {
    const res = await s.app.inject({
      method: 'GET',
      url: `${url}?agentId=${s.acme.alice.id}`,
      headers: bearer(tokenOf(s.acme.bob)),
    });
    t.equal(res.statusCode, 403, url);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'forbidden' }, url);
  }
});

t.test('an admin filters by agent, state and time range (to is exclusive)', async (t) => {
  const s = await setup(t);
  const c = await seedCalls(s);
  const admin = tokenOf(s.acme.ada);
  t.same(ids((await list(s.app, admin, `?agentId=${s.acme.alice.id}`)).json()), [c.a6, c.a3, c.a1]);
  t.same(ids((await list(s.app, admin, '?state=ended')).json()), [c.a2, c.a1]);
  t.same(ids((await list(s.app, admin, '?state=failed')).json()), []);
  t.same(ids((await list(s.app, admin, `?state=ended&agentId=${s.acme.bob.id}`)).json()), [c.a2]);
  const range = '?from=2024-03-01T09:10:00Z&to=2024-03-01T09:40:00Z';
  t.same(ids((await list(s.app, admin, range)).json()), [c.a4, c.a3, c.a2], 'to is exclusive');
  const offset = '?from=2024-03-01T10:10:00%2B01:00&to=2024-03-01T10:20:00.001%2B01:00';
  t.same(ids((await list(s.app, admin, offset)).json()), [c.a3, c.a2], 'offsets are honoured');
  t.same(ids((await list(s.app, admin, '?from=2024-03-01T09:50:00Z')).json()), [c.a6]);
  t.same(ids((await list(s.app, admin, '?to=2024-03-01T09:00:00.001Z')).json()), [c.a1]);
  t.same(ids((await list(s.app, admin, `?agentId=${s.globex.alice.id}`)).json()), [], 'no leak');
});

t.test(
  'nobody sees another company: same emails, the company comes only from the token',
  async (t) => {
    const s = await setup(t);
    const c = await seedCalls(s);
    const acmeIds = new Set([c.a1, c.a2, c.a3, c.a4, c.a5, c.a6]);
    const globexIds = [c.g4, c.g3, c.g2, c.g1];
    t.same(ids((await list(s.app, tokenOf(s.globex.ada))).json()), globexIds);
    t.same(ids((await list(s.app, tokenOf(s.globex.alice))).json()), [c.g3, c.g1]);

    // Tokens that mix one company's ids with the other's company claim see nothing of either.
    const crossed = [
      tokenFor({ sub: s.acme.alice.id, role: 'agent', company_id: 'globex' }),
      tokenFor({ sub: s.globex.alice.id, role: 'agent', company_id: 'acme' }),
    ];
    for (const token of crossed) t.same(ids((await list(s.app, token)).json()), []);
    const globexAdminOnAcmeAgent = await list(
      s.app,
      tokenOf(s.globex.ada),
      `?agentId=${s.acme.alice.id}`,
    );
    t.same(ids(globexAdminOnAcmeAgent.json()), [], "an admin naming another company's agent");

    // An acme cursor used by a globex admin pages through globex calls only.
    const page = await list(s.app, tokenOf(s.acme.ada), '?limit=1');
    const cursor = page.json().nextCursor as string;
    const crossPage = await list(s.app, tokenOf(s.globex.ada), `?cursor=${cursor}`);
    for (const id of ids(crossPage.json())) t.notOk(acmeIds.has(id), `no acme call ${id}`);
    t.same(ids(crossPage.json()), globexIds);

    // And the statistics: globex counts its own four calls.
    const stats = await s.app.inject({
      method: 'GET',
      url: '/api/calls/stats?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z',
      headers: bearer(tokenOf(s.globex.ada)),
    });
    t.equal(stats.json().offered, 4);
    const acmeStats = await s.app.inject({
      method: 'GET',
      url: '/api/calls/stats?from=2024-03-01T00:00:00Z&to=2024-03-02T00:00:00Z',
      headers: bearer(tokenOf(s.acme.ada)),
    });
    t.equal(acmeStats.json().offered, 6);
  },
);

t.test('pagination walks three pages with cursors, without duplicates or gaps', async (t) => {
  const s = await setup(t);
  const created: string[] = [];
  for (let i = 0; i < 7; i++) {
    created.push(
      await insertCall(s.database, {
        companyId: 'acme',
        createdAt: T0 + i * 1000,
        state: 'abandoned',
      }),
    );
    // Globex calls in between must neither appear nor take a place in a page.
    await insertCall(s.database, {
      companyId: 'globex',
      createdAt: T0 + i * 1000 + 1,
      state: 'ended',
    });
  }
  const admin = tokenOf(s.acme.ada);
  const pages: string[][] = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`;
    const res = await list(s.app, admin, query);
    t.equal(res.statusCode, 200);
    pages.push(ids(res.json()));
    cursor = res.json().nextCursor;
  } while (cursor !== null && pages.length < 5);
  t.same(
    pages.map((p) => p.length),
    [3, 3, 1],
  );
  const all = pages.flat();
  t.equal(new Set(all).size, all.length, 'no duplicates');
  t.same(all, [...created].reverse(), 'every call once, newest first');

  const exact = await list(s.app, admin, '?limit=7');
  t.equal(exact.json().nextCursor, null, 'no next page when the last one is full');
  t.equal(ids(exact.json()).length, 7);
  const paged = await list(s.app, admin, `?limit=2&state=abandoned&to=2024-03-01T09:00:05Z`);
  t.same(ids(paged.json()), [created[4], created[3]], 'filters and pages combine');

  const defaulted = await list(s.app, admin);
  t.equal(ids(defaulted.json()).length, 7, 'the default page (50) holds them all');
});

t.test(
  'the call routes refuse visitors (403) and requests without a valid token (401)',
  async (t) => {
    const s = await setup(t);
    const visitor = tokenFor({ sub: 'v_abc', role: 'visitor', company_id: 'acme' });
    for (const url of ['/api/calls', '/api/calls/stats']) {
      const v = await s.app.inject({ method: 'GET', url, headers: bearer(visitor) });
      t.equal(v.statusCode, 403, `${url} visitor`);
      t.equal(errorOf(v.body).error, 'forbidden');
      const none = await s.app.inject({ method: 'GET', url });
      t.equal(none.statusCode, 401, `${url} no token`);
      t.equal(errorOf(none.body).error, 'unauthorized');
      const expired = tokenFor({
        sub: s.acme.ada.id,
        role: 'admin',
        company_id: 'acme',
        exp: Math.floor(Date.now() / 1000) - 5,
      });
      const old = await s.app.inject({ method: 'GET', url, headers: bearer(expired) });
      t.equal(old.statusCode, 401, `${url} expired`);
      t.equal(errorOf(old.body).error, 'unauthorized');
    }
  },
);

t.test('bad query values get 400 bad_request', async (t) => {
  const s = await setup(t);
  const admin = tokenOf(s.acme.ada);
  const cases = [
    '?limit=0',
    '?limit=201',
    '?limit=abc',
    '?state=bogus',
    '?state=ended&state=missed',
    '?from=yesterday',
    '?from=2024-03-01',
    '?from=2024-02-30T00:00:00Z',
    '?from=2024-03-01T25:00:00Z',
    '?to=2024-03-01T09:00:00',
    '?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z',
    `?cursor=${'x'.repeat(65)}`,
    '?cursor=',
    '?agentId=',
    '?page=2',
  ];
  for (const query of cases) {
    const res = await list(s.app, admin, query);
    t.equal(res.statusCode, 400, query);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'bad_request' }, query);
  }
  t.equal((await list(s.app, admin, '?limit=200')).statusCode, 200, 'limit 200 is allowed');
  t.equal((await list(s.app, admin, '?limit=1')).statusCode, 200, 'limit 1 is allowed');
});
