// Relative times: "now", "3m", "2h", "5d", then a date.

import {h, srOnly} from './dom.js';

const MINUTE = 60;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/**
 * @param {string} iso an RFC 3339 timestamp
 * @param {number} [now] ms since the epoch
 * @returns {{short: string, long: string}} what to show, and what to say
 */
function relativeTime(iso, now = Date.now()) {
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return {short: '', long: ''};
  const s = Math.max(0, Math.floor((now - at) / 1000));
  /** @param {number} n @param {string} unit @param {string} suffix */
  const ago = (n, unit, suffix) => ({short: `${n}${suffix}`, long: `${n} ${unit}${n === 1 ? '' : 's'} ago`});
  if (s < MINUTE) return {short: 'now', long: 'just now'};
  if (s < HOUR) return ago(Math.floor(s / MINUTE), 'minute', 'm');
  if (s < DAY) return ago(Math.floor(s / HOUR), 'hour', 'h');
  if (s < 7 * DAY) return ago(Math.floor(s / DAY), 'day', 'd');
  const date = new Date(at);
  const sameYear = date.getFullYear() === new Date(now).getFullYear();
  const text = date.toLocaleDateString(undefined, {
    month: 'short',
    day: 'numeric',
    year: sameYear ? undefined : 'numeric',
  });
  return {short: text, long: text};
}

/** @param {string} iso */
function fullDate(iso) {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '' : new Date(at).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'});
}

/**
 * A `<time>` showing the relative time, kept current by `refreshTimes`.
 * @param {string} iso
 */
export function timeEl(iso) {
  const el = h('time', {datetime: iso, title: fullDate(iso)});
  fill(el, iso);
  return el;
}

/** @param {HTMLElement} el @param {string} iso */
function fill(el, iso) {
  const {short, long} = relativeTime(iso);
  el.replaceChildren(h('span', {'aria-hidden': 'true'}, short), srOnly(long));
}

/** Brings every relative time on the page up to date. */
export function refreshTimes() {
  for (const el of document.querySelectorAll('time[datetime]')) {
    const iso = el.getAttribute('datetime');
    if (iso && el instanceof HTMLElement) fill(el, iso);
  }
}
