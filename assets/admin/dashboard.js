// The Dashboard view (being built).
(function () {
  'use strict';
  const ui = window.kwAdmin;
  ui.view('dashboard', {
    title: 'Dashboard',
    nav: 'Dashboard',
    async render(root) {
      root.appendChild(ui.head('Dashboard'));
    },
  });
})();
