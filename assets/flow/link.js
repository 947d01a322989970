// The hosted link page: /auth/flow/link?flow=<flow>[#registerToken=<token>]. A signed-in user
// adds another way to sign in: the waiting login behind a register token (only one that a
// sign-in in this browser made; the page names that login first), or a new username and
// password on a password instance.
(function () {
  'use strict';
  const { $, show, hide, fieldError, clearField, clearErrors, flow, flowQuery, flowContext, call, sentence, message, instanceSelect, otherBrowser, nameLogin, fieldOf, passwordMin, applyPasswordMin, tooShort, tooShortText } = window.keyward;
  const loginUrl = '/auth/flow/login' + flowQuery;
  // The register token: out of the address bar, kept for this tab (see common.js).
  const { token: registerToken, forget: forgetToken } = window.keyward.registerToken('kw_link_token');
  const FIELDS = ['username', 'password'];
  let instanceId = null;
  // The server's password minimum (flow context).
  let minPassword = null;

  /** Whether anyone is signed in (a 401 may mean the session has ended meanwhile). */
  async function signedIn() {
    const r = await call('GET', '/auth/api/flow/context' + flowQuery);
    return !(r.status === 200 && !r.data.user);
  }

  function showError(el, text) {
    el.textContent = text;
    show(el);
  }

  /** A register token that this browser did not make: it is dropped, and the page says so. */
  function showForeign() {
    forgetToken();
    hide($('token-box'));
    show($('foreign'));
  }

  async function start() {
    $('signin').href = loginUrl;
    $('restart-link').href = loginUrl;
    $('foreign-link').href = loginUrl;
    const ctx = await flowContext('The page could not be loaded');
    if (!ctx) return;
    hide($('loading'));
    minPassword = passwordMin(ctx);
    applyPasswordMin(minPassword, ['password']);
    if (ctx.client && ctx.client.name) {
      $('client-name').textContent = ctx.client.name;
      show($('client-line'));
    }
    show($('back-line'), !flow && !!ctx.user);
    if (!ctx.user) {
      show($('signed-out'));
      return;
    }
    const name = ctx.user.displayName || ctx.user.username || '';
    $('signed-in-name').textContent = name;
    show($('signed-in'));

    if (registerToken) {
      // Which login the token attaches, before anything is linked; a token made elsewhere is
      // refused here already.
      const s = await call('POST', '/auth/api/flow/suggestion', { registerToken });
      if (otherBrowser(s)) {
        showForeign();
      } else if (s.status === 401) {
        forgetToken();
        show($('expired'));
      } else if (s.status === 200 && s.data.status === 'ALREADY_REGISTERED') {
        forgetToken();
        show($('already'));
      } else if (s.status === 200) {
        $('token-user').textContent = name;
        nameLogin('token-login', s.data.login);
        show($('token-box'));
        $('link-token').focus();
      } else {
        $('load-error').textContent = message(s, 'The page could not be loaded');
        show($('load-error'));
      }
      return;
    }

    const userpass = (Array.isArray(ctx.instances) ? ctx.instances : []).filter((i) => i && i.type === 'userpass');
    if (userpass.length === 0) {
      show($('no-password'));
      return;
    }
    instanceId = instanceSelect($('instance'), $('instance-row'), userpass, (id) => { instanceId = id; });
    show($('link'));
    $('username').focus();
  }

  $('link-token').addEventListener('click', async () => {
    const err = $('token-error');
    hide(err);
    const button = $('link-token');
    button.disabled = true;
    button.textContent = 'Linking…';
    const r = await call('POST', '/auth/api/flow/link', { flow: flow || null, registerToken });
    if (r.status === 200 && typeof r.data.redirect === 'string' && r.data.redirect) {
      forgetToken();
      location.assign(r.data.redirect);
      return;
    }
    button.disabled = false;
    button.textContent = 'Link this login to your account';
    if (otherBrowser(r)) {
      showForeign();
    } else if (r.status === 401) {
      if (!(await signedIn())) {
        location.assign(loginUrl);
        return;
      }
      forgetToken();
      hide($('token-box'));
      show($('expired'));
    } else {
      showError(err, message(r, 'The login could not be linked'));
    }
  });

  for (const f of FIELDS) $(f).addEventListener('input', () => clearField(f));

  /** What a 409 means (by its `code`), in the words of this page. */
  function conflictText(r, username) {
    if (r.data.code === 'same_identity') return 'The username “' + username + '” is already one of your ways to sign in.';
    if (r.data.code === 'identity_taken') return 'The username “' + username + '” belongs to another account.';
    if (r.data.code === 'conflict') return 'The username “' + username + '” is already taken. Choose another one.';
    return sentence(r.data.message) || 'The username “' + username + '” cannot be used.';
  }

  $('link').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(FIELDS);
    const username = $('username').value.trim();
    const password = $('password').value;
    if (!username) {
      fieldError('username', 'Enter a username.');
      $('username').focus();
      return;
    }
    if (tooShort(password, minPassword)) {
      fieldError('password', tooShortText(minPassword));
      $('password').focus();
      return;
    }
    const button = $('submit');
    button.disabled = true;
    button.textContent = 'Adding…';
    const r = await call('POST', '/auth/api/flow/link', { flow: flow || null, instanceId, username, password });
    if (r.status === 200 && typeof r.data.redirect === 'string' && r.data.redirect) {
      location.assign(r.data.redirect);
      return;
    }
    button.disabled = false;
    button.textContent = 'Add password login';
    if (r.status === 409) {
      fieldError('username', conflictText(r, username));
      $('username').focus();
    } else if (r.status === 401) {
      if (!(await signedIn())) {
        location.assign(loginUrl);
        return;
      }
      // A login with this username exists and the password is not its password.
      fieldError('username', 'The username “' + username + '” is already taken, and the password does not match it. Choose another username.');
      $('password').value = '';
      $('username').focus();
    } else if (r.status === 429) {
      const wait = r.headers.get('retry-after');
      showError($('error'), message(r, 'Too many attempts' + (wait ? '; try again in ' + wait + ' s' : '')));
    } else if (r.status === 400 && fieldOf(r, FIELDS)) {
      // The server names the field at fault; its message goes next to it.
      const f = fieldOf(r, FIELDS);
      fieldError(f, sentence(r.data.message));
      $(f).focus();
    } else {
      showError($('error'), message(r, 'The login could not be added'));
    }
  });

  start();
})();
