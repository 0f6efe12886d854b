// Log in and sign up.

import * as api from '../api.js';
import {h} from '../dom.js';
import {pageHeading} from '../ui.js';

/**
 * @typedef {{
 *   message: () => string,
 *   done: () => void,
 * }} AuthHooks
 */

/**
 * @param {string} name
 * @param {string} label
 * @param {Record<string, unknown>} attrs
 * @param {string} [hint]
 */
function field(name, label, attrs, hint) {
  const id = `auth-${name}`;
  const title = label.replace(/ \(.*\)$/, '');
  const input = h('input', {id, name, ...attrs, 'aria-describedby': `${id}-hint ${id}-error`});
  const error = h('p', {class: 'field-error', id: `${id}-error`, hidden: true});
  const wrap = h(
    'div',
    {class: 'field'},
    h('label', {for: id}, label),
    input,
    h('p', {class: 'hint', id: `${id}-hint`}, hint || ''),
    error,
  );
  return {wrap, input, error, title};
}

/**
 * @param {import('../ui.js').ViewContext} ctx
 * @param {'login' | 'signup'} mode
 * @param {AuthHooks} hooks
 */
function authView(ctx, mode, hooks) {
  const signup = mode === 'signup';
  const title = signup ? 'Sign up' : 'Log in';
  ctx.setTitle(title);
  const username = field(
    'username',
    'Username',
    {type: 'text', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true},
    signup ? '3 to 15 letters, digits or underscores.' : '',
  );
  const password = field(
    'password',
    'Password',
    {type: 'password', autocomplete: signup ? 'new-password' : 'current-password', required: true},
    signup ? 'At least 8 characters.' : '',
  );
  const displayName = signup
    ? field('display_name', 'Display name (optional)', {type: 'text', autocomplete: 'nickname'}, 'Up to 50 characters; your username if empty.')
    : null;
  /** @type {Record<string, ReturnType<typeof field>>} */
  const fields = {username, password};
  if (displayName) fields.display_name = displayName;

  const formError = h('p', {class: 'form-error', role: 'alert', hidden: true});
  const submit = h('button', {type: 'submit', class: 'btn primary wide'}, title);
  const form = h(
    'form',
    {class: 'panel auth-form', novalidate: true, 'aria-labelledby': 'auth-title'},
    username.wrap,
    password.wrap,
    displayName && displayName.wrap,
    formError,
    submit,
  );
  const heading = pageHeading(title);
  heading.id = 'auth-title';
  const message = hooks.message();
  ctx.main.append(
    h(
      'div',
      {class: 'auth'},
      heading,
      message ? h('p', {class: 'notice', role: 'status'}, message) : null,
      form,
      h(
        'p',
        {class: 'switch'},
        signup ? 'Already have an account? ' : 'New to Chirp? ',
        h('a', {href: signup ? '#/login' : '#/signup'}, signup ? 'Go to the login page' : 'Create an account'),
      ),
    ),
  );

  const clearErrors = () => {
    formError.hidden = true;
    for (const f of Object.values(fields)) {
      f.error.hidden = true;
      f.input.removeAttribute('aria-invalid');
    }
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    /** @type {HTMLElement | null} */
    let firstBad = null;
    /** @param {ReturnType<typeof field>} f @param {string} text */
    const bad = (f, text) => {
      // The API's field messages read on from the field's name: "must be 8 to 128 characters".
      f.error.textContent = /^[a-z]/.test(text) ? `${f.title} ${text}.`.replace(/\.\.$/, '.') : text;
      f.error.hidden = false;
      f.input.setAttribute('aria-invalid', 'true');
      firstBad = firstBad || f.input;
    };
    if (!username.input.value.trim()) bad(username, 'Enter your username.');
    if (!password.input.value) bad(password, 'Enter your password.');
    if (firstBad) return /** @type {HTMLElement} */ (firstBad).focus();

    submit.disabled = true;
    try {
      const credentials = {username: username.input.value.trim(), password: password.input.value};
      if (signup) {
        const name = displayName?.input.value.trim();
        await api.register(name ? {...credentials, display_name: name} : credentials);
      } else {
        await api.login(credentials);
      }
      hooks.done();
    } catch (err) {
      formError.textContent = api.describeError(err);
      formError.hidden = false;
      if (err instanceof api.ApiError) {
        for (const f of err.problem.errors || []) {
          const target = fields[f.field];
          if (target) bad(target, f.message);
        }
        if (err.code === 'username_taken') bad(username, err.message);
      }
      /** @type {HTMLElement} */ (firstBad || (err instanceof api.ApiError && err.code === 'invalid_credentials' ? password.input : username.input)).focus();
    } finally {
      submit.disabled = false;
    }
  });
}

/** @param {import('../ui.js').ViewContext} ctx @param {AuthHooks} hooks */
export const loginView = (ctx, hooks) => authView(ctx, 'login', hooks);
/** @param {import('../ui.js').ViewContext} ctx @param {AuthHooks} hooks */
export const signupView = (ctx, hooks) => authView(ctx, 'signup', hooks);
