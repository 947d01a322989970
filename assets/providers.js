// Upstream logins on keyward's pages (GitHub, GitLab, any OpenID Connect provider): their
// built-in icons and the buttons that start keyward's redirect flow. The icons are drawn here
// (SVG made with the DOM): the pages load nothing from anywhere else.
(function () {
  'use strict';

  const SVG = 'http://www.w3.org/2000/svg';

  /** Each icon: a 16×16 view box and its shapes (element name and attributes). */
  const ICONS = {
    // The GitHub mark (Octicons, MIT).
    github: [
      ['path', {
        fill: '#1f2328',
        'fill-rule': 'evenodd',
        d: 'M8 0C3.58 0 0 3.58 0 8c0 3.54 2.29 6.53 5.47 7.59.4.07.55-.17.55-.38 0-.19-.01-.82-.01-1.49-2.01.37-2.53-.49-2.69-.94-.09-.23-.48-.94-.82-1.13-.28-.15-.68-.52-.01-.53.63-.01 1.08.58 1.23.82.72 1.21 1.87.87 2.33.66.07-.52.28-.87.51-1.07-1.78-.2-3.64-.89-3.64-3.95 0-.87.31-1.59.82-2.15-.08-.2-.36-1.02.08-2.12 0 0 .67-.21 2.2.82.64-.18 1.32-.27 2-.27.68 0 1.36.09 2 .27 1.53-1.04 2.2-.82 2.2-.82.44 1.1.16 1.92.08 2.12.51.56.82 1.27.82 2.15 0 3.07-1.87 3.75-3.65 3.95.29.25.54.73.54 1.48 0 1.07-.01 1.93-.01 2.2 0 .21.15.46.55.38A8.013 8.013 0 0016 8c0-4.42-3.58-8-8-8z',
      }],
    ],
    // GitLab's tanuki, reduced to its outline and halves.
    gitlab: [
      ['path', { fill: '#e24329', d: 'M8 15.2 10.95 6.1H5.05z' }],
      ['path', { fill: '#fc6d26', d: 'M8 15.2 5.05 6.1H.92z' }],
      ['path', { fill: '#fca326', d: 'M.92 6.1.02 8.86a.61.61 0 0 0 .22.69L8 15.2z' }],
      ['path', { fill: '#e24329', d: 'M.92 6.1h4.13L3.27.63a.31.31 0 0 0-.58 0z' }],
      ['path', { fill: '#fc6d26', d: 'M8 15.2l2.95-9.1h4.13z' }],
      ['path', { fill: '#fca326', d: 'M15.08 6.1l.9 2.76a.61.61 0 0 1-.22.69L8 15.2z' }],
      ['path', { fill: '#e24329', d: 'M15.08 6.1h-4.13L12.73.63a.31.31 0 0 1 .58 0z' }],
    ],
    // Any OpenID Connect provider: a key.
    oidc: [
      ['circle', { cx: '4.75', cy: '8', r: '3', fill: 'none', stroke: '#2f5bd3', 'stroke-width': '1.6' }],
      ['path', { fill: 'none', stroke: '#2f5bd3', 'stroke-width': '1.6', 'stroke-linecap': 'round', 'stroke-linejoin': 'round', d: 'M7.75 8h7.25M12.5 8v2.5M14.75 8v2' }],
    ],
  };

  const NAMES = { github: 'GitHub', gitlab: 'GitLab', oidc: 'OpenID Connect' };

  /** Whether a strategy type is an upstream provider (a redirect flow). */
  const isUpstream = (type) => Object.prototype.hasOwnProperty.call(ICONS, type);

  /** The icon of an upstream type as an <svg> element (decorative: the text names it). */
  function icon(type) {
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('viewBox', '0 0 16 16');
    svg.setAttribute('width', '18');
    svg.setAttribute('height', '18');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'provider-icon');
    for (const [tag, attrs] of ICONS[type] || ICONS.oidc) {
      const shape = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) shape.setAttribute(k, v);
      svg.appendChild(shape);
    }
    return svg;
  }

  /** What to call an instance: its name, else its provider's. */
  const instanceName = (i) => (i && typeof i.name === 'string' && i.name) || NAMES[i && i.type] || 'this provider';

  /** keyward's redirect into the provider for `instanceId`: `mode` login, register or link,
   *  inside the authorization request `flow` when there is one. */
  function redirectUrl(instanceId, mode, flow) {
    const q = new URLSearchParams({ mode });
    if (flow) q.set('flow', flow);
    return '/auth/api/flow/redirect/' + encodeURIComponent(instanceId) + '?' + q.toString();
  }

  /** A link styled as a button that starts the redirect flow: icon and `text`. It is a plain
   *  navigation (the provider's page opens in this tab); it says so while it loads. */
  function button(instance, mode, flow, text, extraClass) {
    const a = document.createElement('a');
    a.className = 'button provider' + (extraClass ? ' ' + extraClass : '');
    a.href = redirectUrl(instance.id, mode, flow);
    a.dataset.instance = instance.id;
    a.dataset.type = instance.type;
    a.appendChild(icon(instance.type));
    const label = document.createElement('span');
    label.textContent = text;
    a.appendChild(label);
    a.addEventListener('click', () => a.classList.add('busy'));
    return a;
  }

  window.keywardProviders = Object.freeze({ isUpstream, icon, instanceName, redirectUrl, button, NAMES });
})();
