// The setup token travels in the URL fragment, so it never reaches a server log.
(function () {
  'use strict';
  const token = new URLSearchParams(location.hash.slice(1)).get('token') || '';
  const $ = (id) => document.getElementById(id);

  // The double-submit CSRF token: the page's `kw_csrf` cookie, echoed in a header.
  function csrfToken() {
    for (const part of document.cookie.split(';')) {
      const i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === 'kw_csrf') {
        const v = part.slice(i + 1).trim();
        try { return decodeURIComponent(v); } catch (_) { return v; }
      }
    }
    return '';
  }

  async function post(path, body) {
    let r;
    try {
      r = await fetch(path, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken() },
        body: JSON.stringify(body),
      });
    } catch (_) {
      return { ok: false, status: 0, data: { message: 'keyward cannot be reached. Check your connection and try again.' } };
    }
    const data = await r.json().catch(() => ({}));
    return { ok: r.ok, status: r.status, data };
  }

  async function start() {
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
