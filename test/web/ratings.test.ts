/**
 * `POST /api/calls/:callId/rating`: a visitor rates its own answered call once, within 24 hours
 * of its end; every refusal has its code and stores nothing. Ratings then show in
 * `GET /api/calls` and `GET /api/calls/stats`, and survive a late call-log row.
 */
import t from 'tap';
import { upsertCall } from '../../db/calls.js';
import type { Database } from '../../db/database.js';
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
  type CallSpec,
  type Teardown,
} from './helpers.js';

const template = databaseTemplate(async (database) => {
  const [alice, ada] = await seedCompany(database, 'acme', [
    { email: 'alice@example.test', name: 'Alice Agent' },
    { email: 'ada@example.test', name: 'Ada Admin', role: 'admin' },
  ]);
  const [gAlice] = await seedCompany(database, 'globex', [
    { email: 'alice@example.test', name: 'Alice of Globex' },
  ]);
  return { alice: alice!, ada: ada!, gAlice: gAlice! };
});

const HOUR = 3_600_000;
const VERA = { id: 'v_vera', name: 'Vera' };

async function setup(t: Teardown, now?: () => number) {
  const { path, seeded } = await template();
  const database = await openTestDatabase(t, path);
  const { app } = await buildTestApp(t, { database, now });
  return { app, database, ...seeded };
}

type Setup = Awaited<ReturnType<typeof setup>>;

/** A token of visitor `id` of `company`. */
const visitorToken = (id = VERA.id, company = 'acme') =>
  tokenFor({ sub: id, role: 'visitor', company_id: company, name: 'Vera' });

/** An answered call of Vera's with Alice that ended `endedAgoMs` before now (default 1 min). */
function answered(s: Setup, endedAgoMs = 60_000, extra: Partial<CallSpec> = {}) {
  return insertCall(s.database, {
    companyId: 'acme',
    createdAt: Date.now() - endedAgoMs - 100_000,
    state: 'ended',
    agent: s.alice,
    answeredAfterS: 10,
    endedAfterS: 100,
    endReason: 'hangup',
    visitor: VERA,
    ...extra,
  });
}

function rate(s: Setup, callId: string, payload: unknown, token: string | null = visitorToken()) {
  return s.app.inject({
    method: 'POST',
    url: `/api/calls/${callId}/rating`,
    headers: token === null ? {} : bearer(token),
    payload: payload as Record<string, unknown>,
  });
}

async function ratingOf(database: Database, callId: string) {
  return database.db
    .selectFrom('calls')
    .select(['rating', 'rating_comment', 'rated_at'])
    .where('id', '=', callId)
    .executeTakeFirstOrThrow();
}

const UNRATED = { rating: null, rating_comment: null, rated_at: null };

t.test('a visitor rates its answered call and gets the stored rating back', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  const before = Date.now();
  const res = await rate(s, callId, { stars: 4, comment: '  Very helpful, thanks!  ' });
  t.equal(res.statusCode, 201);
  const body = res.json() as Record<string, unknown>;
  t.same(Object.keys(body).sort(), ['callId', 'comment', 'ratedAt', 'stars']);
  t.match(body, { callId, stars: 4, comment: 'Very helpful, thanks!' }, 'the comment is trimmed');
  t.ok(Date.parse(body['ratedAt'] as string) >= before - 1000);

  const list = await s.app.inject({
    method: 'GET',
    url: '/api/calls',
    headers: bearer(tokenOf(s.ada)),
  });
  t.match(list.json().calls[0], { id: callId, rating: 4, ratingComment: 'Very helpful, thanks!' });
});

t.test('a blank comment, or none, is stored as no comment', async (t) => {
  const s = await setup(t);
  const blank = await answered(s);
  const none = await answered(s, 120_000);
  t.match((await rate(s, blank, { stars: 5, comment: '   ' })).json(), { comment: null });
  t.match((await rate(s, none, { stars: 1 })).json(), { comment: null });
  t.match(await ratingOf(s.database, blank), { rating: 5, rating_comment: null });
});

t.test('a comment is normalised: no hidden or bidi-control characters, one line', async (t) => {
  const s = await setup(t);
  const tricky = await answered(s);
  const invisible = await answered(s, 120_000);
  const comment = 'Great\u202E gnp.exe\u200B help,\n\n  thanks\u0000!';
  t.match((await rate(s, tricky, { stars: 5, comment })).json(), {
    comment: 'Great gnp.exe help, thanks!',
  });
  t.match(await ratingOf(s.database, tricky), { rating_comment: 'Great gnp.exe help, thanks!' });
  const hidden = '\u200B\u202E\u2060 \u00AD';
  t.match((await rate(s, invisible, { stars: 3, comment: hidden })).json(), { comment: null });
  t.match(await ratingOf(s.database, invisible), { rating: 3, rating_comment: null });
});

t.test('calls not yet rated show null rating fields in GET /api/calls', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  const list = await s.app.inject({
    method: 'GET',
    url: '/api/calls',
    headers: bearer(tokenOf(s.ada)),
  });
  t.match(list.json().calls[0], { id: callId, rating: null, ratingComment: null });
});

t.test('agents and admins may not rate calls: 403 forbidden', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  for (const token of [tokenOf(s.alice), tokenOf(s.ada)]) {
    const res = await rate(s, callId, { stars: 5 }, token);
    t.equal(res.statusCode, 403);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'forbidden' });
  }
  t.same(await ratingOf(s.database, callId), UNRATED);
});

t.test('a rating without a token is 401 unauthorized', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  const res = await rate(s, callId, { stars: 5 }, null);
  t.equal(res.statusCode, 401);
  t.equal(errorOf(res.body).error, 'unauthorized');
  t.same(await ratingOf(s.database, callId), UNRATED);
});

t.test(
  "unknown calls, another visitor's and another company's all answer 404 not_found",
  async (t) => {
    const s = await setup(t);
    const mine = await answered(s);
    const globexCall = await insertCall(s.database, {
      companyId: 'globex',
      createdAt: Date.now() - 200_000,
      state: 'ended',
      agent: s.gAlice,
      answeredAfterS: 10,
      endedAfterS: 100,
      visitor: VERA,
    });
    const cases = [
      { name: 'an unknown call', callId: '0190c0de-0000-7000-8000-000000000000' },
      { name: "another visitor's call", callId: mine, token: visitorToken('v_other') },
      { name: "another company's call (same visitor id)", callId: globexCall },
    ];
    for (const c of cases) {
      const res = await rate(s, c.callId, { stars: 3 }, c.token ?? visitorToken());
      t.equal(res.statusCode, 404, c.name);
      t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'not_found' }, c.name);
    }
    t.same(await ratingOf(s.database, mine), UNRATED);
    t.same(await ratingOf(s.database, globexCall), UNRATED);
  },
);

t.test('a call still queued, ringing or answered is 409 call_not_ended', async (t) => {
  const s = await setup(t);
  const now = Date.now();
  const calls = [
    await insertCall(s.database, {
      companyId: 'acme',
      createdAt: now,
      state: 'queued',
      visitor: VERA,
    }),
    await insertCall(s.database, {
      companyId: 'acme',
      createdAt: now + 1,
      state: 'ringing',
      target: s.alice,
      visitor: VERA,
    }),
    await insertCall(s.database, {
      companyId: 'acme',
      createdAt: now + 2,
      state: 'answered',
      agent: s.alice,
      answeredAfterS: 1,
      visitor: VERA,
    }),
  ];
  for (const callId of calls) {
    const res = await rate(s, callId, { stars: 5 });
    t.equal(res.statusCode, 409);
    t.equal(errorOf(res.body).error, 'call_not_ended');
    t.same(await ratingOf(s.database, callId), UNRATED);
  }
});

t.test('a call that ended without an answer is 409 call_not_rateable', async (t) => {
  const s = await setup(t);
  const now = Date.now() - 60_000;
  for (const state of ['missed', 'declined', 'abandoned', 'failed'] as const) {
    const callId = await insertCall(s.database, {
      companyId: 'acme',
      createdAt: now,
      state,
      endedAfterS: 30,
      visitor: VERA,
    });
    const res = await rate(s, callId, { stars: 2 });
    t.equal(res.statusCode, 409, state);
    t.equal(errorOf(res.body).error, 'call_not_rateable', state);
    t.same(await ratingOf(s.database, callId), UNRATED);
  }
});

t.test('a second rating is 409 already_rated and the first one stays', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  t.equal((await rate(s, callId, { stars: 2, comment: 'meh' })).statusCode, 201);
  const stored = await ratingOf(s.database, callId);
  const res = await rate(s, callId, { stars: 5, comment: 'changed my mind' });
  t.equal(res.statusCode, 409);
  t.equal(errorOf(res.body).error, 'already_rated');
  t.same(await ratingOf(s.database, callId), stored);
});

t.test(
  'a call may be rated for 24 hours after it ended, then 409 rating_window_closed',
  async (t) => {
    const clock = { ms: Date.now() };
    const s = await setup(t, () => clock.ms);
    const early = await answered(s, 0);
    const late = await answered(s, 0, { visitor: { id: 'v_late', name: 'Lee' } });
    const endedAt = async (callId: string) =>
      (
        await s.database.db
          .selectFrom('calls')
          .select('ended_at')
          .where('id', '=', callId)
          .executeTakeFirstOrThrow()
      ).ended_at!;

    clock.ms = (await endedAt(early)) + 24 * HOUR;
    t.equal((await rate(s, early, { stars: 3 })).statusCode, 201, 'exactly 24 h after is fine');
    clock.ms = (await endedAt(late)) + 24 * HOUR + 1;
    const res = await rate(s, late, { stars: 3 }, visitorToken('v_late'));
    t.equal(res.statusCode, 409);
    t.equal(errorOf(res.body).error, 'rating_window_closed');
    t.same(await ratingOf(s.database, late), UNRATED);
  },
);

t.test('malformed ratings are 400 bad_request and store nothing', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  const cases: Array<[string, unknown]> = [
    ['0 stars', { stars: 0 }],
    ['6 stars', { stars: 6 }],
    ['2.5 stars', { stars: 2.5 }],
    ['stars as a string', { stars: '5' }],
    ['no stars', { comment: 'great' }],
    ['a 10 KB comment', { stars: 5, comment: 'x'.repeat(10 * 1024) }],
    ['a comment of 1001 characters', { stars: 5, comment: 'x'.repeat(1001) }],
    ['a comment that is not text', { stars: 5, comment: 42 }],
    ['an extra field', { stars: 5, agentId: 'someone' }],
  ];
  for (const [name, payload] of cases) {
    const res = await rate(s, callId, payload);
    t.equal(res.statusCode, 400, name);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'bad_request' }, name);
  }
  t.same(await ratingOf(s.database, callId), UNRATED);
  t.equal((await rate(s, callId, { stars: 5, comment: 'x'.repeat(1000) })).statusCode, 201);
});

t.test('a late call-log row of a rated call leaves its rating alone', async (t) => {
  const s = await setup(t);
  const callId = await answered(s);
  t.equal((await rate(s, callId, { stars: 4, comment: 'good' })).statusCode, 201);
  const row = await s.database.db
    .selectFrom('calls')
    .selectAll()
    .where('id', '=', callId)
    .executeTakeFirstOrThrow();
  const { rating, rating_comment, rated_at, ...logged } = row;
  await upsertCall(s.database.db, { ...logged, updated_at: logged.updated_at + 1 });
  t.same(await ratingOf(s.database, callId), { rating, rating_comment, rated_at });
  t.equal(rating, 4);
});

t.test('the stats count rated calls and average their stars', async (t) => {
  const s = await setup(t);
  const stats = async () =>
    (
      await s.app.inject({
        method: 'GET',
        url: '/api/calls/stats',
        headers: bearer(tokenOf(s.ada)),
      })
    ).json() as Record<string, unknown>;
  const a = await answered(s);
  const b = await answered(s, 120_000, { visitor: { id: 'v_b', name: 'B' } });
  const c = await answered(s, 180_000, { visitor: { id: 'v_c', name: 'C' } });
  t.match(await stats(), { offered: 3, rated: 0, averageRating: 0 }, 'none rated yet');
  await rate(s, a, { stars: 5 });
  await rate(s, b, { stars: 4 }, visitorToken('v_b'));
  await rate(s, c, { stars: 4 }, visitorToken('v_c'));
  t.match(await stats(), { rated: 3, averageRating: 4.33 }, 'to two decimals');
});
