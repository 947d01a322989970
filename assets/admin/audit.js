// The audit log: newest first, filtered by user, action and time. The filters live in the
// address (#/audit?user=…&action=…&from=…&to=…), so a filtered view can be linked and the back
// button goes back to the filters before; "Load more" pages on by cursor.
(function () {
  'use strict';
  const { el, when } = window.keyward;
  const ui = window.kwAdmin;

  const PAGE = 50;
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
  const NOT_USERS = { cli: 'the command line', setup: 'the setup link', system: 'keyward itself' };

  const WORDS = {
    'client.create': 'created an OAuth client',
    'client.update': 'changed an OAuth client',
    'client.delete': 'deleted an OAuth client',
    'client-secret.create': 'added a client secret',
    'client-secret.delete': 'deleted a client secret',
    'identity.admin-link': 'linked a login to a user',
    'identity.self-link': 'linked a login to their account',
    'identity.upstream-link': 'linked a provider login',
    'identity.unlink': 'unlinked a login',
    'identity.detach': 'made a login a user of its own',
    'key.rotate': 'rotated the signing key',
    'keys.rotate': 'rotated the signing key',
    'login-data.password': 'changed a password',
    'passkey.add': 'added a passkey',
    'passkey.link': 'made a passkey link',
    'passkey.login': 'logged in with a passkey',
    'passkey.remove': 'removed a passkey',
    'passkey.rename': 'renamed a passkey',
    'session.end': 'ended a session',
    'strategy-instance.create': 'created a login method',
    'strategy-instance.update': 'changed a login method',
    'strategy-instance.delete': 'deleted a login method',
    'token.issue': 'issued a token',
    'user.create': 'created a user',
    'user.update': 'changed a user',
    'user.delete': 'deleted a user',
    'user.merge': 'merged two users',
    'user.revoke-tokens': 'logged a user out everywhere',
    'users.export': 'exported the users',
    'users.import': 'imported users',
  };
  const GROUPS = {
    'client.': 'OAuth clients', 'client-secret.': 'client secrets', 'identity.': 'logins (identities)',
    'key.': 'signing keys', 'login-data.': 'passwords', 'passkey.': 'passkeys', 'session.': 'sessions',
    'strategy-instance.': 'login methods', 'token.': 'tokens', 'user.': 'users', 'users.': 'export and import',
  };

  const words = (a) => WORDS[a] || a.replace('.', ': ').replace(/-/g, ' ');

  /** `2025-04-20T18:05:34.780Z` → the value of a datetime-local input, in local time. */
  function toLocalInput(iso) {
    const d = new Date(iso);
    if (!iso || isNaN(d.getTime())) return '';
    const p = (n) => String(n).padStart(2, '0');
    return d.getFullYear() + '-' + p(d.getMonth() + 1) + '-' + p(d.getDate()) + 'T' + p(d.getHours()) + ':' + p(d.getMinutes());
  }

  function who(e) {
    if (NOT_USERS[e.actor]) return el('span', { text: NOT_USERS[e.actor] });
    if (e.actorName) return ui.link('users/' + ui.seg(e.actor), e.actorName);
    return el('span', { class: 'muted' }, ['a deleted user ', el('span', { class: 'mono', text: e.actor })]);
  }

  // Where a target that is not a user lives in the console, by the action's kind.
  const TARGET_VIEWS = { 'client.': 'clients', 'client-secret.': 'clients', 'strategy-instance.': 'instances' };

  function target(e) {
    if (!e.target) return el('span', { class: 'muted', text: '—' });
    if (e.targetName) return ui.link('users/' + ui.seg(e.target), e.targetName);
    const kind = Object.keys(TARGET_VIEWS).find((k) => e.action.startsWith(k));
    if (kind && e.action !== 'client.delete' && e.action !== 'strategy-instance.delete') {
      return ui.link(TARGET_VIEWS[kind] + '/' + ui.seg(e.target), e.target, { class: 'mono' });
    }
    return el('span', { class: 'mono', text: e.target });
  }

  /** The details as short "key: value" lines. */
  function details(d) {
    if (d === null || d === undefined || typeof d !== 'object') return d === null || d === undefined ? '' : String(d);
    const lines = Object.entries(d).filter(([, v]) => v !== null && v !== undefined && !(Array.isArray(v) && !v.length));
    if (!lines.length) return el('span', { class: 'muted', text: '—' });
    return el('div', { class: 'kv' }, lines.map(([k, v]) => {
      const text = Array.isArray(v) ? v.join(', ') : typeof v === 'object' ? JSON.stringify(v) : String(v);
      return el('div', {}, [el('span', { class: 'k', text: k.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase() + ': ' }), el('span', { text })]);
    }));
  }

  ui.view('audit', {
    title: 'Audit log',
    nav: 'Audit log',
    async render(root, ctx) {
      const q = ctx.query;
      const f = { user: q.get('user') || '', action: q.get('action') || '', from: q.get('from') || '', to: q.get('to') || '' };
      root.appendChild(ui.head('Audit log', 'Every privileged change, newest first.'));

      // The filters. Applying one changes the address; the address renders the view.
      const userIn = el('input', { id: 'audit-user', type: 'search', list: 'audit-user-list', autocomplete: 'off', placeholder: 'username or id' });
      const userList = el('datalist', { id: 'audit-user-list' });
      const actionIn = el('select', { id: 'audit-action' }, [el('option', { value: '' }, ['Any action'])]);
      const fromIn = el('input', { id: 'audit-from', type: 'datetime-local' });
      const toIn = el('input', { id: 'audit-to', type: 'datetime-local' });
      fromIn.value = toLocalInput(f.from);
      toIn.value = toLocalInput(f.to);
      const filterNote = el('div', { class: 'msg error hidden', role: 'alert', id: 'audit-filter-error' });
      const apply = el('button', { type: 'submit', id: 'audit-apply' }, ['Apply']);
      const clear = el('a', { href: '#/audit', class: 'button secondary', id: 'audit-clear' }, ['Clear']);
      const field = (id, label, input) => el('div', { class: 'field' }, [el('label', { for: id, text: label }), input]);
      const form = el('form', { class: 'toolbar', id: 'audit-filters', role: 'search', 'aria-label': 'Filter the audit log' }, [
        field('audit-user', 'User', userIn), userList,
        field('audit-action', 'Action', actionIn),
        field('audit-from', 'From', fromIn),
        field('audit-to', 'To', toIn),
        el('div', { class: 'row-actions' }, [apply, clear]),
      ]);
      root.appendChild(form);
      root.appendChild(filterNote);

      // Usernames offered as the admin types (the user list's own search).
      let found = [];
      const suggest = ui.debounce(async () => {
        const text = userIn.value.trim();
        if (!text || UUID.test(text)) return;
        const r = await ui.api('GET', '/auth/api/login/user?limit=10&search=' + encodeURIComponent(text));
        if (!r || r.status !== 200 || !ctx.alive()) return;
        found = r.data.items;
        userList.replaceChildren(...found.map((u) => el('option', { value: u.username }, [u.displayName])));
      }, 250);
      userIn.addEventListener('input', suggest);

      /** The id the user field names: an id as it is, else the user with that username. */
      async function userId() {
        const text = userIn.value.trim();
        if (!text || UUID.test(text) || NOT_USERS[text]) return text;
        const same = (u) => u.username.toLowerCase() === text.toLowerCase();
        let u = found.find(same);
        if (!u) {
          const r = await ui.api('GET', '/auth/api/login/user?limit=10&search=' + encodeURIComponent(text));
          if (r === null) return null;
          u = r.status === 200 ? r.data.items.find(same) : null;
        }
        if (!u) throw new Error('No user is called “' + text + '”. Pick one of the suggestions or paste a user id.');
        return u.id;
      }

      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        ui.setNote(filterNote, 'error', '');
        let id;
        try {
          id = await userId();
        } catch (e) {
          ui.setNote(filterNote, 'error', e.message);
          userIn.focus();
          return;
        }
        if (id === null) return;
        const p = new URLSearchParams();
        if (id) p.set('user', id);
        if (actionIn.value) p.set('action', actionIn.value);
        if (fromIn.value) p.set('from', new Date(fromIn.value).toISOString());
        if (toIn.value) p.set('to', new Date(toIn.value).toISOString());
        const qs = p.toString();
        ctx.go('audit' + (qs ? '?' + qs : ''));
      });
      actionIn.addEventListener('change', () => form.requestSubmit());

      const list = el('div', { class: 'card', id: 'audit-card' }, [el('p', { class: 'muted', text: 'Loading…' })]);
      root.appendChild(list);
      const more = ui.button('Load more', () => page(), { kind: 'secondary', attrs: { id: 'audit-more' } });
      const pager = el('div', { class: 'pager hidden' }, [el('span', { class: 'muted', id: 'audit-count' }), more]);
      root.appendChild(pager);

      const base = new URLSearchParams();
      for (const k of ['user', 'action', 'from', 'to']) if (f[k]) base.set(k, f[k]);
      let before = null;
      let shown = 0;
      let tbody = null;

      function render(rows, first) {
        const t = ui.table({
          id: 'audit-table',
          label: 'Audit events',
          columns: [
            { label: 'When', cell: (e) => ui.time(e.time) },
            { label: 'Who', cell: who },
            { label: 'What', cell: (e) => el('span', { title: e.action, data: { action: e.action } }, [words(e.action)]) },
            { label: 'Target', cell: target },
            { label: 'From', cell: (e) => e.address || el('span', { class: 'muted', text: '—' }), class: 'address' },
            { label: 'Details', cell: (e) => details(e.details) },
          ],
          rows,
          empty: base.toString() ? 'No event matches these filters.' : 'Nothing has been recorded yet.',
        });
        if (first || !tbody) {
          list.replaceChildren(t);
          tbody = t.querySelector('tbody');
        } else {
          for (const tr of t.querySelectorAll('tbody tr')) tbody.appendChild(tr);
        }
      }

      async function fetchPage() {
        const p = new URLSearchParams(base);
        p.set('limit', String(PAGE));
        if (before !== null) p.set('before', String(before));
        return ui.api('GET', '/auth/api/login/audit?' + p.toString());
      }

      function show(r, first) {
        if (r.status !== 200) {
          const text = ui.say(r, 'The audit log could not be loaded');
          if (first) list.replaceChildren(ui.note('error', text));
          else ui.toast(text, 'error');
          return;
        }
        render(r.data, first);
        shown += r.data.length;
        if (r.data.length) before = r.data[r.data.length - 1].id;
        pager.classList.toggle('hidden', shown === 0);
        $count().textContent = shown + (shown === 1 ? ' event shown' : ' events shown');
        more.classList.toggle('hidden', r.data.length < PAGE);
      }
      const $count = () => document.getElementById('audit-count');

      async function page() {
        const r = await fetchPage();
        if (r === null || !ctx.alive()) return;
        show(r, false);
      }

      // The events, the action names and the filtered user's name: independent, so together.
      const [events, actions, user] = await Promise.all([
        fetchPage(),
        ui.api('GET', '/auth/api/login/audit/actions'),
        f.user && !NOT_USERS[f.user] ? ui.api('GET', '/auth/api/login/user/' + ui.seg(f.user)) : Promise.resolve(null),
      ]);
      if (events === null || !ctx.alive()) return;
      if (actions && actions.status === 200) {
        const groups = [...new Set(actions.data.map((a) => a.slice(0, a.indexOf('.') + 1)).filter((g) => g))];
        const all = el('optgroup', { label: 'All of a kind' }, groups.map((g) => el('option', { value: g }, ['Anything on ' + (GROUPS[g] || g)])));
        const one = el('optgroup', { label: 'One action' }, actions.data.map((a) => el('option', { value: a }, [words(a) + ' (' + a + ')'])));
        actionIn.append(all, one);
      }
      if (f.action && ![...actionIn.options].some((o) => o.value === f.action)) {
        actionIn.appendChild(el('option', { value: f.action }, [f.action]));
      }
      actionIn.value = f.action;
      userIn.value = user && user.status === 200 ? user.data.username : f.user;
      show(events, true);
      if (f.user || f.action || f.from || f.to) {
        const parts = [];
        if (f.user) parts.push('by or about ' + (userIn.value || f.user));
        if (f.action) parts.push(f.action.endsWith('.') ? 'anything on ' + (GROUPS[f.action] || f.action) : words(f.action));
        if (f.from) parts.push('from ' + when(f.from));
        if (f.to) parts.push('until ' + when(f.to));
        root.querySelector('.view-head p').textContent = 'Events ' + parts.join(', ') + ', newest first.';
      }
    },
  });
})();
