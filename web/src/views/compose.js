// The form to post a tweet or a reply, with a live count of the characters left.

import {ApiError, createTweet, describeError} from '../api.js';
import {h, nextId, randomKey} from '../dom.js';
import {emit, notify} from '../ui.js';

const MAX_LENGTH = 280;

/** Code points after NFC normalisation, as the API counts them. @param {string} text */
const tweetLength = (text) => [...text.normalize('NFC')].length;

/**
 * @param {{
 *   label: string,
 *   submitLabel: string,
 *   inReplyTo?: string,
 *   placeholder?: string,
 *   onPosted?: (tweet: import('../api.js').Tweet) => void,
 *   onCancel?: () => void,
 * }} opts
 */
export function composer(opts) {
  const id = nextId('compose');
  const counter = h('span', {class: 'counter', id: `${id}-count`});
  const announcer = h('span', {class: 'sr-only', 'aria-live': 'polite'});
  const error = h('p', {class: 'form-error', id: `${id}-error`, role: 'alert', hidden: true});
  const field = h('textarea', {
    id: `${id}-text`,
    name: 'text',
    rows: opts.inReplyTo ? '2' : '3',
    placeholder: opts.placeholder || '',
    'aria-describedby': `${id}-count ${id}-error`,
  });
  const submit = h('button', {type: 'submit', class: 'btn primary'}, opts.submitLabel);
  const form = h(
    'form',
    {class: opts.inReplyTo ? 'compose reply-compose' : 'compose', novalidate: true},
    h('label', {for: field.id, class: 'compose-label'}, opts.label),
    field,
    h(
      'div',
      {class: 'compose-bar'},
      counter,
      announcer,
      opts.onCancel && h('button', {type: 'button', class: 'btn', onclick: opts.onCancel}, 'Cancel'),
      submit,
    ),
    error,
  );

  let key = randomKey();
  let busy = false;
  let lastAnnounced = '';

  function update() {
    const left = MAX_LENGTH - tweetLength(field.value);
    counter.textContent = left >= 0 ? `${left} characters left` : `${-left} characters too many`;
    counter.classList.toggle('warn', left <= 20 && left >= 0);
    counter.classList.toggle('over', left < 0);
    field.setAttribute('aria-invalid', String(left < 0));
    submit.disabled = busy || left < 0 || !/\S/.test(field.value);
    // Announce only on the way to the limit, not at every keystroke.
    const say = left < 0 ? 'Too long' : left === 0 ? 'No characters left' : left <= 20 && left % 10 === 0 ? `${left} characters left` : '';
    if (say !== lastAnnounced) {
      if (say) announcer.textContent = say;
      lastAnnounced = say;
    }
  }

  /** @param {string} message */
  function showError(message) {
    error.textContent = message;
    error.hidden = !message;
  }

  field.addEventListener('input', () => {
    key = randomKey(); // another text is another tweet
    showError('');
    update();
  });
  field.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      form.requestSubmit();
    } else if (e.key === 'Escape' && opts.onCancel) {
      e.preventDefault();
      opts.onCancel();
    }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    busy = true;
    update();
    showError('');
    try {
      const tweet = await createTweet(
        opts.inReplyTo ? {text: field.value, in_reply_to_id: opts.inReplyTo} : {text: field.value},
        key, // the same key when retrying the same text after a failure: never posted twice
      );
      field.value = '';
      key = randomKey();
      notify(opts.inReplyTo ? 'Your reply was sent.' : 'Your tweet was posted.');
      emit('tweet:created', tweet);
      opts.onPosted?.(tweet);
    } catch (err) {
      const fieldMessages =
        err instanceof ApiError && Array.isArray(err.problem.errors)
          ? err.problem.errors.map((f) => f.message).filter((m) => m && m !== err.message)
          : [];
      showError([describeError(err), ...fieldMessages].filter(Boolean).join(' '));
    } finally {
      busy = false;
      update();
    }
  });
  update();

  return {form, focus: () => field.focus()};
}
