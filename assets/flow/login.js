// The hosted login page: /auth/flow/login?flow=<flow>. The flow id ties this page to an
// authorization request; without it the page signs the browser in to keyward itself.
(function () {
  'use strict';
  const { $, show, hide, flow, flowQuery, flowContext, call, message, instanceSelect } = window.keyward;
  const wa = window.keywardWebauthn;
  const providers = window.keywardProviders;

  function showError(text) {
    const err = $('error');
    err.textContent = text;
    show(err);
  }

  let instanceId = null;

  async function start() {
    const ctx = await flowContext('The sign-in page could not be loaded');
    if (!ctx) return;
    hide($('loading'));

    if (ctx.client && ctx.client.name) {
      $('client-name').textContent = ctx.client.name;
      show($('client-line'));
      document.title = 'Sign in to ' + ctx.client.name + ' – keyward';
    }
    if (ctx.user) {
      $('signed-in-name').textContent = ctx.user.displayName || ctx.user.username || '';
      show($('signed-in'));
    }

    const instances = Array.isArray(ctx.instances) ? ctx.instances : [];
    const userpass = instances.filter((i) => i && i.type === 'userpass');
    if (userpass.length > 0) {
      instanceId = instanceSelect($('instance'), $('instance-row'), userpass, (id) => { instanceId = id; });
      show($('login'));
      $('register-link').href = '/auth/flow/register' + flowQuery;
      show($('register-line'));
      $('username').focus();
    } else {
      show($('no-password'));
    }

    const withPasskeys = instances.some((i) => i && i.type === 'passkey') && wa.supported();
    if (withPasskeys) {
      passkeysOn(userpass.length > 0);
    }
    providersOn(instances.filter((i) => i && providers.isUpstream(i.type)), userpass.length > 0 || withPasskeys);
  }

  // ---- Upstream logins ----
  // A button per GitHub, GitLab or OpenID Connect instance: keyward's redirect to the provider,
  // inside this page's authorization request; the provider sends the browser back to keyward.

  function providersOn(list, afterOthers) {
    if (list.length === 0) return;
    const box = $('providers');
    for (const i of list) {
      box.appendChild(providers.button(i, 'login', flow, 'Sign in with ' + providers.instanceName(i)));
    }
    show($('providers-or'), afterOthers);
    show($('providers-box'));
  }

  // ---- Passkeys ----
  // Two ways in: the button (username-first when a username is typed, else usernameless), and
  // the browser's autofill on the username field (conditional mediation), armed in the
  // background. Only one WebAuthn request can be pending, so the button aborts the autofill
  // one first and re-arms it when it is done.

  let conditional = null; // {controller, done} of the pending autofill request

  function passkeyError(text) {
    const err = $('passkey-error');
    err.textContent = text;
    show(err);
  }

  function passkeysOn(withPassword) {
    if (withPassword) {
      // Lets the browser offer passkeys in the username field's suggestions.
      $('username').setAttribute('autocomplete', 'username webauthn');
      show($('passkey-or'));
    } else {
      hide($('passkey-hint'));
    }
    show($('passkey-box'));
    if (withPassword) armConditional();
  }

  async function startCeremony(username) {
    const body = { flow: flow || null };
    if (username) body.username = username;
    return call('POST', '/auth/api/flow/passkey/login/start', body);
  }

  /** Offers passkeys in the username field's autofill, where the browser supports it. */
  async function armConditional() {
    if (conditional || !(await wa.conditionalAvailable())) return;
    const controller = new AbortController();
    const mine = { controller, done: null };
    conditional = mine;
    mine.done = (async () => {
      const r = await startCeremony(null);
      if (r.status !== 200 || controller.signal.aborted) return false;
      const got = await wa.get(r.data.options, { mediation: 'conditional', signal: controller.signal });
      if (controller.signal.aborted || !got.credential) return false;
      // A passkey was chosen but refused (the message says why): offer the autofill again.
      return !(await finish(r.data.ceremonyId, got.credential));
    })().finally(() => {
      if (conditional === mine) conditional = null;
    });
    mine.done.then((again) => {
      if (again) armConditional();
    }, () => {});
  }

  /** Ends the autofill request and waits until the browser has let go of it. */
  async function disarmConditional() {
    const c = conditional;
    if (!c) return;
    conditional = null;
    c.controller.abort();
    await c.done.catch(() => {});
  }

  let passkeyBusy = false;

  $('passkey').addEventListener('click', async () => {
    if (passkeyBusy) return;
    passkeyBusy = true;
    hide($('passkey-error'));
    hide($('error'));
    const button = $('passkey');
    button.disabled = true;
    button.textContent = 'Waiting for your passkey…';
    let entered = false;
    try {
      await disarmConditional();
      const username = $('username').value.trim();
      const r = await startCeremony(username);
      if (r.status !== 200 || typeof r.data.ceremonyId !== 'string' || !r.data.options) {
        passkeyError(message(r, 'Passkey sign-in could not start'));
        return;
      }
      const got = await wa.get(r.data.options);
      if (got.error) {
        passkeyError(wa.problemText(got.error, 'sign-in'));
        return;
      }
      entered = await finish(r.data.ceremonyId, got.credential);
    } finally {
      passkeyBusy = false;
      if (!entered) {
        button.disabled = false;
        button.textContent = 'Sign in with a passkey';
        if (!$('login').classList.contains('hidden')) armConditional();
      }
    }
  });

  /** Hands the signed challenge to keyward; on success follows the flow on (like the password
   *  login) and answers true. */
  async function finish(ceremonyId, credential) {
    const r = await call('POST', '/auth/api/flow/passkey/login/finish', { flow: flow || null, ceremonyId, credential });
    if (r.status === 200 && typeof r.data.redirect === 'string' && r.data.redirect) {
      location.assign(r.data.redirect);
      return true;
    }
    if (r.status === 200) {
      passkeyError('Unexpected answer from keyward. Try again.');
    } else if (r.status === 401) {
      passkeyError(message(r, 'This passkey is not known here'));
    } else if (r.status === 429) {
      const wait = r.headers.get('retry-after');
      passkeyError(message(r, 'Too many attempts' + (wait ? '; try again in ' + wait + ' s' : '')));
    } else {
      passkeyError(message(r, 'Passkey sign-in failed'));
    }
    return false;
  }

  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('error');
    hide(err);
    hide($('passkey-error'));
    const username = $('username').value.trim();
    const password = $('password').value;
    if (!username) {
      showError('Enter your username.');
      $('username').focus();
      return;
    }
    if (!password) {
      showError('Enter your password.');
      $('password').focus();
      return;
    }
    const button = $('submit');
    button.disabled = true;
    button.textContent = 'Signing in…';
    const r = await call('POST', '/auth/api/flow/login', {
      flow: flow || null,
      instanceId,
      username,
      password,
    });
    if (r.status === 200 && typeof r.data.redirect === 'string' && r.data.redirect) {
      // The session cookie is set; the server says where the flow goes on (back to the
      // application, or to registration when the identity waits for it).
      location.assign(r.data.redirect);
      return;
    }
    button.disabled = false;
    button.textContent = 'Sign in';
    if (r.status === 200) {
      showError('Unexpected answer from keyward. Try again.');
    } else if (r.status === 401) {
      showError(message(r, 'Wrong username or password'));
      $('password').value = '';
      $('password').focus();
    } else if (r.status === 429) {
      const wait = r.headers.get('retry-after');
      showError(message(r, 'Too many attempts' + (wait ? '; try again in ' + wait + ' s' : '')));
    } else {
      // 400 (a bad or expired flow, a bad request), 403 (blocked, login disabled), 5xx.
      showError(message(r, 'Sign-in failed'));
    }
  });

  start();
})();
