/**
 * Admission at the upgrade through the access guard: members of a disabled company are refused
 * with 4003 before anything is sent, while enabled companies and companies the database does not
 * know connect.
 */
import t from 'tap';
import { setCompanyDisabled } from '../../db/access.js';
import { createCompany } from '../../db/companies.js';
import { openTestDatabase } from '../db/helpers.js';
import { accessGuard, buildServer, connectVisitor, openClient, signToken } from '../helpers.js';

t.test('members of a disabled company are refused with 4003; others connect', async (t) => {
  const { db } = await openTestDatabase(t);
  await createCompany(db, 'acme', 'Acme');
  await createCompany(db, 'initech', 'Initech');
  await setCompanyDisabled(db, 'initech', true);
  const access = accessGuard(t, db);
  const srv = await buildServer(t, {}, { access });

  const refused = openClient(srv.wsUrl, signToken({ company_id: 'initech', role: 'agent' }));
  const close = await refused.closed;
  t.same(close, { code: 4003, reason: 'not admitted' });
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
  await access.poll();
  const back = await connectVisitor(t, srv, { company_id: 'initech' });
  t.equal((await back.request({ type: 'ping' })).type, 'ack', 're-enabled: admitted again');
});
