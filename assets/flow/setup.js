// The setup token travels in the URL fragment, so it never reaches a server log.
(function () {
  'use strict';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const { $, passwordMin, applyPasswordMin } = window.keyward;

  async function post(path, body) {
    const r = await window.keyward.call('POST', path, body);
    if (r.status === 0) {
      r.data = { message: 'keyward cannot be reached. Check your connection and try again.' };
    }
    return { ok: r.status >= 200 && r.status < 300, status: r.status, data: r.data };
  }

  async function start() {
    // The server's password minimum, for the inputs and their hint.
    const ctx = await window.keyward.call('GET', '/auth/api/flow/context');
    if (ctx.status === 200) applyPasswordMin(passwordMin(ctx.data), ['password', 'password2']);
    const r = token ? await post('/auth/api/flow/setup/check', { token }) : { ok: false };
    $(r.ok ? 'setup' : 'invalid').classList.remove('hidden');
    if (r.ok) $('username').focus();
  }

  $('setup').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const err = $('error');
    err.classList.add('hidden');
    if ($('password').value !== $('password2').value) {
      err.textContent = 'The two passwords differ.';
      err.classList.remove('hidden');
      return;
    }
    const button = ev.submitter || $('setup').querySelector('button');
    button.disabled = true;
    const r = await post('/auth/api/flow/setup', {
      token,
      username: $('username').value.trim(),
      displayName: $('displayName').value.trim() || null,
      password: $('password').value,
    });
    button.disabled = false;
    if (r.ok) {
      $('setup').classList.add('hidden');
      $('done').classList.remove('hidden');
      history.replaceState(null, '', location.pathname);
    } else {
      err.textContent = r.data.message || 'Something went wrong (' + r.status + ').';
      err.classList.remove('hidden');
    }
  });

  start();
})();
