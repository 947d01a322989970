// The passkey link page: /auth/flow/passkey?userID=&orgID=&codeID=&code=. Whoever holds the
// link may add a passkey to that user, without signing in: the link's code is the authority.
// The code is used up only when a passkey is saved, so a cancelled or failed ceremony can be
// tried again with the same link.
(function () {
  'use strict';
  const { $, show, hide, call, sentence, fieldError, clearErrors } = window.keyward;
  const wa = window.keywardWebauthn;

  const q = new URLSearchParams(location.search);
  const userId = q.get('userID') || '';
  const codeId = q.get('codeID') || '';
  const code = q.get('code') || '';
  const base = '/v2/users/' + encodeURIComponent(userId) + '/passkeys';

  // A ceremony prepared on load, so that the click goes straight to the browser's passkey
  // dialog (some browsers allow it only right after a click). The server keeps a ceremony for
  // 5 minutes; an older one is started afresh.
  const CEREMONY_MS = 4 * 60 * 1000;
  let ceremony = null; // {passkeyId, options, at}

  /** The passwordless API's error id (`details[0].id`, e.g. "KW-PL-012"), or ''. */
  function errorId(r) {
    const d = Array.isArray(r.data.details) ? r.data.details[0] : null;
    return d && typeof d.id === 'string' ? d.id : '';
  }

  /** The server's own words without the trailing "(KW-PL-nnn)". */
  function serverText(r) {
    const d = Array.isArray(r.data.details) ? r.data.details[0] : null;
    const m = d && typeof d.message === 'string' && d.message ? d.message : r.data.message;
    return typeof m === 'string' ? sentence(m.replace(/\s*\(KW-PL-\d+\)\s*$/, '')) : '';
  }

  // What each refusal of the link means for the person holding it (ids of the passwordless
  // API, see src/api/passwordless).
  const LINK_PROBLEMS = {
    wrong: ['This link is not valid.', 'Its code is wrong. Open the link exactly as you got it (copy all of it), or ask for a new one. After three wrong tries the link stops working.'],
    expired: ['This link has expired.', 'Ask for a new link: from your account page on another device, or from your administrator.'],
    used: ['This link has been used already.', 'A passkey was saved with it, and a link works only once. You can sign in with that passkey, or ask for a new link.'],
    void: ['This link no longer works.', 'Its code was entered wrongly too often. Ask for a new link.'],
    unsent: ['This link no longer works.', 'Its e-mail could not be delivered, so the link was cancelled. Ask for a new link.'],
    blocked: ['This account is blocked.', 'No passkey can be added to it. Ask your administrator.'],
    off: ['Passkeys are not available on this server.', 'keyward must run under a host name (not an IP address) for passkeys. Ask your administrator.'],
    precondition: ['The passkey cannot be added.', 'Ask your administrator.'],
    user: ['This link does not belong to an account here.', 'The account may have been removed. Ask for a new link.'],
  };

  // The error ids of the passwordless API that refuse the link itself.
  const PROBLEM_IDS = {
    'KW-PL-040': 'wrong',
    'KW-PL-041': 'expired',
    'KW-PL-042': 'used',
    'KW-PL-043': 'void',
    'KW-PL-044': 'unsent',
    'KW-PL-052': 'blocked',
    'KW-PL-051': 'precondition',
    'KW-PL-030': 'user',
  };

  /** The kind of refusal of a passwordless API answer, or null when it is none of the link's. */
  function problemOf(r) {
    const id = errorId(r);
    // Passkeys are off (keyward has an IP address for a public URL): the server says so.
    if (id === 'KW-PL-051' && /host ?name|public.url|IP address/i.test(serverText(r))) return 'off';
    return Object.prototype.hasOwnProperty.call(PROBLEM_IDS, id) ? PROBLEM_IDS[id] : null;
  }

  function refuse(title, text) {
    hide($('loading'));
    hide($('passkey-form'));
    $('refused-title').textContent = title;
    $('refused-text').textContent = text;
    show($('refused'));
  }

  function showError(text) {
    const err = $('error');
    err.textContent = text;
    show(err);
  }

  /** Starts a ceremony with the link's code. On a refusal of the link the page says why and
   *  answers false; on another failure, it says so in `#error` when `inline`. */
  async function prepare(inline) {
    ceremony = null;
    const r = await call('POST', base, { code: { id: codeId, code } });
    if (r.status === 200 && typeof r.data.passkeyId === 'string' && r.data.publicKeyCredentialCreationOptions) {
      ceremony = { passkeyId: r.data.passkeyId, options: r.data.publicKeyCredentialCreationOptions, at: Date.now() };
      return true;
    }
    const kind = problemOf(r);
    if (kind) {
      const [title, text] = LINK_PROBLEMS[kind];
      refuse(title, kind === 'precondition' ? serverText(r) || text : text);
      return false;
    }
    const text = r.status === 0
      ? 'keyward cannot be reached. Check your connection and try again.'
      : (serverText(r) || 'The passkey could not be started') + (r.status >= 500 ? ' Try again in a moment.' : '');
    if (inline) showError(text);
    else refuse('The passkey cannot be added now.', text);
    return false;
  }

  async function start() {
    if (!userId || !codeId || !code) {
      refuse('This link is incomplete.', 'Open the link exactly as you got it (copy all of it), or ask for a new one.');
      return;
    }
    if (!wa.supported()) {
      refuse('This browser cannot add passkeys here.', window.isSecureContext
        ? 'Use a current browser (Chrome, Edge, Firefox or Safari), or open the link on another device.'
        : 'Passkeys need a secure address (https, or localhost). Ask your administrator.');
      return;
    }
    if (!(await prepare(false))) return;
    hide($('loading'));
    $('name').value = wa.deviceName();
    show($('passkey-form'));
    $('create').focus();
  }

  let busy = false;

  $('passkey-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (busy) return;
    clearErrors(['name']);
    const name = $('name').value.trim();
    if (!name) {
      fieldError('name', 'Give the passkey a name.');
      $('name').focus();
      return;
    }
    busy = true;
    const button = $('create');
    button.disabled = true;
    button.textContent = 'Waiting for your passkey…';
    try {
      await register(name);
    } finally {
      busy = false;
      button.disabled = false;
      button.textContent = 'Create passkey';
    }
  });

  async function register(name) {
    if (!ceremony || Date.now() - ceremony.at > CEREMONY_MS) {
      if (!(await prepare(true))) return;
    }
    const c = ceremony;
    // A ceremony is tried once: whatever happens next, the next attempt starts a new one.
    ceremony = null;
    const made = await wa.create(c.options);
    if (made.error) {
      showError(wa.problemText(made.error, 'creation'));
      // Ready for another try with the same link.
      await prepare(true);
      return;
    }
    const r = await call('POST', base + '/' + encodeURIComponent(c.passkeyId), { publicKeyCredential: made.credential, passkeyName: name });
    if (r.status === 200) {
      hide($('passkey-form'));
      $('done-name').textContent = '“' + name + '”';
      show($('done'));
      return;
    }
    const kind = problemOf(r);
    if (kind && kind !== 'user') {
      const [title, text] = LINK_PROBLEMS[kind];
      refuse(title, text);
      return;
    }
    if (r.status === 400 && r.data.code === 3 && /name/i.test(serverText(r))) {
      fieldError('name', serverText(r));
      $('name').focus();
    } else {
      showError(r.status === 0
        ? 'keyward cannot be reached. Check your connection and try again.'
        : 'The passkey was not saved: ' + (serverText(r) || 'error ' + r.status).replace(/^./, (ch) => ch.toLowerCase()) + ' You can try again.');
    }
    await prepare(true);
  }

  start();
})();
