// The Chirp API client (same origin, /v1/...), typed from the OpenAPI document through
// src/types/api.d.ts: every call names its path and method, checked by `npm run check`.
//
// Tokens: the access token lives in memory only (this module). The refresh token (single use:
// each refresh answers a new pair) lives in sessionStorage: it survives reloads of the tab,
// but is not shared with other tabs nor kept after the browser session. localStorage would
// outlive the session and be just as readable by any script of the origin; an HttpOnly cookie
// would need the API to use cookies, which it does not. What keeps foreign scripts out is
// the CSP and inserting data as text only (see README.md).

/** @typedef {import('./types/api').paths} Paths */
/** @typedef {import('./types/api').components['schemas']} Schemas */
/** @typedef {Schemas['TweetResponse']} Tweet */
/** @typedef {Schemas['UserResponse']} User */
/** @typedef {Schemas['NotificationResponse']} Notification */
/** @typedef {Schemas['TokensResponse']} Tokens */
/** @typedef {Schemas['Problem']} Problem */
/** @typedef {Schemas['StreamDelete']} StreamDelete */

/** @typedef {'get' | 'put' | 'post' | 'delete' | 'patch'} Method */

/**
 * The methods a path has an operation for.
 * @template {keyof Paths} P
 * @typedef {{[M in Method]: Paths[P][M] extends undefined ? never : M}[Method]} MethodOf
 */

/**
 * The JSON body of an operation's success answer (undefined for 204).
 * @template Op
 * @typedef {Op extends {responses: infer R}
 *   ? (R extends {200: {content: {'application/json': infer B}}} ? B
 *     : R extends {201: {content: {'application/json': infer B}}} ? B
 *     : undefined)
 *   : never} Ok
 */

/**
 * What a call of an operation takes.
 * @template Op
 * @typedef {{
 *   params?: Op extends {parameters: {path?: infer X}} ? X : never,
 *   query?: Op extends {parameters: {query?: infer X}} ? X : never,
 *   body?: Op extends {requestBody?: {content: {'application/json': infer B}}} ? B : never,
 *   headers?: Record<string, string>,
 *   auth?: boolean,
 *   signal?: AbortSignal,
 * }} Options
 */

/** An API error: a problem details answer, or no answer at all (`status` 0). */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {Partial<Problem>} problem
   * @param {number | null} retryAfter seconds, from `Retry-After`
   */
  constructor(status, problem, retryAfter = null) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || '';
    this.problem = problem;
    this.retryAfter = retryAfter;
  }
}

/** @param {string | null} value a `Retry-After` header: seconds or an HTTP date */
function parseRetryAfter(value) {
  if (!value) return null;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/**
 * A sentence for people about what went wrong.
 * @param {unknown} err
 */
export function describeError(err) {
  if (err instanceof ApiError) {
    if (err.status === 0) return 'Could not reach Chirp. Check your connection and try again.';
    if (err.status === 429) {
      const s = err.retryAfter;
      return s != null
        ? `Too many requests. Please wait ${s} second${s === 1 ? '' : 's'} and try again.`
        : 'Too many requests. Please wait a moment and try again.';
    }
    if (err.status === 503) return 'Chirp is unavailable right now. Please try again in a moment.';
    if (err.status >= 500) return 'Something went wrong on our side. Please try again.';
    return err.message;
  }
  if (err instanceof DOMException && err.name === 'AbortError') return '';
  return 'Something went wrong. Please try again.';
}

// --- Session --------------------------------------------------------------------------------

const REFRESH_KEY = 'chirp.refresh_token';

/** @type {string | null} */
let accessToken = null;
let accessExpiresAt = 0;
let accessLifetime = 0;
/** @type {User | null} */
let currentUser = null;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let refreshTimer;
/** @type {Promise<void> | null} */
let refreshing = null;

/**
 * `change`: logged in, logged out, or a new access token. When the session was lost (not a
 * logout), its `detail` says so, for the login page.
 */
export const auth = new EventTarget();

function storedRefreshToken() {
  try {
    return sessionStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

/** @param {string | null} token */
function storeRefreshToken(token) {
  try {
    if (token) sessionStorage.setItem(REFRESH_KEY, token);
    else sessionStorage.removeItem(REFRESH_KEY);
  } catch {
    // Storage disabled: the session then lasts as long as the page.
  }
}

/** The logged-in user, or null. */
export function me() {
  return currentUser;
}

/** The current access token (for the stream), or null. */
export function accessTokenNow() {
  return accessToken;
}

/** @param {Tokens} tokens */
function setTokens(tokens) {
  accessToken = tokens.access_token;
  const lifetime = Math.max(1, tokens.expires_in) * 1000;
  accessExpiresAt = Date.now() + lifetime;
  accessLifetime = lifetime;
  currentUser = tokens.user;
  storeRefreshToken(tokens.refresh_token);
  // Refresh well before expiry: a minute early, or at 80% of a short lifetime.
  scheduleRefresh(lifetime > 300_000 ? lifetime - 60_000 : Math.max(1000, lifetime * 0.8));
  auth.dispatchEvent(new Event('change'));
}

/** @param {number} delay */
function scheduleRefresh(delay) {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refresh().catch(() => {});
  }, delay);
}

/** @param {string} [reason] why the session ended, for the login page */
function endSession(reason) {
  const had = accessToken !== null || storedRefreshToken() !== null;
  clearTimeout(refreshTimer);
  accessToken = null;
  accessExpiresAt = 0;
  currentUser = null;
  storeRefreshToken(null);
  auth.dispatchEvent(new CustomEvent('change', {detail: had && reason ? reason : ''}));
}

/**
 * Trades the refresh token for a new pair (one at a time). A rejected refresh token ends the
 * session; a network or server error keeps it and tries again later.
 * @returns {Promise<void>}
 */
export function refresh() {
  if (refreshing) return refreshing;
  const token = storedRefreshToken();
  if (!token) return Promise.reject(new ApiError(401, {detail: 'Not logged in.'}));
  refreshing = (async () => {
    try {
      const tokens = await request('post', '/v1/auth/refresh', {
        body: {refresh_token: token},
        auth: false,
      });
      setTokens(tokens);
    } catch (err) {
      if (err instanceof ApiError && (err.status === 401 || err.status === 422 || err.status === 400)) {
        endSession('Your session has ended. Please log in again.');
      } else if (accessToken !== null || storedRefreshToken()) {
        const wait = err instanceof ApiError && err.retryAfter ? err.retryAfter * 1000 : 10_000;
        scheduleRefresh(wait);
      }
      throw err;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** A valid access token soon to be used: refreshes first when it (nearly) expired. */
async function freshAccessToken() {
  if (accessToken && Date.now() < accessExpiresAt - Math.min(15_000, accessLifetime / 10)) return accessToken;
  if (!storedRefreshToken()) return null;
  await refresh();
  return accessToken;
}

/** Restores the session of this tab after a reload (from the stored refresh token). */
export async function restoreSession() {
  if (!storedRefreshToken()) return null;
  try {
    await refresh();
  } catch {
    // Ended (401) or unreachable: either way the app starts logged out or retries later.
  }
  return currentUser;
}

// Timers are throttled in background tabs and stop while the machine sleeps.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && accessToken && Date.now() > accessExpiresAt - 60_000) {
    refresh().catch(() => {});
  }
});

// --- Requests -------------------------------------------------------------------------------

/**
 * Calls one operation of the API.
 * @template {keyof Paths} P
 * @template {MethodOf<P>} M
 * @param {M} method
 * @param {P} path the path template, as in the OpenAPI document
 * @param {Options<Paths[P][M]>} [options]
 * @returns {Promise<Ok<Paths[P][M]>>}
 */
export async function request(method, path, options = {}) {
  const {data} = await send(method, path, options);
  return data;
}

/**
 * Like `request`, also answering the status (e.g. 206 for a home timeline being rebuilt).
 * @template {keyof Paths} P
 * @template {MethodOf<P>} M
 * @param {M} method
 * @param {P} path
 * @param {Options<Paths[P][M]>} [options]
 * @returns {Promise<{data: Ok<Paths[P][M]>, status: number}>}
 */
export async function send(method, path, options = {}) {
  /** @type {Record<string, unknown>} */
  const params = options.params || {};
  let url = String(path).replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(String(params[name])));
  /** @type {Record<string, unknown>} */
  const query = options.query || {};
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null) search.set(key, String(value));
  }
  if (search.size) url += `?${search}`;

  /** @type {Record<string, string>} */
  const headers = {Accept: 'application/json', ...options.headers};
  /** @type {RequestInit} */
  const init = {method: method.toUpperCase(), headers, signal: options.signal, credentials: 'omit'};
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }

  const useAuth = options.auth !== false;
  for (let attempt = 0; ; attempt++) {
    if (useAuth) {
      const token = await freshAccessToken().catch(() => accessToken);
      if (token) headers.Authorization = `Bearer ${token}`;
      else delete headers.Authorization;
    }
    /** @type {Response} */
    let res;
    try {
      res = await fetch(url, init);
    } catch (err) {
      if (err instanceof DOMException && err.name === 'AbortError') throw err;
      throw new ApiError(0, {detail: 'Could not reach Chirp.'});
    }
    if (res.status === 401 && useAuth && headers.Authorization && attempt === 0) {
      // Expired or revoked: one refresh, then the same request again.
      try {
        await refresh();
        continue;
      } catch {
        // Falls through to the 401 below (the session has ended).
      }
    }
    if (!res.ok) {
      /** @type {Partial<Problem>} */
      let problem = {};
      try {
        problem = await res.json();
      } catch {
        problem = {detail: res.statusText};
      }
      throw new ApiError(res.status, problem, parseRetryAfter(res.headers.get('Retry-After')));
    }
    const text = res.status === 204 ? '' : await res.text();
    return {data: text ? JSON.parse(text) : undefined, status: res.status};
  }
}

// --- Operations the client uses --------------------------------------------------------------

/** @param {Schemas['RegisterRequest']} body */
export async function register(body) {
  const tokens = await request('post', '/v1/auth/register', {body, auth: false});
  setTokens(tokens);
  return tokens.user;
}

/** @param {Schemas['LoginRequest']} body */
export async function login(body) {
  const tokens = await request('post', '/v1/auth/login', {body, auth: false});
  setTokens(tokens);
  return tokens.user;
}

export async function logout() {
  try {
    if (accessToken) await request('post', '/v1/auth/logout');
  } finally {
    endSession();
  }
}

/** @param {string} username @param {AbortSignal} [signal] */
export const getUser = (username, signal) =>
  request('get', '/v1/users/{username}', {params: {username}, signal});

/** @param {string} username @param {boolean} on */
export const setFollowing = (username, on) =>
  on
    ? request('put', '/v1/me/following/{username}', {params: {username}})
    : request('delete', '/v1/me/following/{username}', {params: {username}});

/** @param {string} id @param {boolean} on */
export const setLiked = (id, on) =>
  on
    ? request('put', '/v1/tweets/{id}/like', {params: {id}})
    : request('delete', '/v1/tweets/{id}/like', {params: {id}});

/** @param {string} id @param {boolean} on */
export const setReposted = (id, on) =>
  on
    ? request('put', '/v1/tweets/{id}/repost', {params: {id}})
    : request('delete', '/v1/tweets/{id}/repost', {params: {id}});

/**
 * @param {Schemas['CreateTweetRequest']} body
 * @param {string} idempotencyKey the same for retries of the same tweet
 */
export const createTweet = (body, idempotencyKey) =>
  request('post', '/v1/tweets', {body, headers: {'Idempotency-Key': idempotencyKey}});

/** @param {string} id */
export const deleteTweet = (id) => request('delete', '/v1/tweets/{id}', {params: {id}});

/** @param {string} id @param {AbortSignal} [signal] */
export const getTweet = (id, signal) => request('get', '/v1/tweets/{id}', {params: {id}, signal});

/** @param {string} id @param {AbortSignal} [signal] */
export const getTweetContext = (id, signal) =>
  request('get', '/v1/tweets/{id}/context', {params: {id}, signal});

/** @param {string} id @param {string | null} cursor @param {AbortSignal} [signal] */
export const listReplies = (id, cursor, signal) =>
  request('get', '/v1/tweets/{id}/replies', {params: {id}, query: {cursor: cursor ?? undefined}, signal});

/** @param {string} username @param {string | null} cursor @param {AbortSignal} [signal] */
export const listUserTweets = (username, cursor, signal) =>
  request('get', '/v1/users/{username}/tweets', {
    params: {username},
    query: {cursor: cursor ?? undefined},
    signal,
  });

/** @param {{cursor?: string | null, since_id?: string, limit?: number}} q @param {AbortSignal} [signal] */
export const homeTimeline = (q, signal) =>
  send('get', '/v1/timelines/home', {
    query: {cursor: q.cursor ?? undefined, since_id: q.since_id, limit: q.limit},
    signal,
  });

/** @param {string | null} cursor @param {AbortSignal} [signal] */
export const globalTimeline = (cursor, signal) =>
  request('get', '/v1/timelines/global', {query: {cursor: cursor ?? undefined}, signal});

/** @param {string | null} cursor @param {AbortSignal} [signal] */
export const listNotifications = (cursor, signal) =>
  request('get', '/v1/notifications', {query: {cursor: cursor ?? undefined}, signal});

export const unreadCount = async () => (await request('get', '/v1/notifications/unread-count')).count;

/** @param {string} upToId */
export const markNotificationsRead = (upToId) =>
  request('post', '/v1/notifications/read', {body: {up_to_id: upToId}});
