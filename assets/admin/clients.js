// The OAuth clients view: `#/clients` lists the applications that get tokens from keyward,
// `#/clients/<id>` shows one with its secrets. Clients are created and edited in a dialog
// (redirect URLs, scopes, resources, secret required, valid, password grant, the user whom
// client-credentials tokens speak for); a new secret is shown once, in a dialog with a copy
// button. The built-in clients (the account page, this console) cannot be deleted, and their
// redirect URL and public-client setting are fixed: the form does not offer those.
(function () {
  'use strict';
  const { el, show, hide, call, CLIENTS } = window.keyward;
  const ui = window.kwAdmin;
  const BASE = '/auth/api/login';

  /** The scopes a client may be given, as keyward's discovery document lists them (every
   *  client scope, see core/clients.rs); asked once per page load. */
  let scopesPromise = null;
  function clientScopes() {
    if (!scopesPromise) {
      scopesPromise = call('GET', '/.well-known/openid-configuration').then((r) => {
        const list = r.status === 200 && Array.isArray(r.data.scopes_supported) ? r.data.scopes_supported : null;
        if (!list) scopesPromise = null; // ask again next time
        return list;
      });
    }
    return scopesPromise;
  }

  const SCOPE_HINTS = {
    login: "keyward's login API for the user",
    openid: 'OpenID Connect: an ID token',
    profile: 'name in the ID token and userinfo',
    email: 'e-mail in the ID token and userinfo',
    'read:current_user': 'identities API: own account',
    'update:current_user_identities': 'identities API: link and unlink own logins',
    'read:users': 'identities API: read any user',
    'update:users': 'identities API: change any user',
    sync: 'sync API: provider tokens (client credentials)',
  };

  /** The grants a client can use, in words. */
  function grants(c) {
    const g = [];
    if (c.redirectUrls.length) g.push('Authorization code');
    if (c.requiresSecret && c.clientCredentialFlowUser) g.push('Client credentials');
    if (c.allowPasswordGrant) g.push('Password');
    return g;
  }

  // In a span, not on the cell: a stacked cell's label stays in the normal font.
  const mono = (text) => el('span', { class: 'mono', text });
  const badge = (text, kind) => el('span', { class: 'badge' + (kind ? ' ' + kind : ''), text });
  const badges = (list, none) => (list.length ? el('span', { class: 'badges' }, list.map((t) => badge(t))) : el('span', { class: 'muted', text: none || '—' }));

  function nameCell(c) {
    return el('span', {}, [ui.link('clients/' + ui.seg(c.id), c.name), c.builtin ? ' ' : null, c.builtin ? badge('built in', 'off') : null]);
  }

  // ---- The list ----

  async function renderList(root, ctx) {
    clientScopes(); // for the form, meanwhile
    const create = ui.button('New client', async () => {
      const made = await clientDialog(null);
      if (made && ctx.alive()) ctx.go('clients/' + ui.seg(made.id) + '?created=1');
    });
    root.appendChild(ui.head('OAuth clients', 'The applications that sign people in through keyward and get tokens from it.', [create]));
    const r = await ui.api('GET', BASE + '/client');
    if (r === null || !ctx.alive()) return;
    if (r.status !== 200) {
      root.appendChild(ui.note('error', ui.say(r, 'The clients could not be loaded')));
      return;
    }
    root.appendChild(
      ui.table({
        id: 'clients',
        label: 'OAuth clients',
        rows: r.data,
        empty: 'No clients yet. Add one with "New client".',
        onRow: (c) => ctx.go('clients/' + ui.seg(c.id)),
        columns: [
          { label: 'Name', cell: nameCell },
          { label: 'Client ID', cell: (c) => mono(c.id) },
          { label: 'Valid', cell: (c) => (c.isValid ? badge('valid', 'good') : badge('disabled', 'bad')) },
          { label: 'Secret', cell: (c) => (c.requiresSecret ? 'Required' : 'Public client') },
          { label: 'Grants', cell: (c) => badges(grants(c), 'None') },
        ],
      }),
    );
  }

  // ---- One client ----

  async function renderOne(root, ctx, id) {
    clientScopes();
    const crumbs = [ui.link('clients', 'OAuth clients')];
    const path = BASE + '/client/' + ui.seg(id);
    const [r, s] = await Promise.all([ui.api('GET', path), ui.api('GET', path + '/client-secret')]);
    if (r === null || s === null || !ctx.alive()) return;
    if (r.status !== 200) {
      root.appendChild(ui.head(r.status === 404 ? 'No such client' : 'OAuth client', null, null, crumbs));
      root.appendChild(ui.note('error', r.status === 404 ? 'This client does not exist (any more).' : ui.say(r, 'The client could not be loaded')));
      return;
    }
    const c = r.data;
    const rerender = () => {
      if (!ctx.alive()) return;
      root.replaceChildren();
      renderOne(root, { ...ctx, query: new URLSearchParams() }, id);
    };
    // The user's name, fetched while the page is drawn.
    const userP = c.clientCredentialFlowUser ? ui.api('GET', BASE + '/user/' + ui.seg(c.clientCredentialFlowUser)) : null;

    const status = ui.note('error', '');
    hide(status);
    const actions = [
      ui.button('Edit', async () => {
        if (await clientDialog(c)) {
          ui.toast('Saved.');
          rerender();
        }
      }),
    ];
    if (!c.builtin) {
      actions.push(
        ui.button('Delete', async () => {
          const ok = await ui.confirm('Delete ' + c.name + '?', 'The client and its secrets are deleted: it can no longer sign anyone in or get tokens. This cannot be undone.', 'Delete');
          if (!ok) return;
          const d = await ui.api('DELETE', path);
          if (d === null) return;
          if (d.status === 200) {
            ui.toast('Deleted ' + c.name + '.');
            if (ctx.alive()) ctx.go('clients');
          } else {
            ui.setNote(status, 'error', ui.say(d, 'The client could not be deleted'));
          }
        }, { kind: 'danger' }),
      );
    }
    root.appendChild(ui.head(c.name, c.builtin ? 'Built in: ' + (CLIENTS[c.id] || "keyward's own pages") + ' uses it.' : null, actions, crumbs));
    root.appendChild(status);
    if (ctx.query.get('created')) {
      root.appendChild(ui.note('ok', c.requiresSecret ? 'Created. Add a secret below: the application needs one to get tokens.' : 'Created.'));
    }
    if (c.builtin) {
      root.appendChild(
        ui.note('info', "A built-in client cannot be deleted, and its redirect URL (from keyward's public URL) and being a public client are fixed. Disabling it or taking away its login scope locks people out of that page."),
      );
    }

    const userCell = el('span', { class: 'muted', text: c.clientCredentialFlowUser ? '…' : 'None' });
    const facts = el('dl', { class: 'facts', id: 'client-facts' }, [
      el('dt', { text: 'Client ID' }),
      el('dd', {}, [el('span', { class: 'mono', text: c.id }), ' ', ui.copyButton(c.id)]),
      el('dt', { text: 'Status' }),
      el('dd', {}, [c.isValid ? badge('valid', 'good') : badge('disabled: it gets no tokens', 'bad')]),
      el('dt', { text: 'Secret' }),
      el('dd', { text: c.requiresSecret ? 'Required (a confidential client)' : 'None (a public client: PKCE)' }),
      el('dt', { text: 'Redirect URLs' }),
      el('dd', {}, [lines(c.redirectUrls, 'None')]),
      el('dt', { text: 'Scopes' }),
      el('dd', {}, [badges(c.validScopes, 'None')]),
      el('dt', { text: 'Resources' }),
      el('dd', {}, [lines(c.resources, "keyward's own URL only")]),
      el('dt', { text: 'Password grant' }),
      el('dd', { text: c.allowPasswordGrant ? 'Allowed' : 'Not allowed' }),
      el('dt', { text: 'Client-credentials user' }),
      el('dd', {}, [userCell]),
      el('dt', { text: 'Grants' }),
      el('dd', {}, [badges(grants(c), 'None')]),
    ]);
    root.appendChild(el('section', { class: 'card' }, [facts]));
    root.appendChild(secretsCard(c, s, path, rerender));

    if (userP) {
      const u = await userP;
      if (u === null || !ctx.alive()) return;
      userCell.className = '';
      userCell.replaceChildren(
        u.status === 200
          ? ui.link('users/' + ui.seg(u.data.id), u.data.username)
          : el('span', { class: 'mono', text: c.clientCredentialFlowUser }),
      );
    }
  }

  /** A list of URLs, one a line. */
  function lines(list, none) {
    if (!list.length) return el('span', { class: 'muted', text: none });
    return el('ul', { class: 'plain' }, list.map((u) => el('li', { class: 'mono', text: u })));
  }

  /** The secrets of a client: listed censored, added (shown once), removed. */
  function secretsCard(c, s, path, rerender) {
    const card = el('section', { class: 'card', id: 'secrets' }, [el('h2', { text: 'Secrets' })]);
    if (s.status !== 200) {
      card.appendChild(ui.note('error', ui.say(s, 'The secrets could not be loaded')));
      return card;
    }
    const list = s.data;
    if (c.builtin && !list.length) {
      card.appendChild(el('p', { class: 'muted', text: 'A built-in client is a public client: it has no secrets.' }));
      return card;
    }
    card.appendChild(
      el('p', {
        class: 'muted',
        text: c.requiresSecret
          ? 'The application proves who it is with one of these. Keep several while you change it over, then remove the old one.'
          : 'This is a public client: it does not need a secret.',
      }),
    );
    card.appendChild(
      ui.table({
        id: 'secret-list',
        label: 'Secrets',
        rows: list.map((x) => ({ ...x, id: x.fingerprint })),
        empty: c.requiresSecret ? 'No secrets yet: the application cannot get tokens until you add one.' : 'No secrets.',
        columns: [
          { label: 'Secret', cell: (x) => mono(x.censored) },
          { label: 'Fingerprint', cell: (x) => mono(x.fingerprint) },
          { label: 'Added', cell: (x) => ui.time(x.createdAt) },
          {
            label: 'Actions',
            hidden: true,
            class: 'actions-cell',
            cell: (x) =>
              ui.button('Remove', async () => {
                const ok = await ui.confirm(
                  'Remove this secret?',
                  'The secret ' + x.censored + ' (fingerprint ' + x.fingerprint + ') stops working at once: programs that use it can no longer get tokens.',
                  'Remove',
                );
                if (!ok) return;
                const d = await ui.api('DELETE', path + '/client-secret/' + ui.seg(x.fingerprint));
                if (d === null) return;
                if (d.status === 200) {
                  ui.toast('Secret removed.');
                  rerender();
                } else {
                  ui.toast(ui.say(d, 'The secret could not be removed'), 'error');
                }
              }, { kind: 'secondary', small: true, attrs: { 'aria-label': 'Remove the secret ' + x.censored } }),
          },
        ],
      }),
    );
    card.appendChild(
      el('div', { class: 'actions' }, [
        ui.button('Add a secret', async () => {
          const r = await ui.api('POST', path + '/client-secret');
          if (r === null) return;
          if (r.status !== 201) {
            ui.toast(ui.say(r, 'The secret could not be made'), 'error');
            return;
          }
          await ui.infoDialog({
            title: 'New secret for ' + c.name,
            nodes: [
              ui.note('info', 'Copy it now and keep it safe: keyward keeps only a digest and cannot show it again.'),
              ui.copyField('new-secret', 'Client secret', r.data.secretText),
              el('p', { class: 'hint' }, ['Fingerprint ', el('span', { class: 'mono', text: r.data.fingerprint })]),
            ],
            close: 'I have copied it',
          });
          rerender();
        }, { kind: c.requiresSecret ? '' : 'secondary' }),
      ]),
    );
    return card;
  }

  // ---- The form ----

  /** A scope name that may wrap after its ':' and '_' (not in the middle of a word). */
  function breakable(s) {
    const span = el('span', { class: 'mono scope-name' });
    s.split(/(?<=[:_])/).forEach((part, k) => {
      if (k) span.appendChild(el('wbr'));
      span.appendChild(document.createTextNode(part));
    });
    return span;
  }

  let dialogCount = 0;

  /** A user's id from their username (`GET /user?search=`, exact match); null when none. */
  async function userByName(name) {
    const r = await ui.api('GET', BASE + '/user?limit=100&search=' + encodeURIComponent(name));
    if (r === null) return undefined;
    if (r.status !== 200) return { error: ui.say(r, 'Users could not be searched') };
    const items = r.data.items || [];
    const hit = items.find((u) => u.username === name) || items.find((u) => u.username.toLowerCase() === name.toLowerCase());
    return hit || null;
  }

  /**
   * Creates (`client` null) or edits a client in a dialog; resolves with the saved client, or
   * null when it was closed.
   */
  async function clientDialog(client) {
    const known = (await clientScopes()) || [];
    const n = ++dialogCount;
    const id = (s) => 'c' + n + '-' + s;
    const builtin = !!(client && client.builtin);
    const fields = new Map(); // API field → {input, error, label}
    const form = el('form', { novalidate: '', class: 'client-form' });
    form.appendChild(el('h2', { id: id('title'), text: client ? 'Edit ' + client.name : 'New OAuth client' }));

    function field(name, labelText, input, hint, optional) {
      const err = el('p', { id: id(name) + '-error', class: 'field-error hidden', role: 'alert' });
      const h = el('p', { id: id(name) + '-hint', class: 'hint' + (hint ? '' : ' hidden'), text: hint || '' });
      input.id = input.id || id(name);
      input.setAttribute('aria-describedby', h.id + ' ' + err.id);
      const wrap = el('div', { class: 'field', data: { field: name } });
      if (input.type === 'checkbox') {
        wrap.appendChild(el('label', { class: 'check', for: input.id }, [input, el('span', {}, [labelText])]));
      } else {
        wrap.appendChild(el('label', { for: input.id }, [labelText, optional ? el('span', { class: 'optional', text: ' (optional)' }) : null]));
        wrap.appendChild(input);
      }
      wrap.appendChild(h);
      wrap.appendChild(err);
      fields.set(name, { input, err, label: labelText });
      form.appendChild(wrap);
      return input;
    }
    const text = (v, attrs) => {
      const i = el('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', ...(attrs || {}) });
      i.value = v || '';
      return i;
    };
    const area = (list) => {
      const t = el('textarea', { rows: '3', spellcheck: 'false', class: 'mono' });
      t.value = (list || []).join('\n');
      return t;
    };
    const check = (on) => {
      const i = el('input', { type: 'checkbox' });
      i.checked = !!on;
      return i;
    };

    const name = field('name', 'Name', text(client ? client.name : '', { required: '', maxlength: '200' }), 'Shown to people when they sign in.');
    const redirects = builtin
      ? null
      : field('redirectUrls', 'Redirect URLs', area(client ? client.redirectUrls : []), 'One per line, compared exactly. Needed for the authorization code flow.', true);

    // Scopes: a checkbox for each scope keyward has.
    const current = new Set(client ? client.validScopes : ['login']);
    const all = [...known, ...[...current].filter((s) => !known.includes(s))];
    const scopeBoxes = [];
    const scopeSet = el('fieldset', { class: 'field', data: { field: 'validScopes' }, 'aria-describedby': id('validScopes') + '-error' }, [
      el('legend', { text: 'Scopes' }),
    ]);
    const grid = el('div', { class: 'scopes' });
    for (const s of all) {
      const box = el('input', { type: 'checkbox', id: id('scope-' + s.replace(/[^A-Za-z0-9_-]/g, '_')), value: s, name: 'scope' });
      box.checked = current.has(s);
      scopeBoxes.push(box);
      // The scope's name is its label; what it gives is its description.
      const hint = SCOPE_HINTS[s] ? el('p', { id: box.id + '-hint', class: 'hint', text: SCOPE_HINTS[s] }) : null;
      if (hint) box.setAttribute('aria-describedby', hint.id);
      grid.appendChild(el('div', { class: 'scope' }, [el('label', { class: 'check', for: box.id }, [box, breakable(s)]), hint]));
    }
    if (!all.length) grid.appendChild(el('p', { class: 'muted', text: 'The scopes could not be loaded; the client keeps its scopes.' }));
    const scopeErr = el('p', { id: id('validScopes') + '-error', class: 'field-error hidden', role: 'alert' });
    scopeSet.appendChild(grid);
    scopeSet.appendChild(scopeErr);
    form.appendChild(scopeSet);
    fields.set('validScopes', { input: scopeBoxes[0] || scopeSet, err: scopeErr, label: 'Scopes' });

    const resources = field('resources', 'Resources', area(client ? client.resources : []), "RFC 8707 resource URIs it may ask tokens for, one per line. keyward's own URL is always allowed.", true);
    const requiresSecret = builtin ? null : field('requiresSecret', 'Requires a secret (a confidential client)', check(client ? client.requiresSecret : true), 'Off: a public client (a browser or mobile app), which must use PKCE.');
    const isValid = field('isValid', 'Valid', check(client ? client.isValid : true), 'Off: the client gets no tokens.');
    const pwGrant = field('allowPasswordGrant', 'Allow the password grant', check(client ? client.allowPasswordGrant : false), 'Lets the application send usernames and passwords itself. Only for trusted first-party programs.');

    // The client-credentials user: typed by username, suggested as one types, stored as an id.
    let ccUser = client && client.clientCredentialFlowUser ? { id: client.clientCredentialFlowUser, username: null } : null;
    const ccInput = text('', { list: id('users'), placeholder: 'username' });
    const datalist = el('datalist', { id: id('users') });
    const ccField = field(
      'clientCredentialFlowUser',
      'Client-credentials user',
      ccInput,
      'The user whom its client-credentials tokens speak for (needs a secret). Empty: no client-credentials grant.',
      true,
    );
    ccField.parentNode.insertBefore(datalist, ccField.nextSibling);
    if (ccUser) {
      ccInput.disabled = true;
      ui.api('GET', BASE + '/user/' + ui.seg(ccUser.id)).then((u) => {
        if (u && u.status === 200) {
          ccUser.username = u.data.username;
          ccInput.value = u.data.username;
        }
        ccInput.disabled = false;
      });
    }
    const suggest = ui.debounce(async (q) => {
      if (!q) return;
      const r = await ui.api('GET', BASE + '/user?limit=8&search=' + encodeURIComponent(q));
      if (!r || r.status !== 200 || ccInput.value.trim() !== q) return;
      datalist.replaceChildren(...(r.data.items || []).map((u) => el('option', { value: u.username }, [u.displayName || u.username])));
    }, 250);
    ccInput.addEventListener('input', () => suggest(ccInput.value.trim()));

    const general = el('div', { class: 'msg error hidden', role: 'alert' });
    const ok = el('button', { type: 'submit' }, [client ? 'Save' : 'Create']);
    const cancel = el('button', { type: 'button', class: 'secondary' }, ['Cancel']);
    form.appendChild(general);
    form.appendChild(el('div', { class: 'actions' }, [cancel, ok]));
    const dlg = el('dialog', { class: 'form', 'aria-labelledby': id('title') }, [form]);
    document.body.appendChild(dlg);

    const fieldError = (fname, msg) => {
      const f = fields.get(fname);
      if (!f) {
        general.textContent = msg;
        show(general);
        return;
      }
      f.err.textContent = msg;
      show(f.err);
      if (f.input.setAttribute) f.input.setAttribute('aria-invalid', 'true');
      f.input.focus();
    };
    /** A refused call: its message under the field it names (`field`, or the message's first word). */
    const answer = (r) => {
      const msg = String((r.data && r.data.message) || '');
      let fname = typeof r.data.field === 'string' ? r.data.field : null;
      if (!fname || !fields.has(fname)) fname = [...fields.keys()].find((k) => msg.startsWith(k + ' ') || msg.startsWith(k + ':')) || null;
      const said = ui.say(r, client ? 'The client could not be saved' : 'The client could not be created');
      if (!fname || !fields.has(fname)) return fieldError(null, said);
      const rest = msg.slice(fname.length).replace(/^:?\s*/, '');
      const t = rest ? fields.get(fname).label + (msg.charAt(fname.length) === ':' ? ': ' : ' ') + rest : said;
      fieldError(fname, /[.!?]$/.test(t) ? t : t + '.');
    };
    const clear = () => {
      for (const f of fields.values()) {
        hide(f.err);
        if (f.input.removeAttribute) f.input.removeAttribute('aria-invalid');
      }
      hide(general);
    };
    const linesOf = (t) => t.value.split('\n').map((s) => s.trim()).filter(Boolean);

    return ui.modal(dlg, form, ok, cancel, name, async () => {
      clear();
      if (!name.value.trim()) return fieldError('name', 'Name is required.');
      const body = { name: name.value };
      if (redirects) body.redirectUrls = linesOf(redirects);
      if (all.length) body.validScopes = scopeBoxes.filter((b) => b.checked).map((b) => b.value);
      body.resources = linesOf(resources);
      if (requiresSecret) body.requiresSecret = requiresSecret.checked;
      body.isValid = isValid.checked;
      body.allowPasswordGrant = pwGrant.checked;
      const typed = ccInput.value.trim();
      if (!typed) {
        if (client || ccUser) body.clientCredentialFlowUser = null;
      } else if (ccUser && ccUser.username === typed) {
        body.clientCredentialFlowUser = ccUser.id;
      } else {
        const u = await userByName(typed);
        if (u === undefined) return;
        if (u === null) return fieldError('clientCredentialFlowUser', 'No user is called "' + typed + '".');
        if (u.error) return fieldError(null, u.error);
        body.clientCredentialFlowUser = u.id;
      }
      if (!client && body.clientCredentialFlowUser === null) delete body.clientCredentialFlowUser;
      const r = client ? await ui.api('PUT', BASE + '/client/' + ui.seg(client.id), body) : await ui.api('POST', BASE + '/client', body);
      if (r === null) return;
      if (r.status === 200 || r.status === 201) return r.data;
      answer(r);
      return null;
    });
  }

  ui.view('clients', {
    title: 'OAuth clients',
    nav: 'Clients',
    async render(root, ctx) {
      const [first] = ctx.parts;
      if (!first) return renderList(root, ctx);
      return renderOne(root, ctx, first);
    },
  });
})();
