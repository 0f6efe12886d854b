// A tweet's page: what it answers (root first), the tweet, and its replies (oldest first).

import * as api from '../api.js';
import {h} from '../dom.js';
import {errorPanel, on, pageHeading} from '../ui.js';
import {Feed} from './feed.js';
import {tweetArticle} from './tweet.js';

/** @typedef {import('../api.js').Tweet} Tweet */

/** @param {import('../ui.js').ViewContext} ctx */
export async function threadView(ctx) {
  const {main, signal} = ctx;
  const id = ctx.params[0];
  ctx.setTitle('Tweet');
  const status = h('p', {class: 'loading', role: 'status'}, 'Loading…');
  main.append(pageHeading('Tweet'), status);

  /** @type {Tweet} */
  let tweet;
  /** @type {import('../api.js').Schemas['TweetContextResponse']} */
  let context;
  try {
    tweet = await api.getTweet(id, signal);
    if (tweet.repost_of) {
      // A repost's page is its original's.
      location.replace(`#/t/${encodeURIComponent(tweet.repost_of.id)}`);
      return;
    }
    context = await api.getTweetContext(id, signal);
  } catch (err) {
    if (signal.aborted) return;
    status.replaceWith(
      err instanceof api.ApiError && err.status === 404
        ? h('p', {class: 'panel'}, 'This tweet doesn’t exist, or it was deleted.')
        : errorPanel(err, ctx.reload),
    );
    return;
  }
  if (signal.aborted) return;
  const who = tweet.author.display_name || tweet.author.username;
  ctx.setTitle(`${who}: “${tweet.text.slice(0, 40)}${tweet.text.length > 40 ? '…' : ''}”`);

  /** @type {Feed<Tweet>} */
  const conversation = new Feed({
    label: 'Conversation',
    render: (t) => tweetArticle(t, {main: t.id === tweet.id}),
    key: (t) => t.id,
    signal,
    tweets: true,
    initial: [...context.ancestors, tweet],
  });
  /** @type {Feed<Tweet>} */
  const replies = new Feed({
    label: 'Replies',
    render: (t) => tweetArticle(t),
    key: (t) => t.id,
    signal,
    tweets: true,
    emptyText: 'No replies yet.',
    initial: context.replies,
    // The context has the first 60: beyond them, page through all replies (repeats are skipped).
    more: context.replies.length >= 60,
    load: (cursor, sig) => api.listReplies(tweet.id, cursor, sig),
  });
  status.replaceWith(
    h('section', {'aria-label': 'Conversation'}, conversation.el),
    h('section', {'aria-labelledby': 'replies-title', class: 'replies'}, h('h2', {id: 'replies-title'}, 'Replies'), replies.el),
  );
  if (context.ancestors.length) {
    // Show the tweet itself, with what it answers above it.
    main.querySelector('.main-tweet')?.scrollIntoView({block: 'start'});
  }
  on(
    'tweet:created',
    /** @param {Tweet} t */ (t) => {
      if (t.in_reply_to_id === tweet.id) replies.appendItem(t);
    },
    signal,
  );
}
