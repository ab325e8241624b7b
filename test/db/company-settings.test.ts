/**
 * A company's allowed embedding origins: how origins are normalised, how the settings JSON is
 * read (never throwing on a corrupt value) and written (keeping other settings), and the CSP
 * `frame-ancestors` list the visitor page is served with.
 */
import t from 'tap';
import { AccountError, createCompany, getCompany } from '../../db/companies.js';
import {
  companySettings,
  frameAncestorsFor,
  isOriginAllowed,
  MAX_ALLOWED_ORIGINS,
  normaliseAllowedOrigins,
  setAllowedOrigins,
} from '../../db/company-settings.js';
import { normaliseOrigin, parseOrigin } from '../../common/origin.js';
import { openTestDatabase } from './helpers.js';

/** A logger that remembers what it was told. */
function recordingLog() {
  const warnings: Array<{ fields: object; msg: string }> = [];
  return { warnings, warn: (fields: object, msg: string) => warnings.push({ fields, msg }) };
}

t.test('origins are normalised: lower case, default ports and a lone slash dropped', async (t) => {
  t.equal(normaliseOrigin('HTTPS://Shop.Example.COM:443'), 'https://shop.example.com');
  t.equal(normaliseOrigin('http://localhost:8080'), 'http://localhost:8080');
  t.equal(normaliseOrigin('http://localhost:80/'), 'http://localhost');
  t.equal(normaliseOrigin('https://shop.example.com:8443'), 'https://shop.example.com:8443');
  t.equal(normaliseOrigin('http://[::1]:3000'), 'http://[::1]:3000');
  t.equal(normaliseOrigin('https://bücher.example'), 'https://xn--bcher-kva.example');
});

t.test('what is not an http(s) origin is refused with a reason', async (t) => {
  for (const bad of [
    'ftp://x',
    'https://x/path',
    '*',
    'not a url',
    'null',
    '',
    'https:shop.example.com',
    'https://x?q=1',
    'https://x#top',
    'https://user:pw@x',
    'https://x:99999',
    `https://${'a'.repeat(300)}.example`,
  ]) {
    const parsed = parseOrigin(bad);
    t.equal(parsed.ok, false, JSON.stringify(bad));
    if (!parsed.ok) t.ok(parsed.reason.length > 0, 'with a reason');
  }
});

t.test('a new company allows any site and its frame ancestors are *', async (t) => {
  const { db } = await openTestDatabase(t);
  const company = await createCompany(db, 'acme', 'Acme');
  t.same(companySettings(company).allowedOrigins, []);
  t.equal(isOriginAllowed(companySettings(company), 'https://anywhere.example'), true);
  t.equal(isOriginAllowed(companySettings(company), undefined), true);
  t.equal(frameAncestorsFor(company), '*');
});

t.test('set origins are stored normalised, deduplicated, beside other settings', async (t) => {
  const { db } = await openTestDatabase(t);
  await createCompany(db, 'acme', 'Acme');
  await db
    .updateTable('companies')
    .set({ settings: '{"theme":"dark"}' })
    .where('id', '=', 'acme')
    .execute();
  const stored = await setAllowedOrigins(db, 'acme', [
    'https://Shop.Example.com',
    'https://shop.example.com:443/',
    'http://localhost:8080',
  ]);
  t.same(stored, ['https://shop.example.com', 'http://localhost:8080']);
  const company = (await getCompany(db, 'acme'))!;
  t.same(JSON.parse(company.settings), {
    theme: 'dark',
    allowedOrigins: ['https://shop.example.com', 'http://localhost:8080'],
  });
  const settings = companySettings(company);
  t.equal(isOriginAllowed(settings, 'https://shop.example.com'), true);
  t.equal(isOriginAllowed(settings, 'https://evil.example'), false);
  t.equal(isOriginAllowed(settings, undefined), false);
  t.equal(frameAncestorsFor(company), "'self' https://shop.example.com http://localhost:8080");

  t.same(await setAllowedOrigins(db, 'acme', []), [], 'an empty list clears it');
  t.equal(frameAncestorsFor((await getCompany(db, 'acme'))!), '*');
});

t.test(
  'setting origins refuses a bad origin or an unknown company and changes nothing',
  async (t) => {
    const { db } = await openTestDatabase(t);
    await createCompany(db, 'acme', 'Acme');
    await setAllowedOrigins(db, 'acme', ['https://shop.example.com']);
    await t.rejects(setAllowedOrigins(db, 'acme', ['https://ok.example', 'https://x/path']), {
      name: 'AccountError',
      code: 'invalid',
      message: /https:\/\/x\/path/,
    });
    await t.rejects(setAllowedOrigins(db, 'nope', ['https://ok.example']), {
      code: 'not_found',
    });
    const tooMany = Array.from(
      { length: MAX_ALLOWED_ORIGINS + 1 },
      (_, i) => `https://s${i}.example`,
    );
    t.throws(() => normaliseAllowedOrigins(tooMany), new AccountError('invalid', ''));
    t.same(companySettings((await getCompany(db, 'acme'))!).allowedOrigins, [
      'https://shop.example.com',
    ]);
  },
);

t.test('corrupt settings read as "any site" and are logged, never thrown', async (t) => {
  for (const settings of [
    'not json',
    '[]',
    'null',
    '{"allowedOrigins":"https://shop.example.com"}',
    '{"allowedOrigins":[1,2]}',
  ]) {
    const log = recordingLog();
    const read = companySettings({ id: 'acme', settings }, log);
    t.same(read.allowedOrigins, [], settings);
    t.equal(log.warnings.length, 1, `${settings} is logged`);
    t.match(log.warnings[0]!.fields, { companyId: 'acme' });
  }
});

t.test('a single bad entry is dropped and logged; the rest stay in force', async (t) => {
  const log = recordingLog();
  const read = companySettings(
    { id: 'acme', settings: '{"allowedOrigins":["https://shop.example.com","*"]}' },
    log,
  );
  t.same(read.allowedOrigins, ['https://shop.example.com']);
  t.equal(log.warnings.length, 1);
});
