// One tweet as an <article>: author, text (mentions as profile links), time, and actions.

import * as api from '../api.js';
import {h, nextId, plural, srOnly} from '../dom.js';
import {timeEl} from '../time.js';
import {emit, icon, notify, notifyError} from '../ui.js';
import {composer} from './compose.js';

/** @typedef {import('../api.js').Tweet} Tweet */

/** The newest copy seen of every original tweet shown (its counts and flags). */
const latest = new Map();

/** @param {string} username */
export const profileHref = (username) => `#/u/${encodeURIComponent(username)}`;
/** @param {string} id */
export const tweetHref = (id) => `#/t/${encodeURIComponent(id)}`;

const MENTION = /(?<![A-Za-z0-9_])@([A-Za-z0-9_]{1,15})(?![A-Za-z0-9_])/g;

/**
 * The text of a tweet, with the `@name`s it mentions as links to their profiles.
 * @param {string} text
 * @param {Tweet['mentions']} mentions
 */
function tweetText(text, mentions) {
  const known = new Set(mentions.map((m) => m.username.toLowerCase()));
  const frag = document.createDocumentFragment();
  let at = 0;
  for (const match of text.matchAll(MENTION)) {
    const name = match[1];
    const start = match.index ?? 0;
    if (!known.has(name.toLowerCase())) continue;
    frag.append(text.slice(at, start), h('a', {href: profileHref(name), class: 'mention'}, `@${name}`));
    at = start + match[0].length;
  }
  frag.append(text.slice(at));
  return frag;
}

/**
 * @param {Tweet} entry a tweet, or a repost (whose `repost_of` is shown)
 * @param {{main?: boolean}} [opts] `main`: the tweet a thread page is about
 */
export function tweetArticle(entry, opts = {}) {
  const tweet = remember(entry.repost_of || entry);
  const id = nextId('tw');
  const user = api.me();
  const isRepost = Boolean(entry.repost_of);

  const labelled = [`${id}-by`];
  /** @type {HTMLElement | null} */
  let repostNote = null;
  if (isRepost) {
    labelled.unshift(`${id}-rp`);
    repostNote = h(
      'p',
      {class: 'note', id: `${id}-rp`},
      icon('repost'),
      h('a', {href: profileHref(entry.author.username)}, entry.author.display_name || entry.author.username),
      ' reposted',
    );
  }
  const replyNote =
    tweet.in_reply_to_id &&
    h('p', {class: 'note'}, icon('reply'), 'Replying to ', h('a', {href: tweetHref(tweet.in_reply_to_id)}, 'an earlier tweet'));

  const article = h(
    'article',
    {
      class: opts.main ? 'tweet main-tweet' : 'tweet',
      'data-id': entry.id,
      'data-orig': tweet.id,
      'aria-labelledby': labelled.join(' '),
      'aria-describedby': `${id}-text`,
      tabindex: '-1',
    },
    repostNote,
    h(
      'header',
      {class: 'tweet-head'},
      h(
        'a',
        {href: profileHref(tweet.author.username), class: 'author', id: `${id}-by`},
        h('span', {class: 'name'}, tweet.author.display_name || tweet.author.username),
        ' ',
        h('span', {class: 'handle'}, `@${tweet.author.username}`),
      ),
      h('span', {class: 'dot', 'aria-hidden': 'true'}, '·'),
      h('a', {href: tweetHref(tweet.id), class: 'permalink'}, timeEl(tweet.created_at)),
    ),
    replyNote,
    h('p', {class: 'text', id: `${id}-text`}, tweetText(tweet.text, tweet.mentions)),
  );

  if (!user) {
    article.append(h('p', {class: 'stats'}, statsText(tweet)));
    return article;
  }

  const boxId = `${id}-reply`;
  const replyBtn = h(
    'button',
    {type: 'button', class: 'act act-reply', 'aria-expanded': 'false', 'aria-controls': boxId, 'data-act': 'reply'},
    icon('reply'),
    label('Reply'),
  );
  const repostBtn = h('button', {type: 'button', class: 'act act-repost', 'data-act': 'repost'}, icon('repost'), label('Repost'));
  const likeBtn = h('button', {type: 'button', class: 'act act-like', 'data-act': 'like'}, icon('like'), label('Like'));
  const actions = h(
    'div',
    {class: 'actions'},
    h('span', {class: 'action'}, replyBtn, h('span', {class: 'count', 'data-count': 'reply'})),
    h('span', {class: 'action'}, repostBtn, h('span', {class: 'count', 'data-count': 'repost'})),
    h('span', {class: 'action'}, likeBtn, h('span', {class: 'count', 'data-count': 'like'})),
  );
  if (!isRepost && entry.author.id === user.id) {
    const del = h('button', {type: 'button', class: 'act act-delete', 'data-act': 'delete'}, icon('delete'), label('Delete'));
    del.addEventListener('click', () => removeTweet(entry, del));
    actions.append(h('span', {class: 'action'}, del));
  }
  article.append(actions);

  const box = h('div', {class: 'reply-box', id: boxId, hidden: true});
  article.append(box);
  /** @type {ReturnType<typeof composer> | null} */
  let reply = null;
  const closeReply = () => {
    box.hidden = true;
    replyBtn.setAttribute('aria-expanded', 'false');
    replyBtn.focus();
  };
  replyBtn.addEventListener('click', () => {
    if (!box.hidden) return closeReply();
    if (!reply) {
      reply = composer({
        label: 'Your reply',
        submitLabel: 'Send reply',
        inReplyTo: tweet.id,
        placeholder: `Reply to @${tweet.author.username}`,
        onCancel: closeReply,
        onPosted: () => {
          const now = latest.get(tweet.id) || tweet;
          updateTweet({...now, reply_count: now.reply_count + 1});
          closeReply();
        },
      });
      box.append(reply.form);
    }
    box.hidden = false;
    replyBtn.setAttribute('aria-expanded', 'true');
    reply.focus();
  });
  likeBtn.addEventListener('click', () => toggle(tweet.id, 'liked', likeBtn));
  repostBtn.addEventListener('click', () => toggle(tweet.id, 'reposted', repostBtn));

  paint(article, tweet);
  return article;
}

/**
 * Keeps the newest copy of a tweet; one without the caller's flags keeps the known ones.
 * @param {Tweet} t
 */
function remember(t) {
  const prev = latest.get(t.id);
  if (prev) {
    if (t.liked == null && prev.liked != null) t = {...t, liked: prev.liked};
    if (t.reposted == null && prev.reposted != null) t = {...t, reposted: prev.reposted};
  }
  latest.set(t.id, t);
  return t;
}

/** A button's name, shown on wide screens (icons only on phones). @param {string} text */
const label = (text) => h('span', {class: 'label'}, text);

/** @param {Tweet} t */
const statsText = (t) =>
  [plural(t.reply_count, 'reply', 'replies'), plural(t.repost_count, 'repost'), plural(t.like_count, 'like')].join(' · ');

/**
 * Shows a tweet's counts and the user's likes and reposts of it.
 * @param {Element} article
 * @param {Tweet} t
 */
function paint(article, t) {
  /** @param {string} name @param {number} n @param {string} one @param {string} [many] */
  const count = (name, n, one, many) => {
    const el = article.querySelector(`[data-count="${name}"]`);
    if (el) el.replaceChildren(...(n > 0 ? [h('span', {'aria-hidden': 'true'}, String(n)), srOnly(plural(n, one, many))] : []));
  };
  count('reply', t.reply_count, 'reply', 'replies');
  count('repost', t.repost_count, 'repost');
  count('like', t.like_count, 'like');
  article.querySelector('[data-act="like"]')?.setAttribute('aria-pressed', String(Boolean(t.liked)));
  article.querySelector('[data-act="repost"]')?.setAttribute('aria-pressed', String(Boolean(t.reposted)));
  const stats = article.querySelector('.stats');
  if (stats) stats.textContent = statsText(t);
}

/**
 * A tweet changed (counts, flags): every copy of it on the page shows it.
 * @param {Tweet} t an original tweet
 */
function updateTweet(t) {
  t = remember(t);
  for (const article of document.querySelectorAll(`article[data-orig="${CSS.escape(t.id)}"]`)) paint(article, t);
}

/** Remembers the newest counts of a tweet seen elsewhere (a stream event). @param {Tweet} entry */
export function sawTweet(entry) {
  updateTweet(entry.repost_of || entry);
}

const pending = new Set();

/**
 * @param {string} id the original tweet
 * @param {'liked' | 'reposted'} flag
 * @param {HTMLButtonElement} button
 */
async function toggle(id, flag, button) {
  const key = `${flag}:${id}`;
  if (pending.has(key)) return;
  pending.add(key);
  const before = latest.get(id);
  const on = !(before && before[flag]);
  // Show it at once; the answer (the tweet as it now is) settles the counts.
  button.setAttribute('aria-pressed', String(on));
  try {
    const tweet = flag === 'liked' ? await api.setLiked(id, on) : await api.setReposted(id, on);
    updateTweet(tweet);
    if (flag === 'reposted') notify(on ? 'Reposted.' : 'Repost undone.');
  } catch (err) {
    if (before) updateTweet(before);
    notifyError(err);
  } finally {
    pending.delete(key);
  }
}

/**
 * @param {Tweet} entry
 * @param {HTMLButtonElement} button
 */
async function removeTweet(entry, button) {
  button.disabled = true;
  try {
    await api.deleteTweet(entry.id);
    emit('tweet:removed', {id: entry.id});
    notify('Your tweet was deleted.');
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 404) {
      emit('tweet:removed', {id: entry.id});
    } else {
      button.disabled = false;
      notifyError(err);
    }
  }
}
