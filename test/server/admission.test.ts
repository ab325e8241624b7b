import t from 'tap';
import { companyAdmission } from '../../server/admission.js';
import { setCompanyDisabled } from '../../server/db/access.js';
import { createCompany } from '../../server/db/companies.js';
import { openTestDatabase } from '../db/helpers.js';
import { buildServer, connectVisitor, openClient, signToken } from '../helpers.js';

t.test('members of a disabled company are refused with 4003; others connect', async (t) => {
  const { db } = await openTestDatabase(t);
  await createCompany(db, 'acme', 'Acme');
  await createCompany(db, 'initech', 'Initech');
  await setCompanyDisabled(db, 'initech', true);
  const srv = await buildServer(t, {}, { admit: companyAdmission(db, 0) });

  const refused = openClient(srv.wsUrl, signToken({ company_id: 'initech', role: 'agent' }));
  const close = await refused.closed;
  t.equal(close.code, 4003);
  t.same(refused.received, [], 'nothing before the close');

  const enabled = await connectVisitor(t, srv, { company_id: 'acme' });
  t.equal((await enabled.request({ type: 'ping' })).type, 'ack', 'an enabled company connects');
  const unknown = await connectVisitor(t, srv, { company_id: 'own-idp-co' });
  t.equal(
    (await unknown.request({ type: 'ping' })).type,
    'ack',
    'a company the database does not know is admitted (tokens from another identity provider)',
  );

  await setCompanyDisabled(db, 'initech', false);
  const back = await connectVisitor(t, srv, { company_id: 'initech' });
  t.equal((await back.request({ type: 'ping' })).type, 'ack', 're-enabled: admitted again');
});

t.test('admission answers are cached for the configured time', async (t) => {
  const { db } = await openTestDatabase(t);
  await createCompany(db, 'acme', 'Acme');
  const admit = companyAdmission(db, 60_000);
  const principal = { userId: 'v', role: 'visitor' as const, companyId: 'acme', name: 'V', exp: 0 };
  t.equal(await admit(principal), true);
  await setCompanyDisabled(db, 'acme', true);
  t.equal(await admit(principal), true, 'within the cache time the earlier answer holds');
  const fresh = companyAdmission(db, 0);
  t.equal(await fresh(principal), false, 'without a cache the change is seen at once');
});
