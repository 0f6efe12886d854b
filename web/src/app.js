// Chirp's web client: the router (URL hash), the header, the session and the live stream.

import * as api from './api.js';
import {fetchUnread, setPageTitle, setUnread, unread} from './badge.js';
import {h} from './dom.js';
import {HomeStream} from './stream.js';
import {refreshTimes} from './time.js';
import {emit, notify, notifyError, pageHeading} from './ui.js';
import {loginView, signupView} from './views/auth.js';
import {notificationsView} from './views/notifications.js';
import {profileView} from './views/profile.js';
import {threadView} from './views/thread.js';
import {globalView, homeView} from './views/timelines.js';
import {sawTweet} from './views/tweet.js';

/** @typedef {import('./ui.js').ViewContext} ViewContext */

/** Where to go after logging in, and what the login page says. */
let afterLogin = '/';
let loginMessage = '';

const authHooks = {
  message: () => {
    const m = loginMessage;
    loginMessage = '';
    return m;
  },
  done: () => {
    // Once: after the login form, or a session restored meanwhile (a retried refresh).
    if (!isGuestPath(currentPath())) return;
    const next = afterLogin;
    afterLogin = '/';
    go(next);
  },
};

/**
 * @type {{pattern: RegExp, view: (ctx: ViewContext) => unknown, auth?: boolean, guest?: boolean,
 *   nav?: string, why?: string}[]}
 */
const routes = [
  {pattern: /^\/$/, view: homeView, auth: true, nav: 'home', why: 'Log in to read your home timeline.'},
  {pattern: /^\/global$/, view: globalView, nav: 'global'},
  {pattern: /^\/notifications$/, view: notificationsView, auth: true, nav: 'notifications', why: 'Log in to read your notifications.'},
  {pattern: /^\/u\/([A-Za-z0-9_]{1,64})$/, view: profileView},
  {pattern: /^\/t\/(\d{1,20})$/, view: threadView},
  {pattern: /^\/login$/, view: (ctx) => loginView(ctx, authHooks), guest: true, nav: 'login'},
  {pattern: /^\/signup$/, view: (ctx) => signupView(ctx, authHooks), guest: true, nav: 'signup'},
];

/** @param {string} path */
function go(path) {
  if (currentPath() === path) render();
  else location.hash = `#${path}`;
}

function currentPath() {
  let hash = location.hash.replace(/^#/, '');
  try {
    hash = decodeURIComponent(hash);
  } catch {
    // A malformed escape: taken as it is.
  }
  return hash.startsWith('/') ? hash : '/';
}

/** @param {string} path */
const isGuestPath = (path) => path === '/login' || path === '/signup';

const main = /** @type {HTMLElement} */ (document.getElementById('main'));
/** @type {AbortController | null} */
let page = null;
let firstRender = true;

function render() {
  const path = currentPath();
  page?.abort();
  const controller = new AbortController();
  page = controller;
  main.replaceChildren();
  main.removeAttribute('aria-busy');

  const route = routes.find((r) => r.pattern.test(path));
  if (route?.auth && !api.me()) {
    afterLogin = path;
    loginMessage = route.why || '';
    location.replace('#/login');
    return;
  }
  if (route?.guest && api.me()) {
    location.replace('#/');
    return;
  }
  const profile = /^\/u\/(.+)$/.exec(path);
  paintNav(route?.nav || (profile ? `user:${profile[1].toLowerCase()}` : ''));
  if (!firstRender) window.scrollTo(0, 0);

  /** @type {ViewContext} */
  const ctx = {
    main,
    signal: controller.signal,
    params: route ? (path.match(route.pattern) || []).slice(1) : [],
    reload: () => {
      if (page === controller) render();
    },
    setTitle: (title) => {
      if (page === controller) setPageTitle(title);
    },
  };
  if (route) {
    Promise.resolve(route.view(ctx)).catch((err) => {
      if (!controller.signal.aborted) notifyError(err);
    });
  } else {
    ctx.setTitle('Not found');
    main.append(pageHeading('Page not found'), h('p', null, 'There is nothing here. ', h('a', {href: '#/'}, 'Go to your home timeline')));
  }
  // After navigating, put the focus on the new page's heading (screen readers announce it).
  if (!firstRender) main.querySelector('h1')?.focus({preventScroll: true});
  firstRender = false;
}

/** @param {string} active */
function paintNav(active) {
  for (const link of document.querySelectorAll('[data-nav]')) {
    if (link.getAttribute('data-nav') === active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

// --- Header ---------------------------------------------------------------------------------

const logoutButton = /** @type {HTMLButtonElement} */ (document.getElementById('logout'));
const profileLink = /** @type {HTMLAnchorElement} */ (document.getElementById('profile-link'));
const whoami = /** @type {HTMLElement} */ (document.getElementById('whoami'));

function paintHeader() {
  const user = api.me();
  for (const el of document.querySelectorAll('[data-when]')) {
    /** @type {HTMLElement} */ (el).hidden = (el.getAttribute('data-when') === 'in') !== Boolean(user);
  }
  if (user) {
    profileLink.href = `#/u/${encodeURIComponent(user.username)}`;
    whoami.textContent = `@${user.username}`;
    profileLink.dataset.nav = `user:${user.username.toLowerCase()}`;
  } else {
    whoami.textContent = '';
  }
}

logoutButton.addEventListener('click', async () => {
  logoutButton.disabled = true;
  try {
    await api.logout();
  } catch {
    // Logged out here in any case; the session ends at the server when its tokens expire.
  } finally {
    logoutButton.disabled = false;
  }
  notify('You are logged out.');
  go('/login');
});

document.querySelector('.skip-link')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
  main.scrollIntoView();
});

// --- Session and stream ---------------------------------------------------------------------

const stream = new HomeStream({
  onTweet: (t) => {
    sawTweet(t);
    emit('stream:tweet', t);
  },
  onDelete: (d) => emit('tweet:removed', {id: d.id}),
  onNotification: (n) => {
    if (n.tweet) sawTweet(n.tweet);
    if (currentPath() !== '/notifications' || document.visibilityState !== 'visible') setUnread(unread() + 1);
    emit('stream:notification', n);
  },
  onResume: () => {
    emit('stream:reconnected');
    fetchUnread();
  },
  // Before opening a refused stream again: a request that tells whether the session still
  // holds (a 401 refreshes, or ends it), and brings the badge up to date on the way.
  token: async () => {
    setUnread(await api.unreadCount());
    return api.accessTokenNow();
  },
});

let loggedIn = false;
api.auth.addEventListener('change', (e) => {
  paintHeader();
  const now = Boolean(api.me());
  // A new access token (also at every refresh): a stream with it replaces the old one.
  if (now) stream.connect(api.accessTokenNow());
  else stream.close();
  if (now === loggedIn) return;
  loggedIn = now;
  if (now) {
    fetchUnread();
    if (!firstRender) authHooks.done();
    return;
  }
  setUnread(0);
  const reason = String(/** @type {CustomEvent} */ (e).detail || '');
  if (reason) {
    // The session ended (expired, revoked elsewhere): log in again, then back here.
    const path = currentPath();
    afterLogin = isGuestPath(path) ? '/' : path;
    loginMessage = reason;
    go('/login');
  } else if (!firstRender) {
    render(); // the page again, without what needs a login
  }
});

window.addEventListener('hashchange', render);
setInterval(refreshTimes, 30_000);

// Start: a reload of this tab keeps its session (the refresh token in sessionStorage).
paintHeader();
main.setAttribute('aria-busy', 'true');
api.restoreSession().finally(() => {
  loggedIn = Boolean(api.me());
  paintHeader();
  render();
});
