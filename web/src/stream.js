// The live home timeline: an EventSource on GET /v1/streaming/home.
//
// The browser reconnects by itself after a dropped connection, sending Last-Event-ID, so
// nothing is missed. A new access token needs a new EventSource (the token is in the URL, the
// only way EventSource can send it): the new one is opened first and the old one closed once
// the new one is up, so that there is no gap; events both deliver are told apart by their
// `id:` and handled once. When a stream is refused (expired token, too many streams, the server
// is down) it is opened again, with a fresh token and a growing delay, and `onResume` tells the
// app to catch up on what it may have missed.

/** @typedef {import('./api.js').Tweet} Tweet */
/** @typedef {import('./api.js').Notification} Notification */
/** @typedef {import('./api.js').StreamDelete} StreamDelete */

/**
 * @typedef {{
 *   onTweet: (tweet: Tweet) => void,
 *   onDelete: (data: StreamDelete) => void,
 *   onNotification: (n: Notification) => void,
 *   onResume: () => void,
 *   token: () => Promise<string | null>,
 * }} StreamHandlers
 */

export class HomeStream {
  /** @param {StreamHandlers} handlers */
  constructor(handlers) {
    this.handlers = handlers;
    /** @type {EventSource | null} */
    this.source = null;
    /** @type {string | null} */
    this.token = null;
    /** @type {Set<string>} ids of the latest events handled */
    this.seen = new Set();
    this.delay = 1000;
    this.lost = false;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
  }

  /**
   * Opens the stream with this token (again only if the token changed or it was refused).
   * @param {string | null} token
   */
  connect(token) {
    if (!token) return this.close();
    if (this.source && this.token === token && this.source.readyState !== EventSource.CLOSED) return;
    clearTimeout(this.timer);
    this.token = token;
    const previous = this.source;
    const source = new EventSource(`/v1/streaming/home?access_token=${encodeURIComponent(token)}`);
    this.source = source;
    source.addEventListener('tweet', (e) => this.handle(e, (d) => this.handlers.onTweet(d)));
    source.addEventListener('delete', (e) => this.handle(e, (d) => this.handlers.onDelete(d)));
    source.addEventListener('notification', (e) => this.handle(e, (d) => this.handlers.onNotification(d)));
    source.addEventListener('open', () => {
      if (previous && previous !== this.source) previous.close();
      if (this.source !== source) return;
      this.delay = 1000;
      if (this.lost) {
        this.lost = false;
        this.handlers.onResume();
      }
    });
    source.addEventListener('error', () => {
      if (this.source !== source) {
        source.close();
        return;
      }
      if (source.readyState === EventSource.CLOSED) {
        // Refused (not a dropped connection, which the browser retries by itself).
        previous?.close();
        this.source = null;
        this.lost = true;
        this.retry();
      }
    });
  }

  retry() {
    clearTimeout(this.timer);
    const wait = this.delay * (0.75 + Math.random() / 2);
    this.delay = Math.min(this.delay * 2, 30_000);
    this.timer = setTimeout(async () => {
      /** @type {string | null} */
      let token = null;
      try {
        token = await this.handlers.token();
      } catch {
        // The refresh failed: a logout closes us; anything else tries again.
        if (this.token) this.retry();
        return;
      }
      if (!this.token) return; // closed meanwhile
      this.token = null;
      this.connect(token);
    }, wait);
  }

  close() {
    clearTimeout(this.timer);
    this.source?.close();
    this.source = null;
    this.token = null;
    this.lost = false;
  }

  /**
   * @template T
   * @param {Event} event
   * @param {(data: T) => void} fn
   */
  handle(event, fn) {
    const e = /** @type {MessageEvent<string>} */ (event);
    if (e.lastEventId) {
      if (this.seen.has(e.lastEventId)) return;
      this.seen.add(e.lastEventId);
      if (this.seen.size > 500) this.seen.delete(this.seen.values().next().value ?? '');
    }
    /** @type {T} */
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    fn(data);
  }
}
