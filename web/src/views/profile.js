// A user's page: the profile, Follow / Unfollow, and their tweets.

import * as api from '../api.js';
import {h, plural} from '../dom.js';
import {errorPanel, notify, notifyError, on, pageHeading} from '../ui.js';
import {Feed} from './feed.js';
import {tweetArticle} from './tweet.js';

/** @typedef {import('../api.js').Tweet} Tweet */
/** @typedef {import('../api.js').User} User */

/** @param {import('../ui.js').ViewContext} ctx */
export async function profileView(ctx) {
  const {main, signal} = ctx;
  const username = ctx.params[0];
  ctx.setTitle(`@${username}`);
  const heading = pageHeading(`@${username}`);
  const card = h('section', {class: 'panel profile', 'aria-labelledby': 'profile-name'});
  heading.id = 'profile-name';
  card.append(heading, h('p', {class: 'loading', role: 'status'}, 'Loading…'));
  main.append(card);

  /** @type {User} */
  let user;
  try {
    user = await api.getUser(username, signal);
  } catch (err) {
    if (signal.aborted) return;
    card.replaceChildren(heading);
    if (err instanceof api.ApiError && err.status === 404) {
      card.append(h('p', null, 'This account doesn’t exist.'));
    } else {
      card.append(errorPanel(err, ctx.reload));
    }
    return;
  }
  if (signal.aborted) return;
  ctx.setTitle(`${user.display_name || user.username} (@${user.username})`);

  heading.replaceChildren(h('span', {class: 'name'}, user.display_name || user.username));
  const handle = h('p', {class: 'handle'}, `@${user.username}`);
  const followsYou = h('span', {class: 'tag', hidden: !user.followed_by}, 'Follows you');
  const followers = h('span');
  const following = h('span');
  const tweets = h('span');
  const counts = () => {
    tweets.textContent = plural(user.tweet_count, 'tweet');
    following.textContent = `${user.following_count} following`;
    followers.textContent = plural(user.followers_count, 'follower');
  };
  counts();
  card.replaceChildren(heading, h('p', {class: 'handle-line'}, handle, followsYou));
  if (user.bio) card.append(h('p', {class: 'bio'}, user.bio));
  card.append(
    h('p', {class: 'counts'}, tweets, following, followers),
    h('p', {class: 'joined'}, `Joined ${joined(user.created_at)}`),
  );

  const self = api.me();
  if (self && self.id !== user.id) {
    const button = h('button', {type: 'button', class: 'btn primary follow'});
    const paint = () => {
      button.textContent = user.following ? 'Unfollow' : 'Follow';
      button.classList.toggle('primary', !user.following);
    };
    paint();
    button.addEventListener('click', async () => {
      button.disabled = true;
      const want = !user.following;
      try {
        user = {...user, ...(await api.setFollowing(user.username, want))};
        user.following = want;
        paint();
        counts();
        notify(want ? `You follow @${user.username} now.` : `You no longer follow @${user.username}.`);
      } catch (err) {
        notifyError(err);
      } finally {
        button.disabled = false;
      }
    });
    card.append(h('div', {class: 'profile-actions'}, button));
  }

  /** @type {Feed<Tweet>} */
  const feed = new Feed({
    label: `Tweets by @${user.username}`,
    render: (t) => tweetArticle(t),
    key: (t) => t.id,
    signal,
    tweets: true,
    emptyText: `@${user.username} hasn’t tweeted yet.`,
    load: (cursor, sig) => api.listUserTweets(user.username, cursor, sig),
  });
  main.append(h('section', {'aria-label': 'Tweets'}, h('h2', {class: 'sr-only'}, 'Tweets'), feed.el));
  feed.loadMore();
  if (self && self.id === user.id) on('tweet:created', /** @param {Tweet} t */ (t) => feed.prepend(t), signal);
}

/** @param {string} iso */
function joined(iso) {
  const at = Date.parse(iso);
  return Number.isNaN(at) ? '' : new Date(at).toLocaleDateString(undefined, {month: 'long', year: 'numeric'});
}
