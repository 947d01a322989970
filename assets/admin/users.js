// The Users view (being built).
(function () {
  'use strict';
  const ui = window.kwAdmin;
  ui.view('users', {
    title: 'Users',
    nav: 'Users',
    async render(root) {
      root.appendChild(ui.head('Users'));
    },
  });
})();
