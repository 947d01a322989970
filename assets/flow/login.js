// The hosted login page: /auth/flow/login?flow=<flow>. The flow id ties this page to an
// authorization request; without it the page signs the browser in to keyward itself.
(function () {
  'use strict';
  const { $, show, hide, flow, flowQuery, flowContext, call, message, instanceSelect } = window.keyward;

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
  }

  $('login').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('error');
    hide(err);
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
