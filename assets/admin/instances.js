// The Strategy instances view ("Logins"): the ways people sign in. `#/instances` lists them,
// `#/instances/new` picks a strategy and then shows a form generated from its
// `instanceConfigSchema`, `#/instances/<id>` shows one (its callback URL for redirect
// strategies), edits it with the same generated form, and deletes it (asking about the
// identities that use it). Secrets (`writeOnly` in the schema) are never shown: only whether
// one is set; an untouched one is sent back censored, and the server keeps the stored one.
(function () {
  'use strict';
  const { el, typeName, show, hide } = window.keyward;
  const ui = window.kwAdmin;
  const BASE = '/auth/api/login';
  /** What the API shows, and takes back, in place of a stored secret. */
  const CENSORED = '**********';

  /** The flags of an instance: which strategy capability allows each, and its words. */
  const FLAGS = [
    {
      name: 'isLoginActive',
      allowed: () => true,
      badge: 'Login',
      label: 'Sign-in is on',
      hint: 'People can sign in with it. Off: its logins stay linked but do not work.',
    },
    {
      name: 'isSelfRegisterActive',
      allowed: (s) => s.canLoginRegister,
      badge: 'Register',
      label: 'Self-registration',
      hint: 'People without an account may create one with it: a password or a passkey on the register page, or a login that has no account yet.',
    },
    {
      name: 'isSyncActive',
      allowed: (s) => s.canSync,
      badge: 'Sync',
      label: 'Sync',
      hint: "The provider's tokens are kept (sealed) so that the sync API can call the provider for the user.",
    },
    {
      name: 'doesImplicitRegister',
      allowed: (s) => s.allowsImplicitSignup,
      badge: 'Implicit',
      label: 'Implicit registration',
      hint: "A first sign-in with an unknown account goes straight to registration, prefilled from the provider's profile.",
    },
  ];

  let formCount = 0;

  /** "clientId" → "Client id", for a property without a title. */
  function words(name) {
    const s = String(name).replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
    return s.charAt(0).toUpperCase() + s.slice(1);
  }

  /** The instance's name, or its kind when it has none. */
  const label = (i) => i.name || typeName(i.type);

  /** The badges of the flags that are on. */
  function flagBadges(i) {
    const on = FLAGS.filter((f) => i[f.name] === true);
    if (!on.length) return el('span', { class: 'muted', text: 'Off' });
    return el('span', { class: 'badges' }, on.map((f) => el('span', { class: 'badge', text: f.badge })));
  }

  // ---- The list ----

  async function renderList(root, ctx) {
    root.appendChild(
      ui.head(
        'Strategy instances',
        'The ways people sign in: passwords, passkeys, and providers such as GitHub, GitLab or OpenID Connect.',
        [ui.button('New login method', () => ctx.go('instances/new'))],
      ),
    );
    const r = await ui.api('GET', BASE + '/strategy-instance');
    if (r === null || !ctx.alive()) return;
    if (r.status !== 200) {
      root.appendChild(ui.note('error', ui.say(r, 'The login methods could not be loaded')));
      return;
    }
    root.appendChild(
      ui.table({
        id: 'instances',
        label: 'Login methods',
        rows: r.data,
        empty: 'No login methods yet: nobody can sign in. Add one with "New login method".',
        onRow: (i) => ctx.go('instances/' + ui.seg(i.id)),
        columns: [
          { label: 'Name', cell: (i) => ui.link('instances/' + ui.seg(i.id), label(i)) },
          { label: 'Type', cell: (i) => typeName(i.type) },
          { label: 'Allows', cell: flagBadges },
          { label: 'Created', cell: (i) => ui.time(i.createdAt) },
        ],
      }),
    );
  }

  // ---- Choosing a strategy ----

  async function renderNew(root, ctx) {
    const crumbs = [ui.link('instances', 'Strategy instances')];
    const type = ctx.query.get('type');
    const r = await ui.api('GET', BASE + '/strategy');
    if (r === null || !ctx.alive()) return;
    if (r.status !== 200) {
      root.appendChild(ui.head('New login method', null, null, crumbs));
      root.appendChild(ui.note('error', ui.say(r, 'The strategies could not be loaded')));
      return;
    }
    const strategy = type ? r.data.find((s) => s.typeName === type) : null;
    if (!strategy) {
      root.appendChild(ui.head('New login method', 'Which kind of login?', null, crumbs));
      if (type) root.appendChild(ui.note('error', 'There is no strategy "' + type + '". Choose one of these.'));
      const list = el('ul', { class: 'choices', id: 'strategies' });
      for (const s of r.data) {
        const desc = (s.instanceConfigSchema && s.instanceConfigSchema.description) || '';
        list.appendChild(
          el('li', {}, [
            ui.link('instances/new?type=' + ui.seg(s.typeName), typeName(s.typeName), { class: 'choice', data: { type: s.typeName } }),
            el('p', { class: 'hint', text: desc.replace(/\s+/g, ' ') }),
            s.needsRedirectFlow ? el('p', { class: 'hint', text: 'Signs in at the provider: you register keyward there first.' }) : null,
          ]),
        );
      }
      root.appendChild(list);
      return;
    }
    root.appendChild(ui.head('New ' + typeName(strategy.typeName) + ' login', null, null, [...crumbs, ' / ', ui.link('instances/new', 'New')]));
    const card = el('section', { class: 'card' });
    card.appendChild(
      instanceForm({
        strategy,
        instance: null,
        onSaved: (inst) => ctx.go('instances/' + ui.seg(inst.id) + '?created=1'),
      }),
    );
    root.appendChild(card);
  }

  // ---- One instance ----

  async function renderOne(root, ctx, id) {
    const crumbs = [ui.link('instances', 'Strategy instances')];
    const [r, s] = await Promise.all([
      ui.api('GET', BASE + '/strategy-instance/' + ui.seg(id)),
      ui.api('GET', BASE + '/strategy'),
    ]);
    if (r === null || s === null || !ctx.alive()) return;
    if (r.status !== 200 || s.status !== 200) {
      root.appendChild(ui.head(r.status === 404 ? 'No such login method' : 'Login method', null, null, crumbs));
      const bad = r.status !== 200 ? r : s;
      root.appendChild(ui.note('error', bad.status === 404 ? 'This login method does not exist (any more).' : ui.say(bad, 'The login method could not be loaded')));
      return;
    }
    const inst = r.data;
    const strategy = s.data.find((x) => x.typeName === inst.type);
    const status = ui.note('error', '');
    hide(status);
    const del = ui.button('Delete', () => remove(inst, status, ctx), { kind: 'danger' });
    root.appendChild(
      ui.head(
        label(inst),
        el('span', {}, [typeName(inst.type) + ' · created ', ui.time(inst.createdAt)]),
        [del],
        crumbs,
      ),
    );
    root.appendChild(status);
    if (ctx.query.get('created')) {
      root.appendChild(
        ui.note('ok', inst.callbackUrl ? 'Created. Register the callback URL below at the provider before anyone signs in with it.' : 'Created.'),
      );
    }
    if (inst.callbackUrl) {
      root.appendChild(
        el('section', { class: 'card', id: 'callback' }, [
          el('h2', { text: 'Callback URL' }),
          el('p', { class: 'muted', text: "Register this address at the provider as the redirect (callback) URL of keyward's OAuth application." }),
          ui.copyField('callback-url', 'Callback URL', inst.callbackUrl),
        ]),
      );
    }
    const card = el('section', { class: 'card' }, [el('h2', { text: 'Settings' })]);
    if (!strategy) {
      card.appendChild(ui.note('error', 'This keyward does not know the strategy "' + inst.type + '".'));
    } else {
      card.appendChild(
        instanceForm({
          strategy,
          instance: inst,
          onSaved: () => {
            ui.toast('Saved.');
            // The same route again: render it anew from the server's state.
            if (ctx.alive()) {
              root.replaceChildren();
              renderOne(root, { ...ctx, query: new URLSearchParams() }, id);
            }
          },
        }),
      );
    }
    root.appendChild(card);
  }

  /** Deletes an instance: asks first, then about its identities (cascade) when it has some. */
  async function remove(inst, status, ctx) {
    hide(status);
    const name = label(inst);
    const ok = await ui.confirm('Delete ' + name + '?', 'Nobody can sign in with "' + name + '" any more. This cannot be undone.', 'Delete');
    if (!ok) return;
    const path = BASE + '/strategy-instance/' + ui.seg(inst.id);
    let r = await ui.api('DELETE', path);
    if (r === null) return;
    const msg = typeof r.data.message === 'string' ? r.data.message : '';
    if (r.status === 409 && /cascade/.test(msg)) {
      const m = /(\d+) identit/.exec(msg);
      const n = m ? Number(m[1]) : null;
      const used = n === 1 ? 'One login of a user is' : n ? n + ' logins of users are' : 'Logins of users are';
      const again = await ui.confirm(
        'Delete its logins too?',
        used + ' on "' + name + '". Deleting it deletes them too: those users can no longer sign in this way, and someone with no other way to sign in is locked out.',
        n ? 'Delete it and ' + n + (n === 1 ? ' login' : ' logins') : 'Delete them too',
      );
      if (!again) return;
      r = await ui.api('DELETE', path + '?cascade=true');
      if (r === null) return;
    }
    if (r.status === 200) {
      ui.toast('Deleted ' + name + '.');
      if (ctx.alive()) ctx.go('instances');
      return;
    }
    let text = ui.say(r, 'The login method could not be deleted');
    if (r.status === 409 && /last admin/.test(r.data.message || '')) {
      text =
        'keyward refused: deleting "' + name + '" would leave the last admin without any way to sign in. ' +
        'Give an admin another login (a password or a passkey on another login method) first.';
    }
    ui.setNote(status, 'error', text);
    status.setAttribute('tabindex', '-1');
    status.focus();
  }

  // ---- The generated form ----

  /** What kind of input a property of the config schema gets. */
  function kindOf(p) {
    const types = [].concat(p.type || []).filter((t) => t !== 'null');
    const t = types[0];
    if (p.writeOnly === true) return 'secret';
    if (Array.isArray(p.enum)) return 'enum';
    if (t === 'boolean') return 'boolean';
    if (t === 'integer' || t === 'number') return t;
    if (t === 'array' && p.items && [].concat(p.items.type || []).includes('string')) return 'lines';
    if (t === 'string') return 'string';
    return 'json';
  }

  /** The config's properties: required ones first (in the schema's order), then the rest. */
  function properties(schema) {
    const props = (schema && schema.properties) || {};
    const required = (schema && Array.isArray(schema.required) ? schema.required : []).filter((n) => n in props);
    const rest = Object.keys(props).filter((n) => !required.includes(n));
    return [...required.map((n) => [n, props[n], true]), ...rest.map((n) => [n, props[n], false])];
  }

  /** The label of a field: its text and "(required)" or "(optional)". */
  function labelFor(id, text, required) {
    return el('label', { for: id }, [
      text,
      el('span', { class: required ? 'required' : 'optional', text: required ? ' (required)' : ' (optional)' }),
    ]);
  }

  /**
   * One field of the form: its block of nodes and `{get() → value | undefined (left out) |
   * Error, error(text), focus(), title}`.
   */
  function makeField({ n, name, p, required, current, editing, idPart }) {
    const id = 'i' + n + '-' + (idPart || 'c-' + name).replace(/[^A-Za-z0-9_-]/g, '_');
    const title = p.title || words(name);
    const kind = kindOf(p);
    const hint = el('p', { id: id + '-hint', class: 'hint' + (p.description ? '' : ' hidden'), text: (p.description || '').replace(/\s+/g, ' ') });
    const err = el('p', { id: id + '-error', class: 'field-error hidden', role: 'alert' });
    const described = id + '-hint ' + id + '-error';
    const block = el('div', { class: 'field', data: { field: 'instanceConfig.' + name } });
    let input;
    let get;
    if (kind === 'boolean') {
      input = el('input', { id, type: 'checkbox', 'aria-describedby': described });
      input.checked = current === true || (current === undefined && p.default === true);
      block.appendChild(el('label', { class: 'check', for: id }, [input, el('span', {}, [title])]));
      get = () => input.checked;
    } else if (kind === 'secret') {
      input = el('input', { id, type: 'password', autocomplete: 'new-password', spellcheck: 'false', 'aria-describedby': id + '-state ' + described });
      if (required) input.setAttribute('aria-required', 'true');
      const isSet = typeof current === 'string' && current !== '';
      // mode: 'keep' the stored secret, 'new' (typed in), 'remove' (optional ones only).
      let mode = isSet ? 'keep' : 'new';
      const state = el('span', { id: id + '-state', class: 'badge' + (isSet ? '' : ' off'), text: isSet ? 'set' : 'not set' });
      const replace = el('button', { type: 'button', class: 'secondary small' }, ['Replace']);
      const drop = el('button', { type: 'button', class: 'secondary small' }, ['Remove']);
      const row = el('div', { class: 'secret-state' }, [state, isSet ? replace : null, isSet && !required ? drop : null]);
      const sync = () => {
        show(input, mode === 'new');
        replace.textContent = mode === 'keep' ? 'Replace' : 'Keep the current one';
        drop.textContent = mode === 'remove' ? 'Keep it' : 'Remove';
        show(drop, isSet && !required && mode !== 'new');
        state.textContent = mode === 'remove' ? 'will be removed' : isSet ? 'set' : 'not set';
        state.className = 'badge' + (mode === 'remove' ? ' warn' : isSet ? '' : ' off');
      };
      replace.addEventListener('click', () => {
        mode = mode === 'keep' ? 'new' : 'keep';
        input.value = '';
        sync();
        if (mode === 'new') input.focus();
      });
      drop.addEventListener('click', () => {
        mode = mode === 'remove' ? 'keep' : 'remove';
        sync();
      });
      block.appendChild(labelFor(id, title, required));
      // Set or not is news only about a stored instance.
      if (editing) block.appendChild(row);
      block.appendChild(input);
      sync();
      get = () => {
        if (mode === 'keep') return CENSORED;
        if (mode === 'remove') return undefined;
        if (input.value === '') {
          if (isSet) return new Error('Type the new ' + title.toLowerCase() + ', or keep the current one.');
          return required ? new Error(title + ' is required.') : undefined;
        }
        return input.value;
      };
    } else if (kind === 'enum') {
      const options = p.enum.filter((v) => v !== null);
      input = el('select', { id, 'aria-describedby': described }, [
        required ? null : el('option', { value: '' }, ['—']),
        ...options.map((v, k) => el('option', { value: String(k) }, [String(v)])),
      ]);
      const at = options.findIndex((v) => v === current);
      input.value = at >= 0 ? String(at) : required ? '0' : '';
      block.appendChild(labelFor(id, title, required));
      block.appendChild(input);
      get = () => (input.value === '' ? undefined : options[Number(input.value)]);
    } else if (kind === 'lines' || kind === 'json') {
      input = el('textarea', { id, rows: '3', spellcheck: 'false', 'aria-describedby': described, class: kind === 'json' ? 'mono' : '' });
      if (kind === 'lines') input.value = Array.isArray(current) ? current.join('\n') : '';
      else input.value = current === undefined || current === null ? '' : JSON.stringify(current, null, 2);
      block.appendChild(labelFor(id, title, required));
      block.appendChild(input);
      if (kind === 'lines' && !p.description) {
        hint.textContent = 'One per line.';
        show(hint);
      } else if (kind === 'lines') {
        hint.textContent += ' One per line.';
      }
      get = () => {
        const text = input.value.trim();
        if (kind === 'lines') {
          const list = input.value.split('\n').map((s) => s.trim()).filter(Boolean);
          if (!list.length) return required ? new Error(title + ' is required.') : undefined;
          return list;
        }
        if (text === '') return required ? new Error(title + ' is required.') : undefined;
        try {
          return JSON.parse(text);
        } catch (_) {
          return new Error(title + ' must be JSON.');
        }
      };
    } else {
      const number = kind === 'integer' || kind === 'number';
      const url = p.format === 'uri' || /url$|uri$|^issuer$/i.test(name);
      input = el('input', {
        id,
        type: number ? 'number' : url ? 'url' : 'text',
        autocomplete: 'off',
        spellcheck: 'false',
        'aria-describedby': described,
        ...(kind === 'integer' ? { step: '1' } : {}),
        ...(p.minimum !== undefined ? { min: String(p.minimum) } : {}),
        ...(p.maximum !== undefined ? { max: String(p.maximum) } : {}),
      });
      if (current !== undefined && current !== null) input.value = String(current);
      block.appendChild(labelFor(id, title, required));
      block.appendChild(input);
      get = () => {
        const text = input.value.trim();
        if (text === '') return required ? new Error(title + ' is required.') : undefined;
        if (!number) return input.value;
        const v = Number(text);
        if (!Number.isFinite(v) || (kind === 'integer' && !Number.isInteger(v))) {
          return new Error(title + ' must be ' + (kind === 'integer' ? 'a whole number.' : 'a number.'));
        }
        return v;
      };
    }
    if (required && kind !== 'boolean') input.setAttribute('aria-required', 'true');
    block.appendChild(hint);
    block.appendChild(err);
    return {
      block,
      title,
      get,
      error(text) {
        err.textContent = text;
        show(err);
        input.setAttribute('aria-invalid', 'true');
      },
      clear() {
        err.textContent = '';
        hide(err);
        input.removeAttribute('aria-invalid');
      },
      focus: () => (input.classList.contains('hidden') ? block.querySelector('button, input') : input).focus(),
    };
  }

  /** A plain field of the form (the name): text, optional. */
  function nameField(n, current, strategy) {
    const p = { title: 'Name', type: 'string', description: 'How the login pages and the console call it, e.g. "Company SSO". Names are unique.' };
    const f = makeField({ n, name: 'name', p, required: false, current, idPart: 'name' });
    f.block.dataset.field = 'name';
    const input = f.block.querySelector('input');
    input.placeholder = typeName(strategy.typeName);
    return f;
  }

  /**
   * The form of an instance of `strategy`, generated from its `instanceConfigSchema`: the
   * name, the config's fields, then the flags the strategy allows. `instance` null creates
   * one. `onSaved(instance)` after the server said yes.
   */
  function instanceForm({ strategy, instance, onSaved }) {
    const n = ++formCount;
    const schema = strategy.instanceConfigSchema || {};
    const config = (instance && instance.instanceConfig) || {};
    const form = el('form', { novalidate: '', class: 'instance-form', id: 'instance-form' });
    const fields = new Map(); // API field path → field
    const name = nameField(n, instance ? instance.name : undefined, strategy);
    fields.set('name', name);
    form.appendChild(name.block);

    const props = properties(schema);
    const configFields = [];
    if (props.length) {
      const set = el('fieldset', {}, [el('legend', { text: typeName(strategy.typeName) + ' settings' })]);
      for (const [key, p, required] of props) {
        const f = makeField({ n, name: key, p, required, current: config[key], editing: !!instance });
        fields.set('instanceConfig.' + key, f);
        configFields.push([key, f]);
        set.appendChild(f.block);
      }
      form.appendChild(set);
    } else {
      form.appendChild(el('p', { class: 'muted', text: 'A ' + typeName(strategy.typeName).toLowerCase() + ' login has nothing to configure.' }));
    }

    const flags = FLAGS.filter((f) => f.allowed(strategy));
    const flagInputs = [];
    const set = el('fieldset', {}, [el('legend', { text: 'What it allows' })]);
    for (const f of flags) {
      const id = 'i' + n + '-' + f.name;
      const input = el('input', { id, type: 'checkbox', name: f.name, 'aria-describedby': id + '-hint ' + id + '-error' });
      // A new instance starts with everything its strategy can do, as the API's defaults.
      input.checked = instance ? instance[f.name] === true : true;
      const err = el('p', { id: id + '-error', class: 'field-error hidden', role: 'alert' });
      const block = el('div', { class: 'field', data: { field: f.name } }, [
        el('label', { class: 'check', for: id }, [input, el('span', {}, [f.label])]),
        el('p', { id: id + '-hint', class: 'hint', text: f.hint }),
        err,
      ]);
      set.appendChild(block);
      flagInputs.push([f, input]);
      fields.set(f.name, {
        title: f.label,
        error(text) {
          err.textContent = text;
          show(err);
          input.setAttribute('aria-invalid', 'true');
        },
        clear() {
          hide(err);
          input.removeAttribute('aria-invalid');
        },
        focus: () => input.focus(),
      });
    }
    form.appendChild(set);

    const general = el('div', { class: 'msg error hidden', role: 'alert' });
    const submit = el('button', { type: 'submit' }, [instance ? 'Save' : 'Create']);
    form.appendChild(general);
    form.appendChild(el('div', { class: 'actions' }, [submit]));

    /** Shows a refused call's message under the field it names, else above the button. */
    function answer(r) {
      const text = ui.say(r, instance ? 'The changes could not be saved' : 'The login method could not be created');
      const path = r && r.data && typeof r.data.field === 'string' ? r.data.field : null;
      const f = path ? fields.get(path) : null;
      if (!f) {
        general.textContent = text;
        show(general);
        general.setAttribute('tabindex', '-1');
        general.focus();
        return;
      }
      // "InstanceConfig.issuer must be given." → "Issuer must be given."
      const raw = String(r.data.message || '');
      const rest = raw.startsWith(path) ? raw.slice(path.length).replace(/^:?\s*/, '') : null;
      const joined = rest ? f.title + (raw.charAt(path.length) === ':' ? ': ' : ' ') + rest : text;
      f.error(/[.!?]$/.test(joined) ? joined : joined + '.');
      f.focus();
    }

    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      if (submit.disabled) return;
      for (const f of fields.values()) f.clear();
      hide(general);
      const body = {};
      let first = null;
      const nameValue = name.get();
      if (nameValue !== undefined) body.name = nameValue;
      else if (instance && instance.name) body.name = null;
      const instanceConfig = {};
      for (const [key, f] of configFields) {
        const v = f.get();
        if (v instanceof Error) {
          f.error(v.message);
          first = first || f;
        } else if (v !== undefined) {
          instanceConfig[key] = v;
        }
      }
      if (first) {
        first.focus();
        return;
      }
      body.instanceConfig = instanceConfig;
      for (const [f, input] of flagInputs) body[f.name] = input.checked;
      submit.disabled = true;
      try {
        const r = instance
          ? await ui.api('PUT', BASE + '/strategy-instance/' + ui.seg(instance.id), body)
          : await ui.api('POST', BASE + '/strategy/' + ui.seg(strategy.typeName) + '/instance', body);
        if (r === null) return;
        if (r.status === 200 || r.status === 201) onSaved(r.data);
        else answer(r);
      } finally {
        submit.disabled = false;
      }
    });
    return form;
  }

  ui.view('instances', {
    title: 'Strategy instances',
    nav: 'Logins',
    async render(root, ctx) {
      const [first] = ctx.parts;
      if (!first) return renderList(root, ctx);
      if (first === 'new') return renderNew(root, ctx);
      return renderOne(root, ctx, first);
    },
  });
})();
