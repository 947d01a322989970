// The Audit log view (being built).
(function () {
  'use strict';
  const ui = window.kwAdmin;
  ui.view('audit', {
    title: 'Audit log',
    nav: 'Audit log',
    async render(root) {
      root.appendChild(ui.head('Audit log'));
    },
  });
})();
