// The Dashboard: the installation at a glance, from one call (`GET /auth/api/login/stats`).
(function () {
  'use strict';
  const { el, TYPES } = window.keyward;
  const ui = window.kwAdmin;

  const count = (n) => Number(n).toLocaleString();

  /** A size in words: "12.4 MB". */
  function size(bytes) {
    const mb = bytes / (1024 * 1024);
    if (mb >= 1024) return (mb / 1024).toFixed(1) + ' GB';
    if (mb >= 10) return Math.round(mb) + ' MB';
    return mb.toFixed(1) + ' MB';
  }

  /** An age in words: "3 days", "5 hours". */
  function age(seconds) {
    const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60]];
    for (const [u, n] of units) {
      const v = Math.floor(seconds / n);
      if (v >= 1) return v + ' ' + u + (v === 1 ? '' : 's');
    }
    return 'less than a minute';
  }

  function tile(id, label, figure, sub) {
    return el('div', { class: 'tile', id }, [
      el('div', { class: 'label', text: label }),
      el('div', { class: 'figure', text: figure }),
      sub ? el('div', { class: 'muted', text: sub }) : null,
    ]);
  }

  ui.view('dashboard', {
    title: 'Dashboard',
    nav: 'Dashboard',
    async render(root, ctx) {
      root.appendChild(ui.head('Dashboard'));
      const r = await ui.api('GET', '/auth/api/login/stats');
      if (r === null || !ctx.alive()) return;
      if (r.status !== 200) {
        root.appendChild(ui.note('error', ui.say(r, 'The figures could not be loaded')));
        return;
      }
      const s = r.data;
      root.replaceChildren(ui.head('Dashboard', s.version + ' · running since ' + window.keyward.when(s.startedAt)));

      // The login window is the last 24 hours unless the server started later than that.
      const since = new Date(s.logins.countingSince).getTime();
      const partial = since > new Date(s.time).getTime() - 23 * 3600 * 1000;
      const window24 = partial ? 'since ' + window.keyward.when(s.logins.countingSince) : 'in the last 24 hours';
      const signing = s.signingKeys.find((k) => k.signing);
      root.appendChild(el('div', { class: 'grid', id: 'dash-tiles' }, [
        tile('tile-users', 'Users', count(s.users.total),
          count(s.users.admins) + (s.users.admins === 1 ? ' admin' : ' admins') + ' · ' + count(s.users.blocked) + ' blocked'),
        tile('tile-sessions', 'Active sessions', count(s.activeSessions), 'not ended or expired'),
        tile('tile-logins', 'Logins', count(s.logins.success), window24),
        tile('tile-failures', 'Failed logins', count(s.logins.failure),
          count(s.logins.throttled) + ' more refused by the throttle · ' + window24),
        tile('tile-key', 'Signing key', signing ? age(signing.ageSeconds) + ' old' : 'none', signing ? signing.alg : ''),
        tile('tile-db', 'Database', size(s.databaseBytes), 'file and write-ahead log'),
      ]));

      const instances = el('div', { class: 'card' }, [
        el('h2', { text: 'Identities per login method' }),
        ui.table({
          id: 'dash-identities',
          label: 'Identities per strategy instance',
          columns: [
            { label: 'Instance', cell: (i) => i.name || el('span', { class: 'muted', text: 'unnamed' }) },
            { label: 'Kind', cell: (i) => TYPES[i.type] || i.type },
            { label: 'Identities', cell: (i) => count(i.count), class: 'num' },
          ],
          rows: s.identities,
          empty: 'No strategy instances yet.',
        }),
      ]);
      root.appendChild(instances);

      const keys = el('div', { class: 'card' }, [
        el('h2', { text: 'Published signing keys' }),
        ui.table({
          id: 'dash-keys',
          label: 'Published signing keys',
          columns: [
            { label: 'Key id', cell: (k) => k.kid, class: 'mono' },
            { label: 'Algorithm', cell: (k) => k.alg },
            { label: 'Created', cell: (k) => ui.time(k.createdAt) },
            { label: 'Age', cell: (k) => age(k.ageSeconds) },
            { label: 'State', cell: (k) => (k.signing ? el('span', { class: 'badge', text: 'signing' }) : el('span', { class: 'muted', text: 'retired, still published' })) },
          ],
          rows: s.signingKeys.map((k) => ({ ...k, id: k.kid })),
          empty: 'No signing key.',
        }),
        el('p', {}, [ui.link('keys', 'Manage signing keys')]),
      ]);
      root.appendChild(keys);
    },
  });
})();
