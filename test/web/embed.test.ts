/**
 * `GET /api/embed/:companyId?origin=`: whether a site may show a company's call button. Any
 * site may read the answer (CORS `*`), no cache may keep it, and every bad input has its code.
 */
import t from 'tap';
import { setCompanyDisabled } from '../../db/access.js';
import { createCompany } from '../../db/companies.js';
import { setAllowedOrigins } from '../../db/company-settings.js';
import { buildTestApp, errorOf } from './helpers.js';

async function setup(t: Parameters<typeof buildTestApp>[0]) {
  const { app, database } = await buildTestApp(t);
  await createCompany(database.db, 'acme', 'Acme Inc');
  await createCompany(database.db, 'open', 'Open Co');
  await createCompany(database.db, 'gone', 'Gone Co');
  await setCompanyDisabled(database.db, 'gone', true);
  await setAllowedOrigins(database.db, 'acme', ['https://shop.acme.example']);
  const get = (path: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'GET', url: path, headers });
  return { app, database, get };
}

const q = (origin: string) => `?origin=${encodeURIComponent(origin)}`;

t.test('a listed origin is allowed, another is not, and any site may read either', async (t) => {
  const { get } = await setup(t);
  const listed = await get(`/api/embed/acme${q('https://shop.acme.example')}`, {
    origin: 'https://shop.acme.example',
  });
  t.equal(listed.statusCode, 200);
  t.same(listed.json(), { companyId: 'acme', name: 'Acme Inc', allowed: true });
  t.equal(listed.headers['access-control-allow-origin'], '*');
  t.equal(listed.headers['cache-control'], 'no-store');

  const other = await get(`/api/embed/acme${q('https://evil.example')}`);
  t.equal(other.statusCode, 200);
  t.same(other.json(), { companyId: 'acme', name: 'Acme Inc', allowed: false });
  t.equal(other.headers['access-control-allow-origin'], '*');
});

t.test('the origin is compared normalised: case and default port do not matter', async (t) => {
  const { get } = await setup(t);
  const res = await get(`/api/embed/acme${q('HTTPS://Shop.Acme.Example:443')}`);
  t.equal(res.json<{ allowed: boolean }>().allowed, true);
});

t.test('a company that lists no origins may be embedded anywhere', async (t) => {
  const { get } = await setup(t);
  for (const origin of ['https://anywhere.example', 'http://localhost:8080', 'null']) {
    const res = await get(`/api/embed/open${q(origin)}`);
    t.equal(res.statusCode, 200, origin);
    t.same(res.json(), { companyId: 'open', name: 'Open Co', allowed: true }, origin);
  }
  const opaque = await get(`/api/embed/acme${q('null')}`);
  t.equal(opaque.json<{ allowed: boolean }>().allowed, false, 'an opaque origin is never listed');
});

t.test('an unknown company is 404 not_found, a disabled one 403 company_disabled', async (t) => {
  const { get } = await setup(t);
  const unknown = await get(`/api/embed/nope${q('https://shop.acme.example')}`);
  t.equal(unknown.statusCode, 404);
  t.same(errorOf(unknown.body), { keys: ['error', 'message'], error: 'not_found' });
  t.equal(unknown.headers['access-control-allow-origin'], '*', 'errors are readable too');
  t.equal(unknown.headers['cache-control'], 'no-store');

  const disabled = await get(`/api/embed/gone${q('https://shop.acme.example')}`);
  t.equal(disabled.statusCode, 403);
  t.same(errorOf(disabled.body), { keys: ['error', 'message'], error: 'company_disabled' });
  t.equal(disabled.headers['access-control-allow-origin'], '*');
});

t.test('a missing or malformed origin is 400 bad_request', async (t) => {
  const { get } = await setup(t);
  const cases = [
    '/api/embed/acme',
    '/api/embed/acme?origin=',
    `/api/embed/acme${q('ftp://x')}`,
    `/api/embed/acme${q('https://x/path')}`,
    `/api/embed/acme${q('*')}`,
    `/api/embed/acme${q('not a url')}`,
    `/api/embed/acme${q(`https://${'a'.repeat(400)}.example`)}`,
    `/api/embed/acme${q('https://shop.acme.example')}&extra=1`,
  ];
  for (const path of cases) {
    const res = await get(path);
    t.equal(res.statusCode, 400, path);
    t.same(errorOf(res.body), { keys: ['error', 'message'], error: 'bad_request' }, path);
    t.equal(res.headers['access-control-allow-origin'], '*', `${path} is readable`);
  }
});

t.test('a corrupt settings value reads as "any site" rather than failing', async (t) => {
  const { get, database } = await setup(t);
  await database.db
    .updateTable('companies')
    .set({ settings: '{not json' })
    .where('id', '=', 'acme')
    .execute();
  const res = await get(`/api/embed/acme${q('https://evil.example')}`);
  t.equal(res.statusCode, 200);
  t.equal(res.json<{ allowed: boolean }>().allowed, true);
});
