// The OAuth clients view (being built).
(function () {
  'use strict';
  const ui = window.kwAdmin;
  ui.view('clients', {
    title: 'OAuth clients',
    nav: 'Clients',
    async render(root) {
      root.appendChild(ui.head('OAuth clients'));
    },
  });
})();
