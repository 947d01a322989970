// The Signing keys view (being built).
(function () {
  'use strict';
  const ui = window.kwAdmin;
  ui.view('keys', {
    title: 'Signing keys',
    nav: 'Keys',
    async render(root) {
      root.appendChild(ui.head('Signing keys'));
    },
  });
})();
