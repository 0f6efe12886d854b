// Shared bits of the interface: the app's event bus, status messages, error panels.

import {ApiError, describeError} from './api.js';
import {h} from './dom.js';

/**
 * Events between the parts of the app: `tweet:created` (a Tweet this user posted),
 * `tweet:removed` ({id}: an entry left, and the reposts of it), `stream:tweet` (a Tweet
 * entering the home timeline), `stream:notification`, `stream:reconnected` (catch up).
 */
const bus = new EventTarget();

/**
 * @param {string} type
 * @param {unknown} [detail]
 */
export function emit(type, detail) {
  bus.dispatchEvent(new CustomEvent(type, {detail}));
}

/**
 * @template T
 * @param {string} type
 * @param {(detail: T) => void} fn
 * @param {AbortSignal} [signal] removes the listener when aborted
 */
export function on(type, fn, signal) {
  bus.addEventListener(type, (e) => fn(/** @type {CustomEvent<T>} */ (e).detail), {signal});
}

/** @type {ReturnType<typeof setTimeout> | undefined} */
let statusTimer;

/**
 * Shows (and announces) a short message.
 * @param {string} message
 * @param {'info' | 'error'} [kind]
 */
export function notify(message, kind = 'info') {
  if (!message) return;
  const box = document.getElementById(kind === 'error' ? 'alert' : 'status');
  const other = document.getElementById(kind === 'error' ? 'status' : 'alert');
  if (!box) return;
  if (other) other.textContent = '';
  box.textContent = message;
  box.closest('.toasts')?.classList.add('show');
  clearTimeout(statusTimer);
  statusTimer = setTimeout(
    () => {
      box.textContent = '';
      box.closest('.toasts')?.classList.remove('show');
    },
    kind === 'error' ? 8000 : 4000,
  );
}

/** @param {unknown} err */
export function notifyError(err) {
  notify(describeError(err), 'error');
}

/**
 * A panel saying what went wrong, with a `Try again` button.
 * @param {unknown} err
 * @param {() => void} retry
 */
export function errorPanel(err, retry) {
  const unavailable = err instanceof ApiError && (err.status === 503 || err.status === 0);
  return h(
    'div',
    {class: 'panel error-panel', role: 'alert'},
    h('p', null, describeError(err)),
    h('button', {type: 'button', class: unavailable ? 'btn primary' : 'btn', onclick: retry}, 'Try again'),
  );
}

/**
 * A page's heading (focused after navigating, so screen readers announce the new page).
 * @param {string} text
 * @param {string} [cls]
 */
export const pageHeading = (text, cls) => h('h1', {tabindex: '-1', class: cls || 'page-title'}, text);

/**
 * @param {string} name
 * @returns {SVGSVGElement}
 */
export function icon(name) {
  const paths = {
    reply: 'M4 5h16v10H9l-5 4z',
    repost: 'M7 7h10v4l4-4-4-4v4M17 17H7v-4l-4 4 4 4v-4',
    like: 'M12 20s-7-4.4-7-10a4 4 0 0 1 7-2.6A4 4 0 0 1 19 10c0 5.6-7 10-7 10z',
    delete: 'M5 7h14M10 7V4h4v3M7 7l1 13h8l1-13',
    follow: 'M9 11a4 4 0 1 0 0-8 4 4 0 0 0 0 8zM2 21a7 7 0 0 1 14 0M19 8v6M16 11h6',
  };
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.setAttribute('class', `icon icon-${name}`);
  const path = document.createElementNS(ns, 'path');
  path.setAttribute('d', paths[/** @type {keyof typeof paths} */ (name)] || '');
  svg.appendChild(path);
  return svg;
}

/**
 * What a page's view gets: where to render, a signal aborted when the page is left, the
 * route's parameters, and a way to render the page again.
 * @typedef {{
 *   main: HTMLElement,
 *   signal: AbortSignal,
 *   params: string[],
 *   reload: () => void,
 *   setTitle: (title: string) => void,
 * }} ViewContext
 */
