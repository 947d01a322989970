// The account page (/account): a user's own logins and sessions. It is an OAuth 2 client of
// keyward itself: the built-in public client `keyward-account`, authorization code + PKCE
// (S256), scope `login`. Tokens live in sessionStorage (this tab only); a browser with a
// keyward session comes straight back from the authorization endpoint (single sign-on).
(function () {
  'use strict';
  const { $, show, hide, sentence, message, call: flowCall, passwordMin, applyPasswordMin, tooShort, tooShortText, fieldError, clearField, el, typeName, when, device, CLIENTS, confirmAction, copyText, qrImage, isPasskey, passkeyInfo, note } = window.keyward;
  const wa = window.keywardWebauthn;
  const providers = window.keywardProviders;

  const LINKED = 'kw_account_linked'; // the instance name of `?linked=`, until it is shown

  const oauth = window.keywardOAuth.client({
    clientId: 'keyward-account',
    path: '/account',
    scope: 'login',
    prefix: 'kw_account',
    what: 'the account page',
    fatal: (text) => fatal(text),
  });
  const { api, load, save } = oauth;

  // ---- Flow calls (cookie session + CSRF) ----


  // ---- Display helpers ----


  function fatal(text) {
    hide($('loading'));
    hide($('app'));
    show($('status-card'));
    $('fatal-text').textContent = text;
    show($('fatal'));
  }

  // ---- The page ----

  let me = null;
  // The server's password minimum (flow context).
  let minPassword = null;

  async function start() {
    $('retry').addEventListener('click', () => {
      oauth.retry();
    });
    const q = new URLSearchParams(location.search);
    if (q.has('linked')) {
      // Back from linking an upstream login: kept across a sign-in, shown with the logins.
      save(LINKED, q.get('linked'));
      history.replaceState(null, '', location.pathname);
    }
    if (!(await oauth.signIn())) return;
    const [r, ctx] = await Promise.all([api('GET', '/auth/api/login/user/self'), flowCall('GET', '/auth/api/flow/context')]);
    if (r === null) return;
    if (r.status !== 200) {
      fatal(message(r, 'Your account could not be loaded'));
      return;
    }
    // Someone else has signed in in this browser since the tokens were issued: follow them.
    if (ctx.status === 200 && ctx.data.user && ctx.data.user.username !== r.data.username) {
      await oauth.startOver();
      return;
    }
    oauth.signedIn();
    if (ctx.status === 200) {
      // Mailing a passkey link needs an address and a mail server.
      show($('pk-link-mail'), ctx.data.mail === true && !!r.data.email);
      minPassword = passwordMin(ctx.data);
      applyPasswordMin(minPassword, ['new-password']);
    }
    me = r.data;
    $('display-name').textContent = me.displayName || me.username || '';
    $('username').textContent = me.username || '';
    show($('admin-badge'), me.isAdmin === true);
    if (me.email) {
      $('email-line').textContent = me.email;
      show($('email-line'));
    }
    if (!wa.supported()) {
      hide($('pk-add-open'));
      show($('pk-unsupported'));
    }
    hide($('status-card'));
    show($('app'));
    await Promise.all([loadLogins(), loadSessions(), linkButtons()]);
  }

  // Logins

  async function loadLogins() {
    const r = await api('GET', '/auth/api/login/user/self/login-data');
    if (r === null) return;
    const body = $('logins').querySelector('tbody');
    body.textContent = '';
    if (r.status !== 200 || !Array.isArray(r.data)) {
      note($('logins-msg'), 'error', message(r, 'Your logins could not be loaded'));
      return;
    }
    const others = r.data.filter((l) => !isPasskey(l));
    const passkeys = r.data.filter(isPasskey);
    for (const l of others) body.appendChild(loginRow(l));
    if (others.length === 0) {
      const text = passkeys.length > 0 ? 'No password or other login: you sign in with your passkeys.' : 'No logins.';
      body.appendChild(el('tr', {}, [el('td', { colspan: '5', class: 'muted', text })]));
    }
    showPasskeys(passkeys);
    // The last-login-method rule, in words, before anyone tries.
    show($('last-method'), r.data.filter((l) => l.state === 'VALID').length === 1);
    linkedNotice(others);
  }

  // Upstream logins (GitHub, GitLab, OpenID Connect): linking is a sign-in at the provider in
  // link mode (keyward's redirect flow, with this browser's keyward session); keyward comes
  // back to /account?linked=<instance name>.

  /** A "Link" button per active instance of an upstream provider: one to sign in with, or
   *  one that only syncs (linking works for those too). */
  async function linkButtons() {
    const r = await flowCall('GET', '/auth/api/login/strategy-instance');
    if (r.status !== 200 || !Array.isArray(r.data)) return;
    const box = $('link-upstream-buttons');
    box.textContent = '';
    const list = r.data.filter((i) => i && providers.isUpstream(i.type) && (i.isLoginActive || i.isSyncActive));
    for (const i of list) {
      box.appendChild(providers.button(i, 'link', null, 'Link ' + providers.instanceName(i), 'small'));
    }
    show($('link-upstream'), list.length > 0);
  }

  /** Says that a login was linked, once: only for an instance this user now has a login on
   *  (the query is anybody's to write; the list is the server's). */
  function linkedNotice(logins) {
    const name = load(LINKED);
    save(LINKED, null);
    if (typeof name !== 'string' || !name) return;
    // keyward names the instance, or gives its id when it has no name.
    const l = logins.find((x) => x.state === 'VALID' && x.strategyInstance && providers.isUpstream(x.strategyInstance.type) &&
      (x.strategyInstance.name === name || x.strategyInstance.id === name));
    if (!l) return;
    note($('logins-msg'), 'ok', 'Linked your ' + providers.instanceName(l.strategyInstance) + ' account' + (l.description ? ' “' + l.description + '”' : '') +
      (l.strategyInstance.isLoginActive === false ? '.' : ': you can sign in with it from now on.'));
  }

  function loginRow(l) {
    const inst = l.strategyInstance || {};
    const label = inst.name || typeName(inst.type);
    const state = l.state === 'VALID'
      ? el('span', { text: 'Active' })
      : el('span', { class: 'badge warn', text: l.state === 'WAITING_FOR_REGISTER' ? 'Waiting for registration' : String(l.state || '').toLowerCase() });
    const actions = el('div', { class: 'row-actions' });
    if (inst.type === 'userpass' && l.state === 'VALID') {
      const b = el('button', { type: 'button', class: 'secondary small', text: 'Change password' });
      b.addEventListener('click', () => openPasswordForm(l));
      actions.appendChild(b);
    }
    const upstream = providers.isUpstream(inst.type);
    const verb = upstream ? 'Unlink' : 'Remove';
    const rm = el('button', { type: 'button', class: 'secondary small', text: verb, 'aria-label': verb + ' ' + label + ' login ' + (l.description || '') });
    rm.addEventListener('click', () => removeLogin(l, label, rm));
    actions.appendChild(rm);
    const tr = el('tr', { data: { id: l.id } }, [
      el('td', { 'data-label': 'Login', class: 'wrap', text: label }),
      el('td', { 'data-label': 'Type' }, [upstream
        ? el('span', { class: 'cell-icon' }, [providers.icon(inst.type), typeName(inst.type)])
        : typeName(inst.type)]),
      el('td', { 'data-label': 'Name', class: 'wrap', text: l.description || '' }),
      el('td', { 'data-label': 'State' }, [state]),
      el('td', { class: 'row-actions-cell' }, [actions]),
    ]);
    return tr;
  }

  async function removeLogin(l, label, button, msgEl) {
    const msg = msgEl || $('logins-msg');
    hide(msg);
    const what = label + (l.description ? ' “' + l.description + '”' : '');
    const upstream = !!(l.strategyInstance && providers.isUpstream(l.strategyInstance.type));
    const ok = await confirmAction(
      upstream ? 'Unlink this account?' : 'Remove this way to sign in?',
      'You will no longer be able to sign in with ' + what + '.',
      upstream ? 'Unlink' : 'Remove',
    );
    if (!ok) return;
    button.disabled = true;
    const r = await api('DELETE', '/auth/api/login/login-data/' + encodeURIComponent(l.id));
    if (r === null) return;
    button.disabled = false;
    if (r.status === 200) {
      if (openPassword && openPassword.id === l.id) closePasswordForm();
      note(msg, 'ok', (upstream ? 'Unlinked ' : 'Removed ') + what + '.');
      await loadLogins();
    } else if (r.status === 409) {
      const why = sentence(r.data.message || 'it cannot be removed');
      note(msg, 'error', (isPasskey(l) ? 'This passkey' : 'This login') + ' cannot be ' + (upstream ? 'unlinked' : 'removed') + ': ' + why.charAt(0).toLowerCase() + why.slice(1) +
        (r.data.code === 'last_login_method' ? ' It is your only way left to sign in: add another way to log in first (a password, a passkey or another account).' : ''));
    } else if (r.status === 404) {
      note(msg, 'error', 'This login no longer exists.');
      await loadLogins();
    } else {
      note(msg, 'error', message(r, 'The login could not be removed'));
    }
  }

  // Passkeys

  function showPasskeys(list) {
    const body = $('passkeys').querySelector('tbody');
    body.textContent = '';
    for (const l of list) body.appendChild(passkeyRow(l));
    if (list.length === 0) {
      body.appendChild(el('tr', {}, [el('td', { colspan: '4', class: 'muted', text: 'No passkeys yet.' })]));
    }
  }

  function passkeyRow(l) {
    const p = passkeyInfo(l);
    const rename = el('button', { type: 'button', class: 'secondary small', text: 'Rename', 'aria-label': 'Rename passkey ' + p.name });
    rename.addEventListener('click', () => renamePasskey(l, p.name));
    const rm = el('button', { type: 'button', class: 'secondary small', text: 'Remove', 'aria-label': 'Remove passkey ' + p.name });
    rm.addEventListener('click', () => removeLogin({ ...l, description: p.name }, 'the passkey', rm, $('passkeys-msg')));
    const state = l.state && l.state !== 'VALID' ? el('span', { class: 'badge warn', text: String(l.state).toLowerCase() }) : null;
    return el('tr', { data: { id: l.id } }, [
      el('td', { 'data-label': 'Name', class: 'wrap' }, [p.name, state ? ' ' : null, state]),
      el('td', { 'data-label': 'Added', text: when(p.createdAt) }),
      el('td', { 'data-label': 'Last used', text: p.lastUsedAt ? when(p.lastUsedAt) : 'Never' }),
      el('td', { class: 'row-actions-cell' }, [el('div', { class: 'row-actions' }, [rename, rm])]),
    ]);
  }

  /** The passwordless API's message for a refused call, without its "(KW-PL-nnn)". */
  function plMessage(r, fallback) {
    if (r.status === 0) return 'keyward cannot be reached. Check your connection and try again.';
    const d = Array.isArray(r.data.details) ? r.data.details[0] : null;
    const m = d && typeof d.message === 'string' && d.message ? d.message : r.data.message;
    if (typeof m === 'string' && m) return sentence(m.replace(/\s*\(KW-PL-\d+\)\s*$/, ''));
    return fallback + ' (' + r.status + ')';
  }

  const checkName = (name) => (name ? '' : 'Give the passkey a name.');

  /** Asks for a new name in the rename dialog: the name, or null when cancelled. */
  function renamePasskey(l, current) {
    const dlg = $('rename');
    const input = $('rename-name');
    input.value = current;
    clearField('rename-name');
    hide($('passkeys-msg'));
    const close = () => {
      $('rename-form').removeEventListener('submit', onSave);
      $('rename-cancel').removeEventListener('click', onCancel);
      if (dlg.open) dlg.close();
    };
    const onCancel = () => close();
    const onSave = async (ev) => {
      ev.preventDefault();
      const name = input.value.trim();
      const bad = checkName(name);
      if (bad) {
        fieldError('rename-name', bad);
        input.focus();
        return;
      }
      $('rename-save').disabled = true;
      const r = await api('PUT', '/auth/api/login/login-data/' + encodeURIComponent(l.id) + '/name', { name });
      $('rename-save').disabled = false;
      if (r === null) return;
      if (r.status === 200) {
        close();
        note($('passkeys-msg'), 'ok', 'The passkey is now called “' + name + '”.');
        await loadLogins();
      } else if (r.status === 400) {
        fieldError('rename-name', message(r, 'This name cannot be used'));
        input.focus();
      } else {
        close();
        note($('passkeys-msg'), 'error', message(r, 'The passkey could not be renamed'));
        if (r.status === 404) await loadLogins();
      }
    };
    $('rename-form').addEventListener('submit', onSave);
    $('rename-cancel').addEventListener('click', onCancel);
    dlg.addEventListener('close', close, { once: true });
    dlg.showModal();
    input.select();
  }

  // Adding a passkey on this device: the passwordless API with the page's token.

  $('pk-add-open').addEventListener('click', () => {
    hide($('passkeys-msg'));
    hide($('pk-add-msg'));
    clearField('pk-name');
    $('pk-name').value = wa.deviceName();
    show($('pk-add-form'));
    $('pk-name').focus();
  });

  $('pk-add-cancel').addEventListener('click', () => hide($('pk-add-form')));

  let adding = false;

  $('pk-add-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (adding || !me) return;
    const msg = $('pk-add-msg');
    hide(msg);
    clearField('pk-name');
    const name = $('pk-name').value.trim();
    const bad = checkName(name);
    if (bad) {
      fieldError('pk-name', bad);
      $('pk-name').focus();
      return;
    }
    adding = true;
    const button = $('pk-add');
    button.disabled = true;
    button.textContent = 'Waiting for your passkey…';
    try {
      const base = '/v2/users/' + encodeURIComponent(me.id) + '/passkeys';
      const started = await api('POST', base, {});
      if (started === null) return;
      if (started.status !== 200 || typeof started.data.passkeyId !== 'string') {
        note(msg, 'error', plMessage(started, 'The passkey could not be started'));
        return;
      }
      const made = await wa.create(started.data.publicKeyCredentialCreationOptions);
      if (made.error) {
        note(msg, 'error', wa.problemText(made.error, 'creation'));
        return;
      }
      const done = await api('POST', base + '/' + encodeURIComponent(started.data.passkeyId), { publicKeyCredential: made.credential, passkeyName: name });
      if (done === null) return;
      if (done.status !== 200) {
        note(msg, 'error', 'The passkey was not saved: ' + plMessage(done, 'error').replace(/^./, (c) => c.toLowerCase()));
        return;
      }
      hide($('pk-add-form'));
      note($('passkeys-msg'), 'ok', 'Added the passkey “' + name + '”. You can sign in with it from now on.');
      await loadLogins();
    } finally {
      adding = false;
      button.disabled = false;
      button.textContent = 'Create passkey';
    }
  });

  // A link (and its QR code) for another device.

  $('pk-link-make').addEventListener('click', async () => {
    if (!me) return;
    const button = $('pk-link-make');
    hide($('passkeys-msg'));
    button.disabled = true;
    const r = await api('POST', '/auth/api/login/user/' + encodeURIComponent(me.id) + '/passkey-link', {});
    button.disabled = false;
    if (r === null) return;
    if ((r.status !== 200 && r.status !== 201) || typeof r.data.link !== 'string') {
      note($('passkeys-msg'), 'error', message(r, 'The link could not be made'));
      return;
    }
    showLink(r.data);
  });

  $('pk-link-mail').addEventListener('click', async () => {
    if (!me || !me.email) return;
    const button = $('pk-link-mail');
    hide($('passkeys-msg'));
    button.disabled = true;
    const r = await api('POST', '/auth/api/login/user/' + encodeURIComponent(me.id) + '/passkey-link', { send: true });
    button.disabled = false;
    if (r === null) return;
    if ((r.status === 200 || r.status === 201) && r.data.sent === true) {
      note($('passkeys-msg'), 'ok', 'A link is on its way to ' + me.email + '. Open it on the device that should hold the passkey.');
      return;
    }
    note($('passkeys-msg'), 'error', message(r, 'The link could not be mailed'));
  });

  function showLink(d) {
    $('pk-link-url').value = d.link;
    const until = when(d.expiresAt);
    $('pk-link-expiry').textContent = until ? 'Valid until ' + until + ', for one passkey.' : 'Valid for one passkey.';
    const qr = $('pk-link-qr');
    show(qr.parentElement, qrImage(qr, d.qrCode));
    hide($('pk-link-copied'));
    show($('pk-link'));
    $('pk-link-copy').focus();
  }

  $('pk-link-copy').addEventListener('click', async () => {
    const input = $('pk-link-url');
    const ok = await copyText(input.value);
    if (!ok) {
      input.focus();
      input.select();
    }
    const said = $('pk-link-copied');
    said.textContent = ok ? 'The link is copied.' : 'Copy the selected link by hand.';
    show(said);
  });

  $('pk-link-close').addEventListener('click', () => {
    $('pk-link-url').value = '';
    $('pk-link-qr').removeAttribute('src');
    hide($('pk-link'));
  });

  // Password change

  let openPassword = null;

  function openPasswordForm(l) {
    openPassword = l;
    const f = $('password-form');
    f.reset();
    hide($('pw-msg'));
    hide($('logins-msg'));
    $('pw-login').textContent = (l.strategyInstance && l.strategyInstance.name ? l.strategyInstance.name + ' ' : '') + '“' + (l.description || '') + '”';
    $('pw-username').value = l.description || '';
    show(f);
    $('old-password').focus();
  }

  function closePasswordForm() {
    openPassword = null;
    $('password-form').reset();
    hide($('password-form'));
  }

  $('pw-cancel').addEventListener('click', closePasswordForm);

  $('password-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const msg = $('pw-msg');
    hide(msg);
    if (!openPassword) return;
    const oldPassword = $('old-password').value;
    const newPassword = $('new-password').value;
    if (!oldPassword) {
      note(msg, 'error', 'Enter your current password.');
      $('old-password').focus();
      return;
    }
    if (tooShort(newPassword, minPassword)) {
      note(msg, 'error', tooShortText(minPassword, 'new password'));
      $('new-password').focus();
      return;
    }
    if (newPassword !== $('new-password2').value) {
      note(msg, 'error', 'The two new passwords differ.');
      $('new-password2').focus();
      return;
    }
    const button = $('pw-submit');
    button.disabled = true;
    const r = await api('PUT', '/auth/api/login/login-data/' + encodeURIComponent(openPassword.id) + '/password', { oldPassword, newPassword });
    if (r === null) return;
    button.disabled = false;
    if (r.status === 200) {
      const name = openPassword.description || '';
      closePasswordForm();
      note($('logins-msg'), 'ok', 'The password of “' + name + '” has been changed.');
    } else if (r.status === 403) {
      note(msg, 'error', 'The current password is wrong.');
      $('old-password').value = '';
      $('old-password').focus();
    } else if (r.status === 429) {
      const wait = r.headers && r.headers.get('retry-after');
      note(msg, 'error', message(r, 'Too many attempts' + (wait ? '; try again in ' + wait + ' s' : '')));
    } else {
      note(msg, 'error', message(r, 'The password could not be changed'));
    }
  });

  // Sessions

  async function loadSessions() {
    const r = await api('GET', '/auth/api/login/user/self/active-login');
    if (r === null) return;
    const body = $('sessions').querySelector('tbody');
    body.textContent = '';
    if (r.status !== 200 || !Array.isArray(r.data)) {
      note($('sessions-msg'), 'error', message(r, 'Your sessions could not be loaded'));
      return;
    }
    for (const s of r.data) body.appendChild(sessionRow(s));
    if (r.data.length === 0) {
      body.appendChild(el('tr', {}, [el('td', { colspan: '5', class: 'muted', text: 'No sessions.' })]));
    }
  }

  function sessionRow(s) {
    const via = s.clientId ? CLIENTS[s.clientId] || 'an application' : '';
    const dev = el('td', { 'data-label': 'Device', class: 'wrap' }, [
      el('span', { text: device(s.userAgent), title: s.userAgent || '' }),
      s.current ? ' ' : null,
      s.current ? el('span', { class: 'badge', text: 'This browser' }) : null,
      via ? el('div', { class: 'muted', text: 'via ' + via }) : null,
    ]);
    const end = el('button', { type: 'button', class: 'secondary small', text: 'End', 'aria-label': s.current ? 'End this session' : 'End the session of ' + device(s.userAgent) });
    end.addEventListener('click', () => endSession(s, end));
    const tr = el('tr', { data: { id: s.id } }, [
      dev,
      el('td', { 'data-label': 'Address', class: 'address', text: s.address || '—' }),
      el('td', { 'data-label': 'Signed in', text: when(s.createdAt) }),
      el('td', { 'data-label': 'Last used', text: when(s.lastUsedAt) }),
      el('td', { class: 'row-actions-cell' }, [end]),
    ]);
    if (s.current) tr.classList.add('current');
    return tr;
  }

  async function endSession(s, button) {
    hide($('sessions-msg'));
    if (s.current) {
      const ok = await confirmAction('End this session?', 'This signs you out in this browser.', 'End and sign out');
      if (!ok) return;
    }
    button.disabled = true;
    const r = await api('DELETE', '/auth/api/login/active-login/' + encodeURIComponent(s.id));
    if (r === null) return;
    if (r.status === 200 || (r.status === 404 && !s.current)) {
      if (s.current) {
        await leave();
        return;
      }
      note($('sessions-msg'), 'ok', 'The session has ended.');
      await loadSessions();
      return;
    }
    button.disabled = false;
    note($('sessions-msg'), 'error', message(r, 'The session could not be ended'));
  }

  // Signing out

  /** Forgets everything of this tab and goes to the login page. */
  async function leave() {
    oauth.forget();
    await flowCall('POST', '/auth/api/flow/logout', {});
    location.assign('/auth/flow/login');
  }

  $('signout').addEventListener('click', async () => {
    const button = $('signout');
    button.disabled = true;
    hide($('account-msg'));
    await oauth.revoke();
    const r = await flowCall('POST', '/auth/api/flow/logout', {});
    if (r.status !== 200) {
      button.disabled = false;
      note($('account-msg'), 'error', 'Signing out did not work: ' + message(r, 'error'));
      return;
    }
    oauth.forget();
    location.assign('/auth/flow/login');
  });

  start();
})();
