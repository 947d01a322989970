// The admin console (/admin): signs the admin in (see ui.js), refuses non-admins, and shows one
// view at a time by the address's #/route, so that every view has its own link and the browser's
// back button works.
(function () {
  'use strict';
  const { $, show, hide, el, call: flowCall } = window.keyward;
  const ui = window.kwAdmin;

  let me = null;
  // What this keyward can do beyond the API (the flow context): `mail` (a mail server is set).
  let server = { mail: false };
  let current = 0; // the number of the route being shown; older renders stop

  function route() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [path, qs] = raw.split('?');
    const parts = path.split('/').filter(Boolean).map((p) => {
      try {
        return decodeURIComponent(p);
      } catch (_) {
        return p;
      }
    });
    const name = parts.shift() || 'dashboard';
    return { name, parts, query: new URLSearchParams(qs || '') };
  }

  function markNav(name) {
    for (const a of $('nav').querySelectorAll('a')) {
      if (a.dataset.view === name) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
  }

  async function render() {
    if (!me) return;
    const n = ++current;
    const { name, parts, query } = route();
    const spec = ui.views.get(name);
    const root = $('view');
    root.replaceChildren();
    markNav(spec ? name : '');
    if (!spec) {
      document.title = 'Not found – keyward admin';
      root.appendChild(ui.head('Nothing here', 'This page of the admin console does not exist.'));
      root.appendChild(el('p', {}, [ui.link('', 'Go to the dashboard')]));
      return;
    }
    document.title = spec.title + ' – keyward admin';
    const ctx = { parts, query, alive: () => n === current, go: ui.go, me, server };
    try {
      await spec.render(root, ctx);
    } catch (e) {
      if (n !== current) return;
      console.error(e);
      root.replaceChildren(ui.note('error', 'This page could not be shown. Reload to try again.'));
    }
  }

  function buildNav() {
    const nav = $('nav');
    for (const [name, spec] of ui.views) {
      if (!spec.nav) continue;
      nav.appendChild(el('a', { href: '#/' + (name === 'dashboard' ? '' : name), data: { view: name } }, [spec.nav]));
    }
  }

  async function signOut() {
    await ui.oauth.revoke();
    await flowCall('POST', '/auth/api/flow/logout', {});
    ui.oauth.forget();
    location.assign('/auth/flow/login');
  }

  async function start() {
    $('retry').addEventListener('click', () => ui.oauth.retry());
    $('signout').addEventListener('click', signOut);
    $('not-admin-signout').addEventListener('click', signOut);
    if (!(await ui.oauth.signIn())) return;
    const [r, fc] = await Promise.all([ui.api('GET', '/auth/api/login/user/self'), flowCall('GET', '/auth/api/flow/context')]);
    if (r === null) return;
    server = { mail: fc.status === 200 && fc.data.mail === true };
    if (r.status !== 200) {
      ui.fatal(ui.say(r, 'Your account could not be loaded'));
      return;
    }
    ui.oauth.signedIn();
    hide($('loading'));
    hide($('status-card'));
    if (r.data.isAdmin !== true) {
      // Nothing of the console for others: only who they are and the way out.
      $('not-admin-user').textContent = r.data.username || '';
      document.title = 'Not an admin – keyward';
      show($('not-admin'));
      return;
    }
    me = r.data;
    $('me-name').textContent = me.displayName || me.username;
    buildNav();
    show($('top'));
    show($('view'));
    window.addEventListener('hashchange', () => {
      render();
      $('view').focus({ preventScroll: true });
    });
    await render();
  }

  start();
})();
