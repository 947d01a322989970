// The admin console's shared pieces (`window.kwAdmin`): its OAuth client (the built-in public
// client `keyward-admin`, PKCE, scope `login`), calls to the API with its token, the registry of
// views, and the building blocks every view uses: headers, tables, form dialogs, confirmations,
// toasts, copy buttons, times. Each view lives in its own file and registers itself with
// `kwAdmin.view`; admin.js signs in and routes.
(function () {
  'use strict';
  const { $, show, hide, el, when, message, confirmAction } = window.keyward;

  // ---- Signing in and calling the API ----

  function fatal(text) {
    hide($('loading'));
    hide($('view'));
    hide($('top'));
    show($('status-card'));
    $('fatal-text').textContent = text;
    show($('fatal'));
  }

  const oauth = window.keywardOAuth.client({
    clientId: 'keyward-admin',
    path: '/admin',
    scope: 'login',
    // The console hands over every account: a browser session older than an hour must sign in
    // again before it gets in.
    maxAge: 3600,
    prefix: 'kw_admin',
    what: 'the admin console',
    fatal,
  });

  /**
   * A call to keyward's API with the admin's token: `{status, data, headers}`, or null when the
   * token could not be renewed and the page is on its way to sign in again (stop there).
   */
  const api = (method, path, body) => oauth.api(method, path, body);

  /** A path segment, escaped. */
  const seg = (s) => encodeURIComponent(String(s));

  // ---- Views ----

  const views = new Map();

  /**
   * Registers a view: `{title, nav (shown in the top bar, in registration order), render(root,
   * ctx)}`. `ctx`: `{parts (the route after the view's name), query (URLSearchParams), alive()
   * (false once the person has gone elsewhere: stop rendering), go(route), me (the admin),
   * server ({mail}: whether keyward can send mail)}`.
   */
  function view(name, spec) {
    views.set(name, spec);
  }

  /** Goes to a route such as `users/<id>` (the part after `#/`). */
  function go(route) {
    location.hash = '#/' + route;
  }

  /** A link to a route of the console. */
  function link(route, text, props) {
    return el('a', { href: '#/' + route, ...(props || {}) }, [text]);
  }

  // ---- Building blocks ----

  /** A view's header: its title, an optional line under it, actions at the right. */
  function head(title, sub, actions, crumbs) {
    return el('div', { class: 'view-head' }, [
      el('div', {}, [
        crumbs ? el('div', { class: 'crumbs' }, crumbs) : null,
        el('h1', { text: title }),
        sub ? (typeof sub === 'string' ? el('p', { text: sub }) : sub) : null,
      ]),
      actions && actions.length ? el('div', { class: 'row-actions' }, actions) : null,
    ]);
  }

  /** A button; `opts.kind` is '' (primary), 'secondary' or 'danger'; `opts.small`. */
  function button(text, onClick, opts) {
    const o = opts || {};
    const cls = [o.kind || '', o.small ? 'small' : ''].filter(Boolean).join(' ');
    const b = el('button', { type: 'button', ...(cls ? { class: cls } : {}), ...(o.attrs || {}) }, [text]);
    b.addEventListener('click', async (ev) => {
      ev.stopPropagation();
      if (b.disabled) return;
      b.disabled = true;
      try {
        await onClick(b);
      } finally {
        b.disabled = false;
      }
    });
    return b;
  }

  /**
   * A table of `rows`: `columns` are `{label, cell(row) → node | string, class?}`; a row's
   * `id` becomes `data-id`; `empty` is what an empty table says; `onRow(row)` makes rows open
   * something (click or Enter).
   */
  function table({ columns, rows, empty, onRow, id, label }) {
    if (!rows.length) return el('p', { class: 'empty', text: empty || 'Nothing here yet.' });
    const thead = el('thead', {}, [el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, [c.hidden ? el('span', { class: 'sr-only', text: c.label }) : c.label])))]);
    const tbody = el('tbody');
    for (const row of rows) {
      const tr = el('tr', row.id !== undefined ? { data: { id: String(row.id) } } : {});
      for (const c of columns) {
        const v = c.cell(row);
        const td = el('td', { ...(c.hidden ? {} : { 'data-label': c.label }), ...(c.class ? { class: c.class } : {}) });
        if (v instanceof Node) td.appendChild(v);
        else td.textContent = v === null || v === undefined ? '' : String(v);
        tr.appendChild(td);
      }
      if (onRow) {
        tr.classList.add('clickable');
        tr.addEventListener('click', (ev) => {
          if (ev.target.closest('a, button, input, select, textarea')) return;
          onRow(row);
        });
      }
      tbody.appendChild(tr);
    }
    const t = el('table', { class: 'data stack', ...(id ? { id } : {}), ...(label ? { 'aria-label': label } : {}) }, [thead, tbody]);
    return t;
  }

  /** A message box: kind 'error', 'ok' or 'info'. */
  function note(kind, text) {
    return el('div', { class: 'msg ' + kind, role: kind === 'error' ? 'alert' : 'status', text });
  }

  /** Puts `kind`/`text` into a message box made by `note` (or hides it with no text). */
  const setNote = window.keyward.note;

  /** What to tell the admin about a failed call. */
  const say = (r, fallback) => message(r, fallback);

  /** A short message at the bottom of the page that goes away by itself. */
  function toast(text, kind) {
    const t = el('div', { class: 'toast' + (kind === 'error' ? ' error' : ''), text });
    $('toasts').appendChild(t);
    setTimeout(() => t.remove(), kind === 'error' ? 8000 : 4000);
  }

  /** Copies text; works on plain http too (see common.js). */
  const copy = (text) => window.keyward.copyText(text);

  /** A "Copy" button for `text` (a string or a function that gives it). */
  function copyButton(text, label) {
    const b = el('button', { type: 'button', class: 'secondary small' }, [label || 'Copy']);
    b.addEventListener('click', async () => {
      const ok = await copy(typeof text === 'function' ? text() : text);
      toast(ok ? 'Copied.' : 'Copying did not work here: select the text and copy it yourself.', ok ? 'ok' : 'error');
    });
    return b;
  }

  /** A read-only text field with a copy button (a secret shown once, a URL). */
  function copyField(id, labelText, value) {
    const input = el('input', { id, readonly: '', class: 'mono', value });
    input.value = value;
    input.addEventListener('focus', () => input.select());
    return el('div', {}, [el('label', { for: id, text: labelText }), el('div', { class: 'secret' }, [input, copyButton(() => input.value)])]);
  }

  /** "3 minutes ago", "in 2 days". */
  function ago(iso) {
    const t = new Date(iso).getTime();
    if (!iso || isNaN(t)) return '';
    const s = Math.round((t - Date.now()) / 1000);
    const units = [['year', 31536000], ['month', 2592000], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
    const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
    for (const [u, n] of units) if (Math.abs(s) >= n || u === 'second') return rtf.format(Math.trunc(s / n), u);
    return '';
  }

  /** A <time> with the full time in words and how long ago as its title. */
  function time(iso) {
    if (!iso) return el('span', { class: 'muted', text: '—' });
    return el('time', { datetime: iso, title: ago(iso) }, [when(iso)]);
  }

  /** Calls `fn` once calls have stopped for `ms`. */
  function debounce(fn, ms) {
    let timer = null;
    return (...args) => {
      clearTimeout(timer);
      timer = setTimeout(() => fn(...args), ms);
    };
  }

  // ---- Dialogs ----

  let dialogCount = 0;

  /**
   * A modal dialog built of `nodes` with a "Done" button; resolves when it closes (Escape
   * closes it too). For what is shown, not asked: a secret shown once, a passkey link.
   */
  function infoDialog({ title, nodes, close }) {
    const n = ++dialogCount;
    const done = el('button', { type: 'button' }, [close || 'Done']);
    const dlg = el('dialog', { class: 'form', 'aria-labelledby': 'dlg-title-' + n }, [
      el('h2', { id: 'dlg-title-' + n, text: title }),
      ...nodes,
      el('div', { class: 'actions' }, [done]),
    ]);
    document.body.appendChild(dlg);
    return new Promise((resolve) => {
      dlg.addEventListener('close', () => {
        dlg.remove();
        resolve();
      });
      done.addEventListener('click', () => dlg.close());
      dlg.showModal();
      done.focus();
    });
  }

  /** Makes the input of one form field. */
  function fieldInput(f, id) {
    const common = { id, name: f.name };
    if (f.required) common.required = '';
    if (f.hint || f.name) common['aria-describedby'] = id + '-hint ' + id + '-error';
    let input;
    if (f.type === 'checkbox') {
      input = el('input', { ...common, type: 'checkbox' });
      input.checked = !!f.value;
    } else if (f.type === 'select') {
      input = el('select', common, (f.options || []).map((o) => el('option', { value: o.value }, [o.label])));
      if (f.value !== undefined && f.value !== null) input.value = String(f.value);
    } else if (f.type === 'textarea' || f.type === 'list') {
      input = el('textarea', { ...common, rows: String(f.rows || 3), spellcheck: 'false' });
      input.value = f.type === 'list' ? (f.value || []).join('\n') : f.value || '';
    } else {
      input = el('input', {
        ...common,
        type: f.type || 'text',
        autocomplete: f.autocomplete || 'off',
        ...(f.placeholder ? { placeholder: f.placeholder } : {}),
        ...(f.min !== undefined ? { min: String(f.min) } : {}),
        ...(f.max !== undefined ? { max: String(f.max) } : {}),
      });
      if (f.value !== undefined && f.value !== null) input.value = String(f.value);
    }
    return input;
  }

  /** The value of one field as the API wants it. */
  function fieldValue(f, input) {
    if (f.type === 'checkbox') return input.checked;
    if (f.type === 'list') return input.value.split('\n').map((s) => s.trim()).filter(Boolean);
    if (f.type === 'number') return input.value.trim() === '' ? null : Number(input.value);
    return input.value;
  }

  /**
   * A form in a modal dialog. `fields`: `{name, label, type ('text', 'password', 'email',
   * 'number', 'checkbox', 'select', 'textarea', 'list' (one per line → array)), required, hint,
   * value, options, autocomplete, optional (says so)}`. On submit (Enter or the button) it calls
   * `onSubmit(values, form)`; `form.fieldError(name, text)` puts an error under a field,
   * `form.error(text)` above the buttons, `form.answer(r, fallback)` shows a refused call's
   * message next to its `field` when the form has it. `onSubmit` returns true to close; the
   * promise resolves with that result (or null when the dialog was closed without it).
   */
  function formDialog({ title, intro, fields, submit, danger, onSubmit }) {
    const n = ++dialogCount;
    const inputs = new Map();
    const form = el('form', { novalidate: '' });
    form.appendChild(el('h2', { id: 'dlg-title-' + n, text: title }));
    if (intro) form.appendChild(typeof intro === 'string' ? el('p', { class: 'muted', text: intro }) : intro);
    for (const f of fields) {
      if (f.section) {
        form.appendChild(el('h3', { class: 'section', text: f.section }));
        continue;
      }
      const id = 'f' + n + '-' + f.name.replace(/[^A-Za-z0-9_-]/g, '_');
      const input = fieldInput(f, id);
      inputs.set(f.name, { f, input, id });
      const hint = el('p', { id: id + '-hint', class: 'hint' + (f.hint ? '' : ' hidden'), text: f.hint || '' });
      const error = el('p', { id: id + '-error', class: 'field-error hidden', role: 'alert' });
      const labelText = [f.label, f.optional ? el('span', { class: 'optional', text: ' (optional)' }) : null];
      if (f.type === 'checkbox') {
        form.appendChild(el('label', { class: 'check', for: id }, [input, el('span', {}, labelText)]));
      } else {
        form.appendChild(el('label', { for: id }, labelText));
        form.appendChild(input);
      }
      form.appendChild(hint);
      form.appendChild(error);
    }
    const general = el('div', { class: 'msg error hidden', role: 'alert' });
    const ok = el('button', { type: 'submit', ...(danger ? { class: 'danger' } : {}) }, [submit || 'Save']);
    const cancel = el('button', { type: 'button', class: 'secondary' }, ['Cancel']);
    form.appendChild(general);
    form.appendChild(el('div', { class: 'actions' }, [cancel, ok]));
    const dlg = el('dialog', { class: 'form', 'aria-labelledby': 'dlg-title-' + n }, [form]);
    document.body.appendChild(dlg);

    function clear() {
      for (const { input, id } of inputs.values()) {
        input.removeAttribute('aria-invalid');
        const e = document.getElementById(id + '-error');
        e.textContent = '';
        hide(e);
      }
      hide(general);
    }
    const api = {
      fieldError(name, text) {
        const it = inputs.get(name);
        if (!it) return api.error(text);
        const e = document.getElementById(it.id + '-error');
        e.textContent = text;
        show(e);
        it.input.setAttribute('aria-invalid', 'true');
        it.input.focus();
      },
      error(text) {
        general.textContent = text;
        show(general);
      },
      answer(r, fallback) {
        const text = say(r, fallback);
        const field = r && r.data && typeof r.data.field === 'string' ? r.data.field : null;
        if (field && inputs.has(field)) api.fieldError(field, text);
        else api.error(text);
      },
      input: (name) => (inputs.get(name) || {}).input,
    };

    return modal(dlg, form, ok, cancel, form.querySelector('input:not([type=hidden]), select, textarea'), () => {
      clear();
      // Required fields first, in the browser: the server says the same, later.
      for (const { f, input } of inputs.values()) {
        if (f.required && f.type !== 'checkbox' && String(input.value).trim() === '') {
          api.fieldError(f.name, f.label + ' is required.');
          return null;
        }
      }
      const values = {};
      for (const [name, { f, input }] of inputs) values[name] = fieldValue(f, input);
      return onSubmit(values, api);
    });
  }

  /**
   * Shows `dlg` (a <dialog> in the page that holds `form`) until it closes, with `focus`
   * focused. A submit (Enter, or `ok`) runs `submit()` with `ok` disabled meanwhile; a truthy
   * answer closes the dialog and is what the promise resolves with (null when it was closed
   * otherwise: Cancel, Escape).
   */
  function modal(dlg, form, ok, cancel, focus, submit) {
    return new Promise((resolve) => {
      let result = null;
      dlg.addEventListener('close', () => {
        dlg.remove();
        resolve(result);
      });
      cancel.addEventListener('click', () => dlg.close());
      form.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        if (ok.disabled) return;
        ok.disabled = true;
        try {
          const done = await submit();
          if (done) {
            result = done;
            dlg.close();
          }
        } finally {
          ok.disabled = false;
        }
      });
      dlg.showModal();
      if (focus) focus.focus();
    });
  }

  const confirm = (title, text, yes) => confirmAction(title, text, yes);

  window.kwAdmin = Object.freeze({
    oauth, api, seg, fatal, views, view, go, link, head, button, table, note, setNote, say, toast, copy,
    copyButton, copyField, ago, time, debounce, infoDialog, formDialog, modal, confirm,
  });
})();
