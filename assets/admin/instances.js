// The Strategy instances view (being built).
(function () {
  'use strict';
  const ui = window.kwAdmin;
  ui.view('instances', {
    title: 'Strategy instances',
    nav: 'Logins',
    async render(root) {
      root.appendChild(ui.head('Strategy instances'));
    },
  });
})();
