// A smoke test of the client's main flows, driven like the browser tests: only through
// accessible names. Two users sign up; one follows the other from their profile page, the
// other posts, the tweet arrives live, is liked, reposted and replied to; the notifications
// are read; the tweet is deleted and leaves the other's home live. Screenshots go to
// test-output/.
//   npm i --no-save playwright-core
//   node scripts/smoke.mjs [base URL, default http://127.0.0.1:8080/]   (CHROMIUM=/usr/bin/chromium)
import {mkdirSync} from 'node:fs';
import {chromium} from 'playwright-core';

const base = process.argv[2] || 'http://127.0.0.1:8080/';
const out = new URL('../test-output/', import.meta.url).pathname;
mkdirSync(out, {recursive: true});
const run = Date.now().toString(36).slice(-6);
const browser = await chromium.launch({executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox']});
/** @type {string[]} */
const problems = [];

/** @param {string} who @param {object} [options] */
async function open(who, options = {}) {
  const page = await (await browser.newContext(options)).newPage();
  page.on('console', (m) => m.type() === 'error' && problems.push(`${who}: console error: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${who}: ${e.message}`));
  page.on('dialog', (d) => {
    problems.push(`${who}: a dialog opened: ${d.message()}`);
    d.dismiss();
  });
  return page;
}
/** @param {string} s */
const step = (s) => console.log(`ok  ${s}`);

const alice = `a${run}`;
const bob = `b${run}`;
const a = await open(alice);
const b = await open(bob, {viewport: {width: 375, height: 740}, colorScheme: 'dark'});
for (const [page, name] of /** @type {const} */ ([[a, alice], [b, bob]])) {
  await page.goto(base);
  await page.getByRole('link', {name: 'Sign up', exact: true}).click();
  await page.getByLabel('Username').fill(name);
  await page.getByLabel('Password', {exact: true}).fill('correct horse battery');
  await page.getByRole('button', {name: 'Sign up', exact: true}).click();
  await page.getByRole('heading', {name: 'Home'}).waitFor();
  step(`${name} signed up`);
}

await b.goto(`${base}#/u/${alice}`);
await b.getByRole('button', {name: 'Follow', exact: true}).click();
await b.getByRole('button', {name: 'Unfollow', exact: true}).waitFor();
step('follow from the profile page');
await b.getByRole('link', {name: 'Home', exact: true}).click();
await b.getByRole('feed').waitFor();

const text = `hello <img src=x onerror=alert(1)> @${bob} ${run}`;
await a.getByLabel('New tweet').fill(text);
await a.getByRole('button', {name: 'Post', exact: true}).click();
await a.getByRole('article').filter({hasText: text}).waitFor();
step('post');

const tweet = b.getByRole('article').filter({hasText: text});
await tweet.waitFor({timeout: 5000});
step('the tweet arrives live in the follower\'s Home');
const like = tweet.getByRole('button', {name: 'Like', exact: true});
await like.click();
await b.waitForFunction((el) => el?.getAttribute('aria-pressed') === 'true', await like.elementHandle());
const repost = tweet.getByRole('button', {name: 'Repost', exact: true});
await repost.click();
await b.waitForFunction((el) => el?.getAttribute('aria-pressed') === 'true', await repost.elementHandle());
step('like and repost (aria-pressed)');
await tweet.getByRole('button', {name: 'Reply', exact: true}).click();
await b.getByLabel('Your reply').fill(`a reply ${run}`);
await b.getByRole('button', {name: 'Send reply', exact: true}).click();
await b.getByRole('article').filter({hasText: `a reply ${run}`}).waitFor();
step('reply');
await b.screenshot({path: `${out}home-375-dark.png`, fullPage: true});

await a.locator('#unread-badge:not([hidden])').waitFor({timeout: 5000});
await a.getByRole('link', {name: 'Notifications', exact: true}).click();
await a.getByRole('article').filter({hasText: 'liked your tweet'}).waitFor();
await a.getByRole('article').filter({hasText: 'replied to your tweet'}).waitFor();
await a.locator('#unread-badge[hidden]').waitFor({state: 'attached'});
step('notifications read, badge cleared');
await a.screenshot({path: `${out}notifications.png`, fullPage: true});

await a.getByRole('link', {name: 'Home', exact: true}).click();
const mine = a.getByRole('article').filter({hasText: text}).filter({has: a.getByRole('button', {name: 'Delete', exact: true})});
await mine.getByRole('button', {name: 'Delete', exact: true}).click();
await mine.waitFor({state: 'detached'});
await b.getByRole('article').filter({hasText: text}).first().waitFor({state: 'detached', timeout: 5000});
step('delete, and the tweet leaves the follower\'s Home live');

await browser.close();
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log('smoke test passed');
