// The home timeline (live, with the composer) and the global timeline.

import * as api from '../api.js';
import {h} from '../dom.js';
import {notifyError, on, pageHeading} from '../ui.js';
import {composer} from './compose.js';
import {Feed} from './feed.js';
import {tweetArticle} from './tweet.js';

/** @typedef {import('../api.js').Tweet} Tweet */
/** @typedef {import('../ui.js').ViewContext} ViewContext */

let rebuildRetries = 0;

/** @param {ViewContext} ctx */
export function homeView(ctx) {
  const {main, signal} = ctx;
  ctx.setTitle('Home');
  const user = api.me();
  const compose = composer({label: 'New tweet', submitLabel: 'Post', placeholder: "What's happening?"});
  /** @type {Feed<Tweet>} */
  const feed = new Feed({
    label: 'Home timeline',
    render: (t) => tweetArticle(t),
    key: (t) => t.id,
    signal,
    emptyText: 'Nothing here yet. Post your first tweet, or follow people to see theirs here.',
    tweets: true,
    load: async (cursor, sig) => {
      const {data, status} = await api.homeTimeline({cursor}, sig);
      if (status === 206 && !cursor && rebuildRetries < 5) {
        // Being rebuilt after a spell of inactivity: read again shortly for the whole of it.
        rebuildRetries++;
        setTimeout(() => signal.aborted || ctx.reload(), 1500);
      } else if (!cursor) {
        rebuildRetries = 0;
      }
      return data;
    },
  });
  main.append(
    pageHeading('Home'),
    h('section', {class: 'panel compose-panel', 'aria-label': 'Post a tweet'}, compose.form),
    h('section', {'aria-label': 'Timeline'}, feed.el),
  );
  feed.loadMore();

  /** @param {Tweet} t */
  const arrived = (t) => {
    // A repost of what the timeline shows already would only repeat it.
    if (t.repost_of && feed.showsOriginal(t.repost_of.id)) return;
    feed.live(t);
  };
  on('stream:tweet', arrived, signal);
  on('tweet:created', /** @param {Tweet} t */ (t) => feed.prepend(t), signal);
  on(
    'stream:reconnected',
    async () => {
      // The stream had to be opened anew: fetch what came in meanwhile.
      const since = feed.newestKey();
      if (!since || !user) return;
      try {
        const {data} = await api.homeTimeline({since_id: since, limit: 100}, signal);
        for (const t of data.items.slice().reverse()) arrived(t);
      } catch (err) {
        if (!signal.aborted) notifyError(err);
      }
    },
    signal,
  );
}

/** @param {ViewContext} ctx */
export function globalView(ctx) {
  const {main, signal} = ctx;
  ctx.setTitle('Global');
  /** @type {Feed<Tweet>} */
  const feed = new Feed({
    label: 'Global timeline',
    render: (t) => tweetArticle(t),
    key: (t) => t.id,
    signal,
    tweets: true,
    emptyText: 'No tweets yet.',
    load: (cursor, sig) => api.globalTimeline(cursor, sig),
  });
  main.append(
    pageHeading('Global'),
    h('p', {class: 'lede'}, 'The newest tweets from everyone on Chirp.'),
    h('section', {'aria-label': 'Timeline'}, feed.el),
  );
  feed.loadMore();
}
