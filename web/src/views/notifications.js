// The notifications: newest first, live, and marked read once shown.

import * as api from '../api.js';
import {h, nextId, srOnly} from '../dom.js';
import {markRead, unread} from '../badge.js';
import {timeEl} from '../time.js';
import {icon, on, pageHeading} from '../ui.js';
import {Feed} from './feed.js';
import {profileHref, tweetHref} from './tweet.js';

/** @typedef {import('../api.js').Notification} Notification */

const VERBS = {
  follow: ' followed you',
  like: ' liked your tweet',
  repost: ' reposted your tweet',
  reply: ' replied to your tweet',
  mention: ' mentioned you',
};

/**
 * @param {Notification} n
 * @param {boolean} isUnread
 */
function notificationArticle(n, isUnread) {
  const id = nextId('nt');
  const actor = n.actor.display_name || n.actor.username;
  const article = h(
    'article',
    {class: isUnread ? 'notification unread' : 'notification', 'aria-labelledby': `${id}-what`, tabindex: '-1'},
    h(
      'p',
      {class: 'what', id: `${id}-what`},
      icon(n.type === 'mention' ? 'reply' : n.type),
      h('a', {href: profileHref(n.actor.username), class: 'author'}, actor),
      VERBS[n.type] || '',
      isUnread ? srOnly(' (new)') : null,
    ),
    h('p', {class: 'when'}, timeEl(n.created_at)),
  );
  if (n.tweet) {
    article.append(h('a', {href: tweetHref(n.tweet.id), class: 'quote'}, n.tweet.text || '(repost)'));
  }
  return article;
}

/** @param {import('../ui.js').ViewContext} ctx */
export function notificationsView(ctx) {
  const {main, signal} = ctx;
  ctx.setTitle('Notifications');
  // The ones newer than the read marker: the first `unread()` of the list, and live ones.
  const fresh = new Set();
  let marked = false;
  /** @type {Feed<Notification>} */
  const feed = new Feed({
    label: 'Notifications',
    render: (n) => notificationArticle(n, fresh.has(n.id)),
    key: (n) => n.id,
    signal,
    noun: ['new notification', 'new notifications'],
    emptyText: 'No notifications yet. When someone follows you, likes, reposts, replies to or mentions you, it shows here.',
    load: async (cursor, sig) => {
      const page = await api.listNotifications(cursor, sig);
      if (!marked && page.items.length) {
        marked = true;
        for (const n of page.items.slice(0, unread())) fresh.add(n.id);
        markRead(page.items[0].id);
      }
      return page;
    },
  });
  main.append(pageHeading('Notifications'), h('section', {'aria-label': 'Notifications'}, feed.el));
  feed.loadMore();
  on(
    'stream:notification',
    /** @param {Notification} n */ (n) => {
      fresh.add(n.id);
      feed.live(n);
      if (document.visibilityState === 'visible') markRead(n.id);
    },
    signal,
  );
}
