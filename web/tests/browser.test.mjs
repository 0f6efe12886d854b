// The web client in a real browser (Debian's headless Chromium, driven by playwright-core),
// against the real chirp-api and worker that scripts/test-browser starts (CHIRP_URL). Every
// step goes through accessible names only (roles and labels), as a person with a screen
// reader would. Also: no console errors, no request leaving the origin, an axe-core scan with
// no serious or critical violations, screenshots at phone and desktop width, and the page's
// load timings (Navigation Timing), written to web/test-output/.

import {test, before, after} from 'node:test';
import assert from 'node:assert/strict';
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {chromium} from 'playwright-core';

const BASE = process.env.CHIRP_URL ?? 'http://127.0.0.1:8080';
const OUT = new URL('../test-output/', import.meta.url);
mkdirSync(OUT, {recursive: true});
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** Waits for what comes through the fan-out or the stream; only a failing test waits it out. */
const LIVE = 15_000;
const PASSWORD = 'correct horse battery';
const run = Date.now().toString(36).slice(-5);

/** @type {import('playwright-core').Browser} */
let browser;
/** Problems seen on any page: console errors, uncaught exceptions, foreign requests. */
const problems = [];

before(async () => {
  browser = await chromium.launch({executablePath: process.env.CHROMIUM, headless: true});
});
after(async () => {
  await browser?.close();
});

/** A fresh browser profile (its own storage), watched for problems. */
async function person(name, viewport = {width: 1280, height: 800}) {
  const context = await browser.newContext({viewport});
  const page = await context.newPage();
  const origin = new URL(BASE).origin;
  page.on('console', (m) => m.type() === 'error' && problems.push(`${name} console: ${m.text()}`));
  page.on('pageerror', (e) => problems.push(`${name} page error: ${e.message}`));
  page.on('request', (r) => {
    const url = new URL(r.url());
    if (url.origin !== origin && url.protocol !== 'data:') problems.push(`${name} left the origin: ${r.url()}`);
  });
  return {context, page};
}

async function signUp(page, username) {
  await page.goto(BASE);
  await page.getByRole('link', {name: 'Sign up'}).click();
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', {name: 'Sign up'}).click();
  await page.getByRole('button', {name: 'Log out'}).waitFor();
}

/** The article of the tweet whose text is `text`, in the page's feed. */
function article(page, text) {
  return page.getByRole('feed').first().getByRole('article').filter({hasText: text});
}

async function axeScan(page, what) {
  await page.evaluate(AXE);
  const result = await page.evaluate(async () =>
    // @ts-ignore: injected above
    window.axe.run(document, {resultTypes: ['violations']}),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  writeFileSync(new URL(`axe-${what}.json`, OUT), JSON.stringify(result.violations, null, 2));
  assert.deepEqual(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.length})`),
    [],
    `axe on ${what}`,
  );
}

test('two people sign up, follow, post live, like, repost, reply, read notifications, delete', async () => {
  const alice = await person('alice');
  const bob = await person('bob');
  const a = `alice_${run}`;
  const b = `bob_${run}`;
  await signUp(alice.page, a);
  await signUp(bob.page, b);

  // Bob follows Alice from her profile page.
  await bob.page.goto(`${BASE}/#/u/${a}`);
  await bob.page.getByRole('button', {name: 'Follow'}).click();
  await bob.page.getByRole('button', {name: 'Unfollow'}).waitFor();
  await bob.page.getByRole('link', {name: 'Home'}).click();
  await bob.page.getByRole('feed').first().waitFor();

  // Alice posts, with a live character count, a tweet that would be HTML if rendered as such.
  const text = `hello <img src=x onerror=alert(1)> from ${a}`;
  await alice.page.getByRole('link', {name: 'Home'}).click();
  const box = alice.page.getByLabel('New tweet');
  await box.fill(text);
  await alice.page.getByText(String(280 - text.length)).first().waitFor();
  await alice.page.getByRole('button', {name: 'Post'}).click();
  await article(alice.page, text).waitFor();

  // It reaches Bob's home live, through the stream, without a reload; shown as text.
  const seen = article(bob.page, text);
  await seen.waitFor({timeout: LIVE});
  assert.equal(await seen.locator('img[src="x"]').count(), 0, 'tweet text rendered as HTML');
  await bob.page.screenshot({path: new URL('home-desktop.png', OUT).pathname, fullPage: false});
  await axeScan(bob.page, 'home');

  // Like, repost, reply.
  await seen.getByRole('button', {name: 'Like'}).click();
  await assert.doesNotReject(
    seen.getByRole('button', {name: 'Like', pressed: true}).waitFor(),
  );
  await seen.getByRole('button', {name: 'Repost'}).click();
  await seen.getByRole('button', {name: 'Repost', pressed: true}).waitFor();
  await seen.getByRole('button', {name: 'Reply'}).click();
  await bob.page.getByLabel('Your reply').fill(`@${a} nice one`);
  await bob.page.getByRole('button', {name: 'Send reply'}).click();
  await bob.page.getByRole('status').filter({hasText: 'reply'}).waitFor();

  // Alice's unread badge, then her notifications: the like, the repost, the reply.
  await alice.page.locator('#unread-badge:not([hidden])').waitFor({timeout: LIVE});
  await alice.page.getByRole('link', {name: /Notifications/}).click();
  const notes = alice.page.getByRole('main');
  for (const what of [/liked/i, /reposted/i, /replied|reply/i]) {
    await notes.getByText(what).first().waitFor({timeout: LIVE});
  }
  await axeScan(alice.page, 'notifications');

  // Alice deletes her tweet: it leaves her timeline, and Bob's live.
  await alice.page.getByRole('link', {name: 'Home'}).click();
  const own = article(alice.page, text);
  await own.getByRole('button', {name: 'Delete'}).click();
  const confirm = alice.page.getByRole('button', {name: /^(Delete|Yes|Confirm)/});
  if (await own.count() && (await confirm.count()) > 1) await confirm.last().click();
  await own.waitFor({state: 'detached', timeout: LIVE});
  await seen.waitFor({state: 'detached', timeout: LIVE});

  // Log out leads to the login form.
  await bob.page.getByRole('button', {name: 'Log out'}).click();
  await bob.page.getByRole('link', {name: 'Log in'}).waitFor();
  await alice.context.close();
  await bob.context.close();
  assert.deepEqual(problems, []);
});

test('at phone width, in dark mode: no sideways scrolling, screenshots kept', async () => {
  const phone = await person('phone', {width: 375, height: 812});
  await phone.page.emulateMedia({colorScheme: 'dark'});
  await signUp(phone.page, `phone_${run}`);
  await phone.page.getByRole('link', {name: 'Global'}).click();
  await phone.page.getByRole('feed').first().waitFor();
  const {scroll, inner, background} = await phone.page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
    background: getComputedStyle(document.body).backgroundColor,
  }));
  assert.ok(scroll <= inner, `page ${scroll} px wide in a ${inner} px viewport`);
  const [r, g, b] = background.match(/\d+/g).map(Number);
  assert.ok(r + g + b < 3 * 128, `a dark background in dark mode: ${background}`);
  await phone.page.screenshot({path: new URL('global-phone-dark.png', OUT).pathname});
  await axeScan(phone.page, 'global-phone-dark');
  await phone.context.close();
  assert.deepEqual(problems, []);
});

test('keyboard only: the skip link and a visible focus', async () => {
  const kb = await person('keyboard');
  await kb.page.goto(BASE);
  await kb.page.keyboard.press('Tab');
  const focused = await kb.page.evaluate(() => {
    const el = document.activeElement;
    const style = el && getComputedStyle(el);
    return {text: el?.textContent?.trim(), outline: style?.outlineStyle, width: style?.outlineWidth};
  });
  assert.equal(focused.text, 'Skip to content');
  assert.ok(focused.outline !== 'none' && focused.width !== '0px', `focus ring: ${JSON.stringify(focused)}`);
  await kb.context.close();
});

test('page weight and the first timeline painted, by Navigation Timing', async () => {
  const viewer = await person('timing');
  await signUp(viewer.page, `timing_${run}`);
  // Something to show, then a fresh navigation of the home timeline (the session survives the
  // reload: the refresh token is in sessionStorage).
  await viewer.page.getByLabel('New tweet').fill('timing tweet');
  await viewer.page.getByRole('button', {name: 'Post'}).click();
  await article(viewer.page, 'timing tweet').waitFor();
  const runs = [];
  for (let i = 0; i < 5; i++) {
    await viewer.page.reload();
    const painted = await viewer.page.waitForFunction(() => {
      const a = document.querySelector('[role="feed"] article');
      return a && performance.now();
    });
    const firstTimelineMs = await painted.jsonValue();
    const nav = await viewer.page.evaluate(() => {
      const n = /** @type {PerformanceNavigationTiming} */ (performance.getEntriesByType('navigation')[0]);
      const assets = performance.getEntriesByType('resource').filter((r) => /\.(js|css)$/.test(r.name));
      return {
        domContentLoadedMs: n.domContentLoadedEventEnd,
        loadMs: n.loadEventEnd,
        jsCssBytes: assets.reduce((sum, r) => sum + /** @type {PerformanceResourceTiming} */ (r).decodedBodySize, 0),
        jsCssFiles: assets.length,
      };
    });
    runs.push({firstTimelineMs, ...nav});
  }
  const sorted = runs.map((r) => r.firstTimelineMs).sort((x, y) => x - y);
  const report = {median_first_timeline_ms: sorted[2], runs};
  writeFileSync(new URL('timing.json', OUT), JSON.stringify(report, null, 2));
  console.log('navigation timing:', JSON.stringify(report));
  // The weight is a budget (not a timing): under 100 KiB of JS and CSS, uncompressed.
  assert.ok(runs[0].jsCssBytes > 0 && runs[0].jsCssBytes < 100 * 1024, `${runs[0].jsCssBytes} bytes`);
  await viewer.context.close();
  assert.deepEqual(problems, []);
});

/** The API called directly (as another device of the same person would). */
async function apiCall(method, path, token, body) {
  const res = await fetch(`${BASE}${path}`, {
    method,
    headers: {
      ...(token ? {Authorization: `Bearer ${token}`} : {}),
      ...(body ? {'Content-Type': 'application/json'} : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return res;
}

test('a session ended elsewhere (401) leads to the login form', async () => {
  const user = `ended_${run}`;
  const p = await person('ended');
  await signUp(p.page, user);
  // The same person, on another device, logs out everywhere.
  const login = await apiCall('POST', '/v1/auth/login', null, {username: user, password: PASSWORD});
  const {access_token} = await login.json();
  assert.equal((await apiCall('POST', '/v1/auth/logout-all', access_token)).status, 204);
  // The next thing the page asks the API for is refused: it shows the login form and says why.
  await p.page.getByRole('link', {name: 'Global'}).click();
  await p.page.getByRole('button', {name: 'Log in', exact: true}).waitFor({timeout: LIVE});
  await p.page.getByText(/session has ended/i).first().waitFor();
  await p.context.close();
  assert.deepEqual(problems.filter((x) => !x.includes('401')), []);
  problems.length = 0;
});

test('too many failed logins (429) say how long to wait', async () => {
  const user = `limited_${run}`;
  assert.equal((await apiCall('POST', '/v1/auth/register', null, {username: user, password: PASSWORD})).status, 201);
  const p = await person('limited');
  await p.page.goto(`${BASE}/#/login`);
  await p.page.getByLabel('Username').fill(user);
  await p.page.getByLabel('Password').fill('wrong password!');
  // CHIRP_RATE_LOGIN_USER: 5 failures a minute, then 429 with Retry-After.
  for (let i = 0; i < 6; i++) {
    await p.page.getByRole('button', {name: 'Log in', exact: true}).click();
    await p.page.getByRole('alert').filter({hasText: /./}).first().waitFor();
  }
  await p.page.getByText(/Please wait \d+ seconds?/).first().waitFor({timeout: LIVE});
  await p.context.close();
  problems.length = 0; // the refused logins are logged by the browser as failed requests
});

test('Redis unavailable (503) shows a try-again state that recovers', async () => {
  const port = process.env.CHIRP_TEST_REDIS_PORT;
  assert.ok(port, 'scripts/test-browser passes the Redis port');
  const p = await person('unavailable');
  await signUp(p.page, `down_${run}`);
  // Redis stops answering for a while: the API answers 503 when its Redis time is spent.
  const paused = Date.now();
  const {execFileSync} = await import('node:child_process');
  execFileSync('redis-cli', ['-p', port, 'CLIENT', 'PAUSE', '6000', 'ALL']);
  await p.page.getByRole('link', {name: 'Global'}).click();
  const again = p.page.getByRole('button', {name: 'Try again'});
  await again.waitFor({timeout: LIVE});
  await p.page.getByText(/unavailable/i).first().waitFor();
  // Once Redis is back (the pause ends by itself; polled with a deadline), Try again shows
  // the timeline.
  const deadline = paused + 6000 + LIVE;
  while ((await apiCall('GET', '/readyz')).status !== 200) {
    assert.ok(Date.now() < deadline, 'Redis answers again');
    await new Promise((r) => setTimeout(r, 100));
  }
  await again.click();
  await again.waitFor({state: 'detached', timeout: LIVE});
  await p.page.locator('[role="feed"][aria-busy="false"]').first().waitFor({timeout: LIVE});
  await p.context.close();
  problems.length = 0; // the 503s are logged by the browser as failed requests
});
