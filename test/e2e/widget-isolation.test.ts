/**
 * The button on a hostile site: a page whose CSS restyles every element it can reach, hides
 * every button and shrinks every frame. The button and its panel live in a shadow root and
 * reset what the page can still reach, so they look and work as designed; the panel is a dialog
 * a keyboard can open, leave with Escape, and come back from to where it started.
 */
import t from 'tap';
import { chromiumOrSkip, launchBrowser, newPage, startStack, until } from './harness.js';
import { callFrame, hostPage, loaderWarnings, serveHostSite } from './widget-host.js';

const HARSH_CSS = `<style>
* { all: unset; font-size: 40px !important; color: red !important; display: block !important;
    font-family: serif !important; letter-spacing: 9px !important; opacity: .9 !important;
    text-transform: uppercase !important; line-height: 3 !important; }
button { display: none !important; }
iframe { width: 1px !important; height: 1px !important; }
div { position: static !important; z-index: -1 !important; background: yellow !important; }
head, script, style, title { display: none !important; }
</style>`;

const chromium = await chromiumOrSkip(t, 'widget-isolation');
const stack = chromium === undefined ? undefined : await startStack(t);
const browser = chromium === undefined ? undefined : await launchBrowser(t, chromium);

t.test("a site's harsh CSS reaches neither the button nor its panel", async (t) => {
  if (stack === undefined || browser === undefined) return;
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId, { head: HARSH_CSS }),
  });
  const { page, errors } = await newPage(t, browser);
  const warnings = loaderWarnings(page);
  await page.goto(site);
  t.same(
    await page.getByRole('heading', { name: 'Our shop' }).evaluate((el) => {
      const s = getComputedStyle(el);
      return [s.color, s.fontSize];
    }),
    ['rgb(255, 0, 0)', '40px'],
    "the site's CSS is in force on its own page",
  );

  const button = page.getByRole('button', { name: 'Call us' });
  await button.waitFor();
  const box = await button.boundingBox();
  t.ok(
    box !== null && box.height >= 44 && box.width >= 44,
    `a 44 px target: ${JSON.stringify(box)}`,
  );
  t.ok(
    box !== null && box.x + box.width > 1280 - 40 && box.y + box.height > 800 - 40,
    'in the bottom-right corner',
  );
  const style = await button.evaluate((el) => {
    const s = getComputedStyle(el);
    return {
      color: s.color,
      fontSize: s.fontSize,
      display: s.display,
      letterSpacing: s.letterSpacing,
      textTransform: s.textTransform,
    };
  });
  t.equal(style.color, 'rgb(255, 255, 255)', "white on the button's blue, not the page's red");
  t.equal(style.fontSize, '16px', "the button's own font size");
  t.equal(style.display, 'flex');
  t.equal(style.letterSpacing, 'normal');
  t.equal(style.textTransform, 'none');
  t.equal(
    await button.evaluate((el) => getComputedStyle(el).backgroundColor),
    'rgb(29, 78, 216)',
    'the default colour',
  );
  // Seen by a person, not only present: the topmost element at the button's centre is it.
  t.ok(
    await button.evaluate((el) => {
      const r = el.getBoundingClientRect();
      const root = el.getRootNode() as ShadowRoot;
      const hit = root.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
      return hit !== null && el.contains(hit);
    }),
    'nothing of the page covers the button',
  );

  await button.click();
  const dialog = page.getByRole('dialog', { name: `Call ${stack.companyName}` });
  await dialog.waitFor();
  const frameBox = await page.locator('iframe').boundingBox();
  t.ok(frameBox !== null && frameBox.width > 300, `the frame keeps its width: ${frameBox?.width}`);
  t.ok(frameBox !== null && frameBox.height > 300, `and its height: ${frameBox?.height}`);
  t.equal(
    await page.getByRole('heading', { name: `Call ${stack.companyName}` }).evaluate((el) => {
      return getComputedStyle(el).color;
    }),
    'rgb(17, 17, 17)',
    "the panel's title in the panel's colour",
  );
  const frame = await callFrame(page, stack.web, stack.companyId);
  await frame.getByRole('heading', { name: stack.companyName }).waitFor();
  t.same(warnings, []);
  t.same(errors, [], 'no console error or uncaught exception');
});

t.test('the panel is a dialog a keyboard opens, leaves and comes back from', async (t) => {
  if (stack === undefined || browser === undefined) return;
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId, { head: HARSH_CSS }),
  });
  const { page } = await newPage(t, browser);
  await page.goto(site);
  const button = page.getByRole('button', { name: 'Call us' });
  await button.waitFor();
  t.equal(await button.getAttribute('aria-expanded'), 'false');
  /** The tag and class of what has focus inside the widget's shadow root. */
  const focused = () =>
    button.evaluate((el) => {
      const active = (el.getRootNode() as ShadowRoot).activeElement;
      return active === null ? null : `${active.tagName.toLowerCase()}.${active.className}`;
    });

  await button.focus();
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: `Call ${stack.companyName}` });
  await dialog.waitFor();
  t.equal(await button.getAttribute('aria-expanded'), 'true');
  t.match(await focused(), /^(button\.x|iframe\.)$/, 'focus moves into the dialog');
  t.equal(
    await page.getByTitle(`Call ${stack.companyName}`).evaluate((el) => el.tagName),
    'IFRAME',
    'the frame is named for screen readers',
  );
  // The call page, once drawn, takes focus to its first screen; Escape there closes the panel.
  const frame = await callFrame(page, stack.web, stack.companyId);
  await frame.getByRole('heading', { name: stack.companyName }).waitFor();
  await until('focus in the frame', focused, (f) => f === 'iframe.');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  t.pass('Escape in the framed page closes the panel');
  t.equal(await button.getAttribute('aria-expanded'), 'false');
  t.equal(await focused(), 'button.l', 'focus returns to the button');
  t.equal(await page.locator('iframe').count(), 0, 'with no call live the frame is dropped');

  await page.keyboard.press('Enter');
  await dialog.waitFor();
  // The new call page takes focus once drawn: wait for that, or it may take it from Close
  // between the focus below and the style read.
  await until('focus in the new frame', focused, (f) => f === 'iframe.');
  const close = dialog.getByRole('button', { name: 'Close' });
  await close.focus();
  t.equal(
    await close.evaluate((el) => getComputedStyle(el).outlineStyle),
    'solid',
    'focus is visible',
  );
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'hidden' });
  t.equal(await focused(), 'button.l', 'Escape on the panel closes it, focus back on the button');

  await button.click();
  await dialog.waitFor();
  await close.click();
  await dialog.waitFor({ state: 'hidden' });
  t.equal(await focused(), 'button.l', 'Close does the same');
});

t.test('the options set the corner, colour, label and stacking', async (t) => {
  if (stack === undefined || browser === undefined) return;
  const site = await serveHostSite(t, {
    '/': hostPage(stack.web, stack.companyId, {
      attrs:
        'data-position="bottom-left" data-color="gold" data-label="Call an expert" data-z-index="7"',
    }),
    '/bad': hostPage(stack.web, stack.companyId, {
      attrs:
        'data-color="red;background:url(x)" data-label="Chat" data-z-index="9e99" data-position="top"',
    }),
  });
  const { page } = await newPage(t, browser);
  await page.goto(site);
  const button = page.getByRole('button', { name: 'Call an expert' });
  await button.waitFor();
  const box = await button.boundingBox();
  t.ok(box !== null && box.x < 40, 'bottom-left');
  const look = await button.evaluate((el) => {
    const s = getComputedStyle(el);
    const host = (el.getRootNode() as ShadowRoot).host;
    return { bg: s.backgroundColor, color: s.color, z: getComputedStyle(host).zIndex };
  });
  t.same(
    look,
    { bg: 'rgb(255, 215, 0)', color: 'rgb(17, 17, 17)', z: '7' },
    'gold, with dark text for contrast, at z-index 7',
  );

  await page.goto(`${site}/bad`);
  const fallback = page.getByRole('button', { name: 'Call us' });
  await fallback.waitFor();
  const bad = await fallback.evaluate((el) => {
    const s = getComputedStyle(el);
    const host = (el.getRootNode() as ShadowRoot).host;
    return { bg: s.backgroundColor, z: getComputedStyle(host).zIndex };
  });
  t.same(bad, { bg: 'rgb(29, 78, 216)', z: '2147483000' }, 'invalid values get the defaults');
  const fallbackBox = await fallback.boundingBox();
  t.ok(fallbackBox !== null && fallbackBox.x > 1000, 'bottom-right by default');
});
