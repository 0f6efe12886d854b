// The unread-notifications count: the badge on the Notifications link and the page title.

import * as api from './api.js';

let count = 0;
let baseTitle = 'Chirp';

export const unread = () => count;

/** @param {number} n */
export function setUnread(n) {
  count = Math.max(0, n);
  const badge = document.getElementById('unread-badge');
  const desc = document.getElementById('unread-desc');
  if (badge) {
    badge.textContent = count > 99 ? '99+' : String(count);
    badge.hidden = count === 0;
  }
  if (desc) desc.textContent = count ? `${count} unread` : '';
  paintTitle();
}

/** @param {string} title the page's own title */
export function setPageTitle(title) {
  baseTitle = title ? `${title} / Chirp` : 'Chirp';
  paintTitle();
}

function paintTitle() {
  document.title = count ? `(${count}) ${baseTitle}` : baseTitle;
}

/** Asks the API (at login, and after the stream was lost for a while). */
export async function fetchUnread() {
  if (!api.me()) return setUnread(0);
  try {
    setUnread(await api.unreadCount());
  } catch {
    // Keeps the count it has; the next notification or reload tells.
  }
}

/** Marks every notification up to this id as read. @param {string} upToId */
export async function markRead(upToId) {
  setUnread(0);
  try {
    await api.markNotificationsRead(upToId);
  } catch {
    fetchUnread();
  }
}
