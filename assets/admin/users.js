// The Users view: the list (#/users: search as you type, server-side cursor pages, creation)
// and one user's page (#/users/<id>: facts, edit, block, delete, logins, passkeys, sessions,
// linking a waiting login, passkey links).
(function () {
  'use strict';
  const { el, show, hide, sentence, typeName, when, device, CLIENTS, isPasskey, passkeyInfo, qrImage } = window.keyward;
  const ui = window.kwAdmin;
  const API = '/auth/api/login';
  const PAGE = 25; // users a page, unless the address says `limit=` (1 to 500)

  /** "Admin", "Blocked" badges of a user. */
  function badges(u) {
    const b = [];
    if (u.isAdmin) b.push(el('span', { class: 'badge', text: 'Admin' }));
    if (u.isBlocked) b.push(el('span', { class: 'badge warn', text: 'Blocked' }));
    return b.length ? el('span', { class: 'badges' }, b) : el('span', { class: 'muted', text: '—' });
  }

  /** A 409's message with what it means for the admin; `what` starts the sentence. */
  function refused(r, what, fallback) {
    const why = ui.say(r, fallback);
    return what + ': ' + why.charAt(0).toLowerCase() + why.slice(1);
  }

  // ---- The list ----

  /** The user form's fields; `u` fills them when editing. */
  function userFields(u, withPassword) {
    const f = [
      { name: 'username', label: 'Username', required: true, value: u ? u.username : '', autocomplete: 'off', hint: 'Letters, digits and . _ - @' },
      { name: 'displayName', label: 'Display name', required: true, value: u ? u.displayName : '' },
      { name: 'email', label: 'E-mail address', type: 'email', optional: true, value: u ? u.email || '' : '' },
      { name: 'isAdmin', label: 'Admin: may use this console', type: 'checkbox', value: u ? u.isAdmin : false },
    ];
    if (withPassword) {
      f.push({
        name: 'password',
        label: 'Initial password',
        type: 'password',
        optional: true,
        autocomplete: 'new-password',
        hint: 'With one, the user can sign in with this username and password (at least 8 characters). Without one, give them a passkey link or link a login.',
      });
    }
    return f;
  }

  async function createUser(ctx) {
    await ui.formDialog({
      title: 'New user',
      fields: userFields(null, true),
      submit: 'Create user',
      onSubmit: async (v, form) => {
        const body = { username: v.username.trim(), displayName: v.displayName.trim(), isAdmin: v.isAdmin };
        if (v.email.trim()) body.email = v.email.trim();
        if (v.password) body.password = v.password;
        const r = await ui.api('POST', API + '/user', body);
        if (r === null) return true;
        if (r.status !== 201) {
          form.answer(r, 'The user could not be created');
          return false;
        }
        ui.toast('Created ' + r.data.username + '.');
        ctx.go('users/' + ui.seg(r.data.id));
        return true;
      },
    });
  }

  async function renderList(root, ctx) {
    const search = el('input', { id: 'user-search', type: 'search', autocomplete: 'off', spellcheck: 'false', placeholder: 'Start of a username or display name, or an e-mail address' });
    search.value = ctx.query.get('q') || '';
    const status = el('p', { id: 'users-status', class: 'sr-only', role: 'status', 'aria-live': 'polite' });
    const list = el('div', { id: 'users-list' });
    const msg = ui.note('error', '');
    hide(msg);
    // Plain buttons: their disabled state says whether there is a page that way.
    const prev = el('button', { type: 'button', class: 'secondary small', id: 'users-prev' }, ['Previous']);
    const next = el('button', { type: 'button', class: 'secondary small', id: 'users-next' }, ['Next']);
    prev.addEventListener('click', () => go(-1));
    next.addEventListener('click', () => go(1));
    const where = el('span', { class: 'muted', id: 'users-page' });
    const pager = el('div', { class: 'pager' }, [prev, where, next]);

    root.appendChild(ui.head('Users', 'Everyone with an account here.', [ui.button('New user', () => createUser(ctx), { attrs: { id: 'user-new' } })]));
    root.appendChild(el('form', { class: 'toolbar', role: 'search', novalidate: '' }, [
      el('div', { class: 'field' }, [el('label', { for: 'user-search', text: 'Search users' }), search]),
    ]));
    root.appendChild(msg);
    root.appendChild(list);
    root.appendChild(pager);
    root.appendChild(status);

    // cursors[i] is where page i starts (null: the first); each search starts over.
    let cursors = [null];
    let nextCursor = null;
    let term = search.value.trim();
    const asLimit = parseInt(ctx.query.get('limit') || '', 10);
    const limit = asLimit >= 1 && asLimit <= 500 ? asLimit : PAGE;
    let asked = 0; // the number of the newest request: older answers are dropped

    async function load() {
      const n = ++asked;
      const at = cursors.length - 1;
      const q = new URLSearchParams({ limit: String(limit) });
      if (term) q.set('search', term);
      if (cursors[at]) q.set('cursor', cursors[at]);
      list.setAttribute('aria-busy', 'true');
      const r = await ui.api('GET', API + '/user?' + q);
      if (r === null || !ctx.alive()) return;
      list.dataset.answers = String(Number(list.dataset.answers || 0) + 1); // dropped ones too
      if (n !== asked) return;
      list.removeAttribute('aria-busy');
      if (r.status !== 200 || !Array.isArray(r.data.items)) {
        ui.setNote(msg, 'error', ui.say(r, 'The users could not be loaded'));
        return;
      }
      hide(msg);
      nextCursor = typeof r.data.nextCursor === 'string' ? r.data.nextCursor : null;
      list.replaceChildren(ui.table({
        id: 'users',
        label: 'Users',
        rows: r.data.items,
        empty: term ? 'No users match “' + term + '”.' : 'No users yet.',
        onRow: (u) => ctx.go('users/' + ui.seg(u.id)),
        columns: [
          { label: 'Username', cell: (u) => ui.link('users/' + ui.seg(u.id), u.username) },
          { label: 'Display name', cell: (u) => u.displayName },
          { label: 'E-mail', cell: (u) => u.email || el('span', { class: 'muted', text: '—' }) },
          { label: 'Status', cell: badges },
          { label: 'Created', cell: (u) => ui.time(u.createdAt) },
        ],
      }));
      prev.disabled = at === 0;
      next.disabled = !nextCursor;
      show(pager, at > 0 || !!nextCursor);
      where.textContent = 'Page ' + (at + 1);
      status.textContent = r.data.items.length ? 'Page ' + (at + 1) + ': ' + r.data.items.length + ' users' + (term ? ' matching “' + term + '”' : '') + '.' : list.textContent;
    }

    async function go(step) {
      if (step > 0 && nextCursor) cursors.push(nextCursor);
      else if (step < 0 && cursors.length > 1) cursors.pop();
      else return;
      await load();
    }

    function searchNow() {
      const t = search.value.trim();
      if (t === term) return;
      term = t;
      cursors = [null];
      // The address keeps the search (reload, back) without rendering the view again.
      const keep = new URLSearchParams();
      if (t) keep.set('q', t);
      if (limit !== PAGE) keep.set('limit', String(limit));
      history.replaceState(null, '', '#/users' + (keep.size ? '?' + keep : ''));
      load();
    }
    const later = ui.debounce(searchNow, 250);
    search.addEventListener('input', later);
    search.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      searchNow();
    });
    await load();
    if (ctx.alive()) search.focus();
  }

  // ---- One user ----

  const STATES = { VALID: 'Active', WAITING_FOR_REGISTER: 'Waiting for registration', BLOCKED: 'Blocked' };

  function card(id, title, nodes) {
    return el('section', { class: 'card', id, 'aria-labelledby': id + '-title' }, [el('h2', { id: id + '-title', text: title }), ...nodes]);
  }

  /** Renders the user's page into `root`, replacing what is there once everything is loaded
   *  (so that showing it again after a change does not flicker). */
  async function renderUser(root, ctx) {
    const id = ctx.parts[0];
    if (!root.childNodes.length) root.appendChild(el('p', { class: 'muted', role: 'status', text: 'Loading the user…' }));
    const base = API + '/user/' + ui.seg(id);
    // One round trip each, all at once.
    const [ur, lr, sr] = await Promise.all([ui.api('GET', base), ui.api('GET', base + '/login-data'), ui.api('GET', base + '/active-login')]);
    if (ur === null || lr === null || sr === null || !ctx.alive()) return;
    const crumbs = [ui.link('users', 'Users')];
    if (ur.status === 404) {
      root.replaceChildren(ui.head('No such user', 'There is no user with this id: they may have been deleted.', null, crumbs));
      return;
    }
    if (ur.status !== 200) {
      root.replaceChildren(ui.head('User', null, null, crumbs), ui.note('error', ui.say(ur, 'The user could not be loaded')));
      return;
    }
    const box = el('div', { class: 'user-page' });
    let u = ur.data;
    const self = ctx.me && ctx.me.id === u.id;
    const who = () => u.displayName || u.username;

    /** Shows the user again from the server, in place (the address stays). */
    const reload = () => ctx.alive() && renderUser(root, ctx);

    // Facts and what can be done to the user.
    const facts = el('dl', { class: 'facts', id: 'user-facts' });
    function fillFacts() {
      const row = (k, v) => [el('dt', { text: k }), el('dd', {}, [v])];
      facts.replaceChildren(
        ...row('Username', u.username),
        ...row('Display name', u.displayName),
        ...row('E-mail', u.email || el('span', { class: 'muted', text: 'none' })),
        ...row('Admin', u.isAdmin ? 'Yes' : 'No'),
        ...row('Blocked', u.isBlocked ? 'Yes: cannot sign in, and every token is refused' : 'No'),
        ...row('Created', ui.time(u.createdAt)),
        ...row('Logged out everywhere', u.revokeTokensBefore ? ui.time(u.revokeTokensBefore) : el('span', { class: 'muted', text: 'never' })),
        ...row('Id', el('span', { class: 'mono', text: u.id })),
      );
    }
    fillFacts();
    const factsMsg = ui.note('ok', '');
    hide(factsMsg);

    const edit = ui.button('Edit', () => editUser(), { kind: 'secondary', attrs: { id: 'user-edit' } });
    const block = ui.button(u.isBlocked ? 'Unblock' : 'Block', () => toggleBlock(), { kind: 'secondary', attrs: { id: 'user-block' } });
    const del = ui.button('Delete', () => deleteUser(), { kind: 'danger', attrs: { id: 'user-delete' } });
    box.appendChild(ui.head(who(), u.username, [edit, block, del], crumbs));

    async function editUser() {
      await ui.formDialog({
        title: 'Edit ' + who(),
        fields: userFields(u, false),
        onSubmit: async (v, form) => {
          const body = { username: v.username.trim(), displayName: v.displayName.trim(), email: v.email.trim() || null, isAdmin: v.isAdmin };
          const r = await ui.api('PUT', base, body);
          if (r === null) return true;
          if (r.status !== 200) {
            form.answer(r, 'The user could not be changed');
            return false;
          }
          ui.toast('Saved ' + r.data.username + '.');
          reload();
          return true;
        },
      });
    }

    async function toggleBlock() {
      const blocking = !u.isBlocked;
      if (blocking && !(await ui.confirm('Block ' + who() + '?', 'They can no longer sign in, and every session and token of theirs stops working until you unblock them.', 'Block'))) return;
      const r = await ui.api('PUT', base, { isBlocked: blocking });
      if (r === null) return;
      if (r.status !== 200) {
        ui.setNote(factsMsg, 'error', r.status === 409 ? refused(r, who() + ' cannot be blocked', 'refused') : ui.say(r, 'The user could not be changed'));
        return;
      }
      u = r.data;
      fillFacts();
      block.textContent = u.isBlocked ? 'Unblock' : 'Block';
      ui.setNote(factsMsg, 'ok', u.isBlocked ? who() + ' is blocked.' : who() + ' is no longer blocked.');
    }

    async function deleteUser() {
      if (!(await ui.confirm('Delete ' + who() + ' (' + u.username + ')?', 'This removes the user with all their logins, passkeys and sessions. It cannot be undone.', 'Delete user'))) return;
      const r = await ui.api('DELETE', base);
      if (r === null) return;
      if (r.status === 200) {
        ui.toast('Deleted ' + u.username + '.');
        ctx.go('users');
        return;
      }
      ui.setNote(factsMsg, 'error', r.status === 409
        ? refused(r, who() + ' cannot be deleted', 'refused') + ' Make another user an admin first (one who can sign in).'
        : ui.say(r, 'The user could not be deleted'));
    }

    box.appendChild(card('user-about', 'About', [facts, factsMsg]));

    // Logins and passkeys (both from login-data).
    const logins = lr.status === 200 && Array.isArray(lr.data) ? lr.data : null;
    const loginsMsg = ui.note('error', '');
    const passkeysMsg = ui.note('error', '');
    hide(loginsMsg);
    hide(passkeysMsg);

    async function unlink(l, label, box) {
      const pk = isPasskey(l);
      const ok = await ui.confirm(
        pk ? 'Remove this passkey?' : 'Unlink this login?',
        who() + ' will no longer be able to sign in with ' + label + '.',
        pk ? 'Remove passkey' : 'Unlink',
      );
      if (!ok) return;
      const r = await ui.api('DELETE', API + '/login-data/' + ui.seg(l.id));
      if (r === null) return;
      if (r.status === 200) {
        ui.toast((pk ? 'Removed ' : 'Unlinked ') + label + '.');
        reload();
        return;
      }
      if (r.status === 409) {
        ui.setNote(box, 'error', refused(r, (pk ? 'This passkey' : 'This login') + ' cannot be removed', 'refused') +
          (r.data.code === 'last_login_method' ? ' It is ' + who() + '’s only way left to sign in: give them another one first (a password, a passkey link or a linked login), or delete the user.' : ''));
        return;
      }
      ui.setNote(box, 'error', r.status === 404 ? 'This login no longer exists.' : ui.say(r, 'The login could not be removed'));
    }

    async function resetPassword(l) {
      await ui.formDialog({
        title: 'New password for ' + (l.description || who()),
        intro: 'Sets the password of this login without the old one. The user’s sessions stay as they are; end them below if the old password may be known to someone else.',
        fields: [
          { name: 'newPassword', label: 'New password', type: 'password', required: true, autocomplete: 'new-password', hint: 'At least 8 characters.' },
        ],
        submit: 'Set password',
        onSubmit: async (v, form) => {
          const r = await ui.api('PUT', API + '/login-data/' + ui.seg(l.id) + '/password', { newPassword: v.newPassword });
          if (r === null) return true;
          if (r.status !== 200) {
            if (r.status === 400) form.fieldError('newPassword', ui.say(r, 'This password cannot be used'));
            else form.answer(r, 'The password could not be set');
            return false;
          }
          ui.toast('The password of ' + (l.description || 'the login') + ' is set.');
          return true;
        },
      });
    }

    const loginNodes = [];
    const pkNodes = [];
    if (!logins) {
      loginNodes.push(ui.note('error', ui.say(lr, 'The logins could not be loaded')));
    } else {
      const others = logins.filter((l) => !isPasskey(l));
      const keys = logins.filter(isPasskey);
      loginNodes.push(ui.table({
        id: 'user-logins',
        label: 'Logins',
        rows: others,
        empty: keys.length ? 'No password or other login: ' + who() + ' signs in with passkeys.' : 'No logins: ' + who() + ' cannot sign in. Link a login or make a passkey link.',
        columns: [
          { label: 'Login', cell: (l) => (l.strategyInstance && l.strategyInstance.name) || typeName(l.strategyInstance && l.strategyInstance.type) },
          { label: 'Type', cell: (l) => typeName(l.strategyInstance && l.strategyInstance.type) },
          {
            label: 'Account',
            cell: (l) => el('span', {}, [
              l.description || '',
              l.subject && l.subject !== l.description ? el('div', { class: 'muted mono', text: l.subject, title: 'Subject at the provider' }) : null,
            ]),
          },
          { label: 'State', cell: (l) => (l.state === 'VALID' ? STATES.VALID : el('span', { class: 'badge warn', text: STATES[l.state] || String(l.state || '') })) },
          { label: 'Expires', cell: (l) => (l.expires ? ui.time(l.expires) : el('span', { class: 'muted', text: '—' })) },
          {
            label: 'Actions',
            hidden: true,
            class: 'actions-cell',
            cell: (l) => {
              const name = ((l.strategyInstance && l.strategyInstance.name) || typeName(l.strategyInstance && l.strategyInstance.type)) + (l.description ? ' “' + l.description + '”' : '');
              const acts = [];
              if (l.strategyInstance && l.strategyInstance.type === 'userpass' && l.state === 'VALID') {
                acts.push(ui.button('Reset password', () => resetPassword(l), { kind: 'secondary', small: true, attrs: { 'aria-label': 'Reset the password of ' + name } }));
              }
              acts.push(ui.button('Unlink', () => unlink(l, name, loginsMsg), { kind: 'secondary', small: true, attrs: { 'aria-label': 'Unlink ' + name } }));
              return el('div', { class: 'row-actions' }, acts);
            },
          },
        ],
      }));
      pkNodes.push(ui.table({
        id: 'user-passkeys',
        label: 'Passkeys',
        rows: keys,
        empty: 'No passkeys.',
        columns: [
          { label: 'Name', cell: (l) => passkeyInfo(l).name },
          { label: 'Added', cell: (l) => ui.time(passkeyInfo(l).createdAt) },
          { label: 'Last used', cell: (l) => (passkeyInfo(l).lastUsedAt ? ui.time(passkeyInfo(l).lastUsedAt) : el('span', { class: 'muted', text: 'never' })) },
          {
            label: 'Actions',
            hidden: true,
            class: 'actions-cell',
            cell: (l) => {
              const name = 'the passkey “' + passkeyInfo(l).name + '”';
              return ui.button('Remove', () => unlink(l, name, passkeysMsg), { kind: 'secondary', small: true, attrs: { 'aria-label': 'Remove ' + name } });
            },
          },
        ],
      }));
    }

    async function adminLink() {
      await ui.formDialog({
        title: 'Link a waiting login to ' + who(),
        intro: 'A login that waits for registration (a new password login, or a first sign-in with another provider) comes with a register token. Paste it here to make that login one of ' + who() + '’s.',
        fields: [{ name: 'register_token', label: 'Register token', type: 'textarea', required: true, rows: 4 }],
        submit: 'Link',
        onSubmit: async (v, form) => {
          const r = await ui.api('POST', API + '/registration/admin-link', { register_token: v.register_token.trim(), userIdToLink: u.id });
          if (r === null) return true;
          if (r.status === 200) {
            ui.toast('Linked the login to ' + who() + '.');
            reload();
            return true;
          }
          if (r.status === 401) form.fieldError('register_token', 'This register token cannot be used: it is not valid, has expired (after 10 minutes), or its login has already been registered or linked.');
          else if (r.status === 404) form.error('This user no longer exists.');
          else form.answer(r, 'The login could not be linked');
          return false;
        },
      });
    }

    async function passkeyLink(send, box) {
      hide(box);
      if (send && !(await ui.confirm('Mail a passkey link to ' + who() + '?', 'keyward mails a one-time link to ' + (u.email || 'their e-mail address') + '; with it they add a passkey to this account.', 'Send link'))) return;
      const r = await ui.api('POST', base + '/passkey-link', send ? { send: true } : {});
      if (r === null) return;
      if (r.status !== 201) {
        let text = ui.say(r, 'The link could not be made');
        if (send && r.status === 409) text = 'The link cannot be mailed: ' + text.charAt(0).toLowerCase() + text.slice(1) + ' Show the link instead and hand it over yourself.';
        if (send && r.status === 503) text = 'The mail server did not take the message, so the link was not sent (and does not work): ' + text.charAt(0).toLowerCase() + text.slice(1);
        ui.setNote(box, 'error', text);
        return;
      }
      if (r.data.sent) {
        ui.setNote(box, 'ok', 'The link is on its way to ' + (u.email || who()) + '. It works for ' + duration(r.data.expiration) + ', for one passkey.');
        return;
      }
      const img = el('img', { alt: 'QR code of the passkey link', width: '220', height: '220' });
      const hasQr = qrImage(img, r.data.qrCode);
      const until = when(r.data.expiresAt);
      await ui.infoDialog({
        title: 'Passkey link for ' + who(),
        nodes: [
          el('p', { class: 'muted', text: 'Open it on the device that should hold the passkey (scan the code with a phone), or send it to ' + who() + ' yourself. Anyone with the link can add a passkey to this account.' }),
          hasQr ? el('div', { class: 'qr', id: 'pk-link-qr' }, [img]) : null,
          ui.copyField('pk-link-url', 'Link', r.data.link),
          el('p', { class: 'hint', id: 'pk-link-expiry', text: until ? 'Valid until ' + until + ', for one passkey.' : 'Valid for one passkey.' }),
        ],
      });
    }

    box.appendChild(card('user-logins-card', 'Logins', [
      ...loginNodes,
      loginsMsg,
      el('div', { class: 'actions' }, [ui.button('Link a waiting login', adminLink, { kind: 'secondary', attrs: { id: 'user-admin-link' } })]),
    ]));
    box.appendChild(card('user-passkeys-card', 'Passkeys', [
      ...pkNodes,
      passkeysMsg,
      el('div', { class: 'actions' }, [
        ui.button('Make a passkey link', () => passkeyLink(false, passkeysMsg), { kind: 'secondary', attrs: { id: 'user-pk-link' } }),
        // Only where it can work: keyward has a mail server and the user an address.
        ctx.server && ctx.server.mail && u.email
          ? ui.button('Mail a passkey link', () => passkeyLink(true, passkeysMsg), { kind: 'secondary', attrs: { id: 'user-pk-mail' } })
          : null,
      ]),
    ]));

    // Sessions.
    const sessMsg = ui.note('error', '');
    hide(sessMsg);
    const sessions = sr.status === 200 && Array.isArray(sr.data) ? sr.data : null;

    async function endSession(s) {
      if (s.current && !(await ui.confirm('End your own session?', 'This is the session of this console: you will have to sign in again.', 'End session'))) return;
      const r = await ui.api('DELETE', API + '/active-login/' + ui.seg(s.id));
      if (r === null) return;
      if (r.status === 200 || r.status === 404) {
        ui.toast('The session has ended.');
        reload();
        return;
      }
      ui.setNote(sessMsg, 'error', ui.say(r, 'The session could not be ended'));
    }

    async function everywhere() {
      const text = 'Every session of ' + who() + ' ends, and every token issued to them until now stops working.' + (self ? ' That includes this console: you will have to sign in again.' : '');
      if (!(await ui.confirm('Log ' + who() + ' out everywhere?', text, 'Log out everywhere'))) return;
      const r = await ui.api('POST', base + '/revoke-tokens', {});
      if (r === null) return;
      if (r.status === 200) {
        ui.toast(who() + ' is logged out everywhere.');
        reload();
        return;
      }
      ui.setNote(sessMsg, 'error', ui.say(r, 'The sessions could not be ended'));
    }

    const client = (s) => (s.clientId ? CLIENTS[s.clientId] || s.clientId : 'keyward’s sign-in pages');
    box.appendChild(card('user-sessions-card', 'Sessions', [
      sessions
        ? ui.table({
          id: 'user-sessions',
          label: 'Sessions',
          rows: sessions,
          empty: 'No sessions: ' + who() + ' is not signed in anywhere.',
          columns: [
            { label: 'Client', cell: (s) => el('span', {}, [sentence(client(s)).replace(/\.$/, ''), s.current ? ' ' : null, s.current ? el('span', { class: 'badge', text: 'You, now' }) : null]) },
            { label: 'Device', cell: (s) => el('span', { text: device(s.userAgent), title: s.userAgent || '' }) },
            { label: 'Address', cell: (s) => s.address || el('span', { class: 'muted', text: '—' }) },
            { label: 'Signed in', cell: (s) => ui.time(s.createdAt) },
            { label: 'Last used', cell: (s) => ui.time(s.lastUsedAt) },
            {
              label: 'Actions',
              hidden: true,
              class: 'actions-cell',
              cell: (s) => ui.button('End', () => endSession(s), { kind: 'secondary', small: true, attrs: { 'aria-label': 'End the session of ' + client(s) + ' on ' + device(s.userAgent) } }),
            },
          ],
        })
        : ui.note('error', ui.say(sr, 'The sessions could not be loaded')),
      sessMsg,
      el('div', { class: 'actions' }, [ui.button('Log out everywhere', everywhere, { kind: 'danger', attrs: { id: 'user-revoke' } })]),
    ]));
    if (ctx.alive()) root.replaceChildren(box);
  }

  /** "3600s" in words. */
  function duration(d) {
    const s = parseInt(String(d || ''), 10);
    if (!(s > 0)) return 'a while';
    if (s % 86400 === 0) return s / 86400 + (s === 86400 ? ' day' : ' days');
    if (s % 3600 === 0) return s / 3600 + (s === 3600 ? ' hour' : ' hours');
    if (s % 60 === 0) return s / 60 + (s === 60 ? ' minute' : ' minutes');
    return s + ' seconds';
  }

  ui.view('users', {
    title: 'Users',
    nav: 'Users',
    render(root, ctx) {
      return ctx.parts.length ? renderUser(root, ctx) : renderList(root, ctx);
    },
  });
})();
