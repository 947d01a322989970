// The hosted register page: /auth/flow/register?flow=<flow>[#registerToken=<token>].
// With a register token (a login in this browser found an identity that waits for
// registration; the page names that login) the account is made from that identity; without
// one, from a new username and a password or a passkey ("Sign up with a passkey", where the
// passkey instance allows sign-up, passkeys are on and the browser can make one). The flow id
// ties the page to an authorization request; without it the new account lands on /account.
(function () {
  'use strict';
  const { $, show, hide, fieldError, clearField, clearErrors, flow, flowQuery, flowContext, call, sentence, message, instanceSelect, otherBrowser, nameLogin, fieldOf, passwordMin, applyPasswordMin, tooShort, tooShortText } = window.keyward;
  const providers = window.keywardProviders;
  const wa = window.keywardWebauthn;
  // The register token: out of the address bar, kept for this tab (see common.js).
  const { token: registerToken, forget: forgetToken } = window.keyward.registerToken('kw_register_token');

  // ---- Field errors ----

  const FIELDS = ['username', 'displayName', 'email', 'password', 'password2'];

  function showError(text) {
    const err = $('error');
    err.textContent = text;
    show(err);
  }

  function takenMessage(username) {
    return 'The username “' + username + '” is already taken. Choose another one.';
  }

  let instanceId = null;
  // No userpass instance to sign up on, only a passkey: Enter in the form means the passkey.
  let passkeyOnly = false;
  // The server's password minimum (flow context).
  let minPassword = null;

  function loginLink() {
    return '/auth/flow/login' + flowQuery;
  }

  function showExpired() {
    forgetToken();
    hide($('register'));
    hide($('token-intro'));
    hide($('signed-in'));
    hide($('signin-line'));
    show($('expired'));
  }

  /** A register token that this browser did not make: it is dropped, and the page says so. */
  function showForeign() {
    forgetToken();
    hide($('register'));
    hide($('token-intro'));
    hide($('token-login'));
    hide($('signed-in'));
    show($('foreign'));
  }

  /** The instances that allow self-registration, in the server's order: `userpass` for the
   *  form, `upstream` (GitHub, GitLab, OpenID Connect) for a sign-up there, and whether a
   *  `passkey` instance does (a sign-up with a passkey instead of a password). */
  async function selfRegisterInstances(ctxInstances) {
    const userpass = ctxInstances.filter((i) => i && i.type === 'userpass');
    const r = await call('GET', '/auth/api/login/strategy-instance');
    if (r.status !== 200 || !Array.isArray(r.data)) return { userpass, upstream: [], passkey: false };
    const openList = r.data.filter((i) => i && i.isSelfRegisterActive && i.isLoginActive !== false);
    const open = new Set(openList.filter((i) => i.type === 'userpass').map((i) => i.id));
    const login = new Set(ctxInstances.map((i) => i && i.id));
    return {
      userpass: userpass.filter((i) => open.has(i.id)),
      upstream: openList.filter((i) => providers.isUpstream(i.type) && login.has(i.id)),
      passkey: openList.some((i) => i.type === 'passkey' && login.has(i.id)),
    };
  }

  /** "Sign up with …": a sign-in at the provider whose login becomes the new account (the
   *  register page comes back, filled in from the provider). */
  function providerButtons(list, afterForm) {
    if (list.length === 0) return;
    const box = $('providers');
    for (const i of list) {
      box.appendChild(providers.button(i, 'register', flow, 'Sign up with ' + providers.instanceName(i)));
    }
    show($('providers-or'), afterForm);
    show($('providers-box'));
  }

  async function start() {
    $('signin-link').href = loginLink();
    $('restart-link').href = loginLink();
    $('already-link').href = loginLink();
    $('foreign-link').href = '/auth/flow/register' + flowQuery;

    const ctx = await flowContext('The page could not be loaded');
    if (!ctx) return;
    minPassword = passwordMin(ctx);
    applyPasswordMin(minPassword, ['password']);
    const instances = Array.isArray(ctx.instances) ? ctx.instances : [];

    if (ctx.client && ctx.client.name) {
      $('client-name').textContent = ctx.client.name;
      show($('client-line'));
      document.title = 'Create an account for ' + ctx.client.name + ' – keyward';
    }

    if (registerToken) {
      await startWithToken(ctx);
    } else {
      await startPlain(ctx, instances);
    }
  }

  async function startWithToken(ctx) {
    const s = await call('POST', '/auth/api/flow/suggestion', { registerToken });
    hide($('loading'));
    if (otherBrowser(s)) {
      showForeign();
      return;
    }
    if (s.status === 401) {
      showExpired();
      return;
    }
    if (s.status === 200 && s.data.status === 'ALREADY_REGISTERED') {
      forgetToken();
      hide($('signin-line'));
      show($('already'));
      return;
    }
    hide($('password-rows'));
    show($('token-intro'));
    if (s.status === 200) nameLogin('token-login', s.data.login);
    if (ctx.user) {
      $('signed-in-name').textContent = ctx.user.displayName || ctx.user.username || '';
      $('link-instead').href = '/auth/flow/link' + flowQuery + '#registerToken=' + encodeURIComponent(registerToken);
      show($('link-instead-line'));
      show($('signed-in'));
    }
    show($('register'));
    if (s.status === 200) {
      const d = s.data;
      if (typeof d.username === 'string') $('username').value = d.username;
      if (typeof d.displayName === 'string') $('displayName').value = d.displayName;
      if (typeof d.email === 'string') $('email').value = d.email;
      if (d.status === 'USERNAME_TAKEN' && d.username) fieldError('username', takenMessage(d.username));
    } else if (s.status !== 0) {
      // No suggestion; the form still works, and the register call reports any real problem.
    } else {
      showError(message(s, ''));
    }
    $('username').focus();
  }

  async function startPlain(ctx, instances) {
    const { userpass: open, upstream, passkey } = await selfRegisterInstances(instances);
    // A passkey sign-up needs passkeys on at the server and a browser that can make one.
    const withPasskey = passkey && ctx.passkeys === true && wa.supported();
    hide($('loading'));
    if (ctx.user) {
      $('signed-in-name').textContent = ctx.user.displayName || ctx.user.username || '';
      $('link-instead').textContent = 'Add a password login to that account instead';
      $('link-instead').href = '/auth/flow/link' + flowQuery;
      show($('link-instead-line'));
      show($('signed-in'));
    }
    providerButtons(upstream, open.length > 0 || withPasskey);
    if (open.length === 0 && !withPasskey) {
      if (upstream.length === 0) show($('disabled'));
      return;
    }
    if (open.length > 0) {
      instanceId = instanceSelect($('instance'), $('instance-row'), open, (id) => { instanceId = id; });
    } else {
      // Only a passkey: no password to choose.
      passkeyOnly = true;
      hide($('password-rows'));
      hide($('submit'));
      $('passkey').classList.remove('secondary');
    }
    if (withPasskey) {
      $('plain-intro').textContent = open.length > 0
        ? 'Choose a username, and a password or a passkey.'
        : 'Choose a username; a passkey signs you in to the new account.';
      show($('passkey-or'), open.length > 0);
      show($('passkey-box'));
    }
    show($('plain-intro'));
    show($('register'));
    $('username').focus();
  }

  // ---- Sign-up with a passkey ----
  // The profile goes to the server first (its rules, a taken username: nothing is stored
  // before), which answers a ceremony bound to this browser; the browser makes the passkey;
  // the server then makes the account and signs this browser in to it.

  /** An answer about the profile, shown where it belongs; false if it was none of those. */
  function profileProblem(r, username) {
    if (r.status === 409 && r.data && r.data.field === 'username') {
      fieldError('username', takenMessage(username));
      $('username').focus();
      $('username').select();
      return true;
    }
    const f = r.status === 400 ? fieldOf(r, FIELDS) : null;
    if (f) {
      fieldError(f, sentence(r.data.message));
      $(f).focus();
      return true;
    }
    return false;
  }

  let passkeyBusy = false;

  $('passkey').addEventListener('click', async () => {
    if (passkeyBusy) return;
    clearErrors(FIELDS);
    hide($('error'));
    const username = $('username').value.trim();
    if (!username) {
      fieldError('username', 'Enter a username.');
      $('username').focus();
      return;
    }
    const displayName = $('displayName').value.trim();
    const email = $('email').value.trim();
    passkeyBusy = true;
    const button = $('passkey');
    const label = button.textContent;
    button.disabled = true;
    button.textContent = 'Waiting for your passkey…';
    try {
      const r = await call('POST', '/auth/api/flow/passkey/signup/start', { flow: flow || null, username, displayName: displayName || null, email: email || null });
      if (r.status !== 200 || !r.data || typeof r.data.ceremonyId !== 'string') {
        if (!profileProblem(r, username)) showError(message(r, 'The passkey sign-up could not start'));
        return;
      }
      const made = await wa.create(r.data.options);
      if (made.error) {
        showError(wa.problemText(made.error, 'creation'));
        return;
      }
      const f = await call('POST', '/auth/api/flow/passkey/signup/finish', {
        flow: flow || null, ceremonyId: r.data.ceremonyId, credential: made.credential, passkeyName: wa.deviceName(),
      });
      if (f.status === 200 && f.data && typeof f.data.redirect === 'string' && f.data.redirect) {
        // Signed in as the new user: on to the application, or to the account page.
        location.assign(f.data.redirect);
        return;
      }
      if (!profileProblem(f, username)) showError(message(f, 'The account could not be created'));
    } finally {
      passkeyBusy = false;
      button.disabled = false;
      button.textContent = label;
    }
  });

  for (const f of FIELDS) $(f).addEventListener('input', () => clearField(f));

  $('register').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (passkeyOnly) {
      $('passkey').click();
      return;
    }
    clearErrors(FIELDS);
    const username = $('username').value.trim();
    const displayName = $('displayName').value.trim();
    const email = $('email').value.trim();
    const password = $('password').value;
    let first = null;
    const bad = (field, text) => {
      fieldError(field, text);
      if (!first) first = field;
    };
    if (!username) bad('username', 'Enter a username.');
    if (!registerToken) {
      if (tooShort(password, minPassword)) bad('password', tooShortText(minPassword));
      else if (password !== $('password2').value) bad('password2', 'The two passwords differ.');
    }
    if (first) {
      $(first).focus();
      return;
    }

    const body = { flow: flow || null, username, displayName: displayName || null, email: email || null };
    if (registerToken) {
      body.registerToken = registerToken;
    } else {
      body.instanceId = instanceId;
      body.password = password;
    }
    const button = $('submit');
    button.disabled = true;
    button.textContent = 'Creating account…';
    const r = await call('POST', '/auth/api/flow/register', body);
    if (r.status === 200 && typeof r.data.redirect === 'string' && r.data.redirect) {
      // Signed in as the new user: on to the application, or to the account page.
      forgetToken();
      location.assign(r.data.redirect);
      return;
    }
    button.disabled = false;
    button.textContent = 'Create account';
    if (r.status === 200) {
      showError('Unexpected answer from keyward. Try again.');
    } else if (otherBrowser(r)) {
      showForeign();
    } else if (r.status === 409) {
      fieldError('username', takenMessage(username));
      $('username').focus();
      $('username').select();
    } else if (r.status === 401 && registerToken) {
      showExpired();
    } else if (r.status === 400 && fieldOf(r, FIELDS)) {
      // The server names the field at fault; its message goes next to it.
      const f = fieldOf(r, FIELDS);
      fieldError(f, sentence(r.data.message));
      $(f).focus();
    } else if (r.status === 403) {
      showError(message(r, 'Creating an account is not allowed here'));
    } else {
      showError(message(r, 'The account could not be created'));
    }
  });

  start();
})();
