// A reader in Debian's Chromium: the home page and a post page on a phone
// and a desktop (screenshots under target/site-check/), nothing wider than
// the screen, then the subscribe form filled in and sent as a person would.
//
//   node scripts/site.d/browse.mjs BASE_URL POST_PATH OUT_DIR EMAIL
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const [base, postPath, out, email] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  // This machine's network is closed: no background calls home.
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const viewports = {
  phone: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true },
  desktop: { viewport: { width: 1280, height: 900 } },
};
// Every picture of the post shows, from a WebP copy: the lazy ones once
// scrolled to.
async function photosLoaded(page, device) {
  const pictures = page.locator('picture img');
  const count = await pictures.count();
  assert.ok(count >= 2, `the post shows its cover and its photo (${count} pictures)`);
  for (let i = 0; i < count; i++) {
    const image = pictures.nth(i);
    await image.scrollIntoViewIfNeeded();
    await image.evaluate((img) => img.decode());
    const { shown, source } = await image.evaluate((img) => ({ shown: img.naturalWidth, source: img.currentSrc }));
    assert.ok(shown > 0, `picture ${i} on the ${device} did not load`);
    assert.match(source, /\/media\/[0-9A-Z]{26}\/\d+\.webp$/, `picture ${i} on the ${device}`);
  }
  await page.evaluate(() => window.scrollTo(0, 0));
}

try {
  for (const [device, options] of Object.entries(viewports)) {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    for (const [name, path] of [['home', '/'], ['post', postPath]]) {
      const response = await page.goto(base + path);
      assert.equal(response.status(), 200, `${path} on the ${device}`);
      const width = await page.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= options.viewport.width, `${path} is ${width}px wide on a ${options.viewport.width}px ${device}`);
      const styled = await page.evaluate(() => getComputedStyle(document.body).margin);
      assert.equal(styled, '0px', `${path}: the stylesheet loaded`);
      if (name === 'post') await photosLoaded(page, device);
      await page.screenshot({ path: `${out}/${name}-${device}.png`, fullPage: true });
    }
    await context.close();
  }
  // The form, with JavaScript off: a plain HTML form post.
  const context = await browser.newContext({ ...viewports.phone, javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(base + postPath);
  await page.fill('#email', email);
  await Promise.all([page.waitForURL('**/subscribed/'), page.click('form.subscribe button')]);
  assert.match(await page.textContent('h1'), /Check your inbox/);
  await page.screenshot({ path: `${out}/subscribed-phone.png`, fullPage: true });
  console.log(`browser: home and post pages on a phone and a desktop, form sent as ${email}`);
} finally {
  await browser.close();
}
