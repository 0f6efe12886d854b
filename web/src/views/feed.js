// A timeline: role="feed" with one <article> per item, paged as one scrolls (an
// IntersectionObserver on the end of the list), and live items that never move what is being
// read: at the top of the page they go in at once, further down they wait behind a
// "N new tweets" button.

import {describeError} from '../api.js';
import {h, plural} from '../dom.js';
import {errorPanel, on} from '../ui.js';

/**
 * @template T
 * @typedef {{
 *   label: string,
 *   render: (item: T) => HTMLElement,
 *   key: (item: T) => string,
 *   load?: (cursor: string | null, signal: AbortSignal) => Promise<{items: T[], next_cursor?: string | null}>,
 *   initial?: T[],
 *   more?: boolean,
 *   emptyText?: string,
 *   noun?: [string, string],
 *   tweets?: boolean,
 *   signal: AbortSignal,
 * }} FeedOptions
 */

/** @template T */
export class Feed {
  /** @param {FeedOptions<T>} opts */
  constructor(opts) {
    this.opts = opts;
    /** @type {Map<string, HTMLElement>} */
    this.items = new Map();
    /** @type {T[]} newest first */
    this.buffer = [];
    /** @type {string | null} */
    this.cursor = null;
    this.done = !opts.load;
    this.loading = false;
    this.feed = h('div', {role: 'feed', 'aria-label': opts.label, 'aria-busy': 'false', class: 'feed'});
    this.newButton = h('button', {type: 'button', class: 'btn primary new-items', hidden: true});
    this.newButton.addEventListener('click', () => this.showBuffered());
    this.empty = h('p', {class: 'empty', hidden: true}, opts.emptyText || 'Nothing here yet.');
    this.more = h('button', {type: 'button', class: 'btn more', hidden: true}, 'Load more');
    this.more.addEventListener('click', () => this.loadMore());
    this.end = h('div', {class: 'feed-end'}, this.more);
    this.el = h('div', {class: 'feed-wrap'}, h('div', {class: 'new-items-bar'}, this.newButton), this.feed, this.empty, this.end);
    this.feed.addEventListener('keydown', (e) => this.onKey(e));
    if (opts.tweets) {
      // Deleted tweets (here or through the stream) leave every timeline.
      on('tweet:removed', /** @param {{id: string}} d */ (d) => this.remove(d.id), opts.signal);
    }

    if (opts.initial) {
      for (const item of opts.initial) this.add(item, 'end');
      this.done = !opts.more;
    }
    this.refresh();
    if (!this.done) {
      this.observer = new IntersectionObserver(
        (entries) => {
          if (entries.some((e) => e.isIntersecting)) this.loadMore();
        },
        {rootMargin: '0px 0px 800px 0px'},
      );
      this.observer.observe(this.end);
      opts.signal.addEventListener('abort', () => this.observer?.disconnect());
    }
  }

  /** @param {string} key */
  has(key) {
    return this.items.has(key) || this.buffer.some((item) => this.opts.key(item) === key);
  }

  /** Whether an article shows this original tweet (itself or a repost of it). @param {string} id */
  showsOriginal(id) {
    return Boolean(this.feed.querySelector(`article[data-orig="${CSS.escape(id)}"]`));
  }

  /** The key of the newest item shown or waiting. */
  newestKey() {
    if (this.buffer.length) return this.opts.key(this.buffer[0]);
    const first = this.feed.firstElementChild;
    return first instanceof HTMLElement ? first.dataset.key || null : null;
  }

  async loadMore() {
    if (this.loading || this.done || !this.opts.load || this.opts.signal.aborted) return;
    this.loading = true;
    let failed = false;
    this.feed.setAttribute('aria-busy', 'true');
    this.end.replaceChildren(h('p', {class: 'loading', role: 'status'}, 'Loading…'));
    try {
      const page = await this.opts.load(this.cursor, this.opts.signal);
      for (const item of page.items) this.add(item, 'end');
      this.cursor = page.next_cursor ?? null;
      this.done = !this.cursor;
      this.end.replaceChildren(this.more);
    } catch (err) {
      if (this.opts.signal.aborted || !describeError(err)) return;
      // No retrying by itself (the sentinel is still in view): the reader decides, with the
      // panel's Try again, so a failing server is not asked again and again.
      failed = true;
      this.end.replaceChildren(
        errorPanel(err, () => {
          this.end.replaceChildren(this.more);
          this.loadMore();
        }),
      );
    } finally {
      this.loading = false;
      this.feed.setAttribute('aria-busy', 'false');
      this.refresh();
    }
    if (!this.done && !failed && this.observer) {
      // Still in view (a short page): observing again reports it again.
      this.observer.unobserve(this.end);
      this.observer.observe(this.end);
    }
  }

  /**
   * @param {T} item
   * @param {'start' | 'end'} where
   */
  add(item, where) {
    const key = this.opts.key(item);
    if (this.items.has(key)) return null;
    const el = this.opts.render(item);
    el.dataset.key = key;
    this.items.set(key, el);
    if (where === 'start') this.feed.prepend(el);
    else this.feed.append(el);
    return el;
  }

  /**
   * A new item for the top (newest first lists): in at once when the reader is at the top of
   * the page, else waiting behind the "N new" button.
   * @param {T} item
   */
  live(item) {
    if (this.has(this.opts.key(item))) return;
    if (window.scrollY < 2 && !this.buffer.length) {
      this.add(item, 'start')?.classList.add('arrived');
      this.refresh();
    } else {
      this.buffer.unshift(item);
      this.refresh();
    }
  }

  /**
   * An item to show at the top at once (the user's own tweet). When the page is scrolled, the
   * scroll position moves with it so that what is on screen stays put.
   * @param {T} item
   */
  prepend(item) {
    const ref = this.feed.firstElementChild;
    const before = ref ? ref.getBoundingClientRect().top : 0;
    this.add(item, 'start')?.classList.add('arrived');
    if (ref && window.scrollY >= 2) window.scrollBy(0, ref.getBoundingClientRect().top - before);
    this.refresh();
  }

  /** An item for the end (oldest first lists, e.g. replies). @param {T} item */
  appendItem(item) {
    this.add(item, 'end');
    this.refresh();
  }

  showBuffered() {
    const items = this.buffer.splice(0);
    /** @type {HTMLElement | null} */
    let first = null;
    for (const item of items.reverse()) {
      const el = this.add(item, 'start');
      el?.classList.add('arrived');
      first = el || first;
    }
    this.refresh();
    window.scrollTo({top: 0});
    const target = first || this.feed.firstElementChild;
    if (target instanceof HTMLElement) target.focus();
  }

  /**
   * Removes an entry, and the entries that repost it.
   * @param {string} id
   */
  remove(id) {
    this.buffer = this.buffer.filter((item) => {
      const k = this.opts.key(item);
      return k !== id && !(/** @type {any} */ (item).repost_of?.id === id);
    });
    const sel = `article[data-key="${CSS.escape(id)}"], article[data-orig="${CSS.escape(id)}"]`;
    for (const el of this.feed.querySelectorAll(sel)) {
      if (!(el instanceof HTMLElement)) continue;
      if (el.contains(document.activeElement)) {
        const next = el.nextElementSibling || el.previousElementSibling;
        if (next instanceof HTMLElement) next.focus();
      }
      this.items.delete(el.dataset.key || '');
      el.remove();
    }
    this.refresh();
  }

  refresh() {
    const articles = this.feed.children;
    for (let i = 0; i < articles.length; i++) {
      articles[i].setAttribute('aria-posinset', String(i + 1));
      articles[i].setAttribute('aria-setsize', this.done ? String(articles.length) : '-1');
    }
    this.empty.hidden = articles.length > 0 || !this.done || this.loading;
    this.more.hidden = this.done || this.loading;
    const n = this.buffer.length;
    const [one, many] = this.opts.noun || ['new tweet', 'new tweets'];
    this.newButton.hidden = n === 0;
    this.newButton.textContent = n ? plural(n, one, many) : '';
  }

  /** Feed keyboard pattern: Page Down / Page Up move between articles. @param {KeyboardEvent} e */
  onKey(e) {
    if (e.key !== 'PageDown' && e.key !== 'PageUp') return;
    const target = /** @type {HTMLElement} */ (e.target);
    if (target.closest('textarea, input')) return;
    const article = target.closest('article');
    if (!article || article.parentElement !== this.feed) return;
    const next = e.key === 'PageDown' ? article.nextElementSibling : article.previousElementSibling;
    if (next instanceof HTMLElement) {
      e.preventDefault();
      next.focus();
    }
  }
}
