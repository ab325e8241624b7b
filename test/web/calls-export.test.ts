/**
 * `GET /api/calls/export.csv`: the call log as RFC 4180 CSV, newest first, with the filters
 * and visibility of `GET /api/calls`, and cells that a spreadsheet would run as formulas
 * defused.
 */
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
} from './helpers.js';

const template = databaseTemplate(async (database) => {
  const [alice, bob, ada] = await seedCompany(database, 'acme', [
    { email: 'alice@example.test', name: 'Alice Agent' },
    { email: 'bob@example.test', name: 'Bob Agent' },
    { email: 'ada@example.test', name: 'Ada Admin', role: 'admin' },
  ]);
  const [gAda] = await seedCompany(database, 'globex', [
    { email: 'ada@example.test', name: 'Ada of Globex', role: 'admin' },
  ]);
  return { alice: alice!, bob: bob!, ada: ada!, gAda: gAda! };
});

const T0 = Date.parse('2024-03-01T09:00:00.000Z');
const HEADER =
  'id,createdAt,state,endReason,callType,visitorName,purpose,agentName,answeredAt,endedAt,durationSec,rating,ratingComment';

async function setup(t: Teardown) {
  const { path, seeded } = await template();
  const database = await openTestDatabase(t, path);
  const { app } = await buildTestApp(t, { database });
  const { alice, bob } = seeded;
  const a1 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0,
    state: 'ended',
    agent: alice,
    answeredAfterS: 5,
    endedAfterS: 65,
    endReason: 'hangup',
    visitor: { id: 'v1', name: 'Smith, "Jo"' },
    purpose: 'line one\nline two',
  });
  await database.db
    .updateTable('calls')
    .set({ rating: 5, rating_comment: '=HYPERLINK("http://evil.test")', rated_at: T0 + 70_000 })
    .where('id', '=', a1)
    .execute();
  const a2 = await insertCall(database, {
    companyId: 'acme',
    createdAt: T0 + 60_000,
    state: 'missed',
    target: bob,
    endedAfterS: 30,
    endReason: 'ring_timeout',
    visitor: { id: 'v2', name: '@mention' },
    purpose: '+1 555 0100',
  });
  const g1 = await insertCall(database, {
    companyId: 'globex',
    createdAt: T0 + 120_000,
    state: 'abandoned',
    endedAfterS: 3,
  });
  return { app, database, ...seeded, a1, a2, g1 };
}

type Setup = Awaited<ReturnType<typeof setup>>;

function exportCsv(s: Setup, token: string | null, query = '') {
  return s.app.inject({
    method: 'GET',
    url: `/api/calls/export.csv${query}`,
    headers: token === null ? {} : bearer(token),
  });
}

/**
 * Data records of a CSV body, split on CRLF outside quotes; throws unless the body ends with
 * CRLF and starts with the header row.
 */
function recordsOf(body: string) {
  const records: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const ch = body[i]!;
    if (ch === '"') quoted = !quoted;
    if (!quoted && body.startsWith('\r\n', i)) {
      records.push(current);
      current = '';
      i++;
      continue;
    }
    current += ch;
  }
  if (current !== '') throw new Error(`the body does not end with CRLF: ${JSON.stringify(body)}`);
  if (records[0] !== HEADER) throw new Error(`unexpected header: ${records[0]}`);
  return records.slice(1);
}

t.test(
  'an admin downloads its company calls as CSV, newest first, quoted per RFC 4180',
  async (t) => {
    const s = await setup(t);
    const res = await exportCsv(s, tokenOf(s.ada));
    t.equal(res.statusCode, 200);
    t.equal(res.headers['content-type'], 'text/csv; charset=utf-8');
    t.match(
      res.headers['content-disposition'],
      /^attachment; filename="calls-\d{4}-\d{2}-\d{2}\.csv"$/,
    );
    t.equal(res.headers['cache-control'], 'no-store');
    const records = recordsOf(res.body);
    t.same(records, [
      `${s.a2},2024-03-01T09:01:00.000Z,missed,ring_timeout,audio,'@mention,'+1 555 0100,,,2024-03-01T09:01:30.000Z,,,`,
      `${s.a1},2024-03-01T09:00:00.000Z,ended,hangup,audio,"Smith, ""Jo""","line one\nline two",Alice Agent,` +
        `2024-03-01T09:00:05.000Z,2024-03-01T09:01:05.000Z,60,5,"'=HYPERLINK(""http://evil.test"")"`,
    ]);
  },
);

t.test('the export applies the filters of GET /api/calls', async (t) => {
  const s = await setup(t);
  const token = tokenOf(s.ada);
  const ids = async (query: string) =>
    recordsOf((await exportCsv(s, token, query)).body).map((r) => r.split(',')[0]);
  t.same(await ids('?state=missed'), [s.a2]);
  t.same(await ids(`?agentId=${s.alice.id}`), [s.a1]);
  t.same(await ids('?from=2024-03-01T09:00:30.000Z'), [s.a2]);
  t.same(await ids('?to=2024-03-01T09:00:30.000Z'), [s.a1]);
  t.same(await ids('?from=2024-03-02T00:00:00.000Z'), [], 'no calls: the header alone');
});

t.test('an agent exports only its own calls, and never another company', async (t) => {
  const s = await setup(t);
  const ids = async (token: string) =>
    recordsOf((await exportCsv(s, token)).body).map((r) => r.split(',')[0]);
  t.same(await ids(tokenOf(s.alice)), [s.a1]);
  t.same(await ids(tokenOf(s.bob)), [s.a2], 'a call that rang Bob is his');
  t.same(await ids(tokenOf(s.gAda)), [s.g1]);
});

t.test('export refusals carry their codes', async (t) => {
  const s = await setup(t);
  const cases: Array<[string, string | null, string, number, string]> = [
    ['no token', null, '', 401, 'unauthorized'],
    [
      'an agent asking for another agent',
      tokenOf(s.alice),
      `?agentId=${s.bob.id}`,
      403,
      'forbidden',
    ],
    ['an unknown state', tokenOf(s.ada), '?state=nope', 400, 'bad_request'],
    ['paging is not offered', tokenOf(s.ada), '?limit=5', 400, 'bad_request'],
    [
      'from after to',
      tokenOf(s.ada),
      '?from=2024-03-02T00:00:00Z&to=2024-03-01T00:00:00Z',
      400,
      'bad_request',
    ],
  ];
  for (const [name, token, query, status, code] of cases) {
    const res = await exportCsv(s, token, query);
    t.equal(res.statusCode, status, name);
    t.equal(errorOf(res.body).error, code, name);
  }
});
