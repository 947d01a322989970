// Signing keys: which key signs, which are still published, and rotation.
(function () {
  'use strict';
  const { el } = window.keyward;
  const ui = window.kwAdmin;

  const ALGS = [
    { value: 'ES256', label: 'ES256 (ECDSA P-256, recommended)' },
    { value: 'EdDSA', label: 'EdDSA (Ed25519)' },
    { value: 'RS256', label: 'RS256 (RSA 2048, for clients that know nothing else)' },
  ];

  function state(k) {
    if (k.signing) return el('span', { class: 'badge', text: 'signing' });
    if (k.published) return el('span', {}, [el('span', { class: 'badge warn', text: 'published' }), ' retired ', ui.time(k.retiredAt)]);
    return el('span', { class: 'muted' }, ['retired ', ui.time(k.retiredAt)]);
  }

  ui.view('keys', {
    title: 'Signing keys',
    nav: 'Keys',
    async render(root, ctx) {
      const box = ui.note('info', '');
      ui.setNote(box, 'info', '');
      const rotate = ui.button('Rotate now', () => rotateDialog(), { attrs: { id: 'rotate-key' } });
      root.appendChild(ui.head('Signing keys', 'Tokens are signed with the newest key; older keys stay in the JWKS until every token they signed has expired.', [rotate]));
      root.appendChild(box);
      const list = el('div', { class: 'card', id: 'keys-card' });
      root.appendChild(list);
      let current = null;

      async function load() {
        const r = await ui.api('GET', '/auth/api/login/signing-key');
        if (r === null || !ctx.alive()) return;
        if (r.status !== 200) {
          list.replaceChildren(ui.note('error', ui.say(r, 'The signing keys could not be loaded')));
          return;
        }
        current = r.data.find((k) => k.signing) || null;
        list.replaceChildren(ui.table({
          id: 'keys-table',
          label: 'Signing keys',
          columns: [
            { label: 'Key id', cell: (k) => k.kid, class: 'mono' },
            { label: 'Algorithm', cell: (k) => k.alg },
            { label: 'Created', cell: (k) => ui.time(k.createdAt) },
            { label: 'State', cell: state },
          ],
          rows: r.data.map((k) => ({ ...k, id: k.kid })),
          empty: 'No signing key yet: one is made when the server starts.',
        }));
      }

      async function rotateDialog() {
        const done = await ui.formDialog({
          title: 'Rotate the signing key?',
          intro: 'A new key is made and published at once, and every new token is signed with it. ' +
            'Tokens signed with the old key stay valid while that key is published (until they have all expired); nobody is logged out.',
          fields: [{ name: 'alg', label: 'Algorithm', type: 'select', options: ALGS, value: current ? current.alg : 'ES256' }],
          submit: 'Rotate now',
          async onSubmit(v, form) {
            const r = await ui.api('POST', '/auth/api/login/signing-key', { alg: v.alg });
            if (r === null) return true;
            if (r.status !== 201) {
              form.answer(r, 'The key could not be rotated');
              return false;
            }
            return r.data;
          },
        });
        if (!done || done === true || !ctx.alive()) return;
        ui.setNote(box, 'ok', 'New ' + done.alg + ' key ' + done.kid + ' signs from now on.');
        await load();
      }

      await load();
    },
  });
})();
