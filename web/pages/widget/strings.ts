/**
 * The loader's words: what people see and hear on the button and its panel, and the warnings
 * it gives a site's developer in the console (each says what is wrong and how to fix it). One
 * module, so a translation replaces one file; separate constants rather than one object, so the
 * minifier shortens their names in the 3 KB script.
 */

/** The panel's title, the dialog's and the frame's accessible name. */
export const callCompany = (name: string) => `Call ${name}`;
/** The panel's Close button. */
export const closeLabel = 'Close';

const HIDDEN = 'so the call button stays hidden';

/** The company lists origins and this page's is not one of them. */
export const notAllowedWarning = (origin: string, company: string) =>
  `this site (${origin}) may not embed company "${company}", ${HIDDEN}. Add it with: ` +
  `npm run admin -- set-origins ${company} <origins already listed> ${origin}`;
/** The check failed: network, unknown company (see {@link NO_COMPANY}), disabled company. */
export const failedWarning = (host: string, company: string, why: string) =>
  `the embed check of company "${company}" at ${host} failed (${why}), ${HIDDEN}`;
/** Why, in {@link failedWarning}, for a 404. */
export const NO_COMPANY = 'no such company: check data-company';
/** The script tag names no company, or not a valid one. */
export const badScriptWarning = (why: string) => `${why}, ${HIDDEN}`;
