// WebAuthn for keyward's pages: the server sends ceremony options as JSON with binary fields
// base64url-encoded (webauthn-rs' `{"publicKey": {...}}`), and takes the browser's
// PublicKeyCredential back as JSON in the same encoding. Loaded after common.js, before a page's
// own script.
(function () {
  'use strict';

  /** base64url (padding optional; plain base64 accepted too) → ArrayBuffer. */
  function fromB64url(s) {
    if (typeof s !== 'string') throw new TypeError('expected a base64url string');
    const b = s.replace(/-/g, '+').replace(/_/g, '/').replace(/=+$/, '');
    const bin = atob(b + '==='.slice((b.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  /** ArrayBuffer or a view of one → base64url without padding. */
  function toB64url(buf) {
    if (buf === null || buf === undefined) return null;
    const bytes = buf instanceof ArrayBuffer ? new Uint8Array(buf) : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    let s = '';
    for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function descriptors(list) {
    if (!Array.isArray(list)) return list;
    return list.map((c) => ({ ...c, id: fromB64url(c.id) }));
  }

  /** The server's creation options (`{publicKey}` or the inner object) ready for
   *  `navigator.credentials.create({publicKey})`. */
  function creationOptions(json) {
    const o = json && json.publicKey ? json.publicKey : json;
    if (!o || typeof o !== 'object' || !o.user || typeof o.challenge !== 'string') {
      throw new TypeError('not WebAuthn creation options');
    }
    const pk = { ...o, challenge: fromB64url(o.challenge), user: { ...o.user, id: fromB64url(o.user.id) } };
    if (o.excludeCredentials) pk.excludeCredentials = descriptors(o.excludeCredentials);
    return pk;
  }

  /** The server's request options ready for `navigator.credentials.get({publicKey})`. */
  function requestOptions(json) {
    const o = json && json.publicKey ? json.publicKey : json;
    if (!o || typeof o !== 'object' || typeof o.challenge !== 'string') {
      throw new TypeError('not WebAuthn request options');
    }
    const pk = { ...o, challenge: fromB64url(o.challenge) };
    if (o.allowCredentials) pk.allowCredentials = descriptors(o.allowCredentials);
    return pk;
  }

  function extensionResults(cred) {
    try {
      const ext = cred.getClientExtensionResults ? cred.getClientExtensionResults() : {};
      // Only the plain JSON results; binary ones (prf, largeBlob) are not asked for.
      return JSON.parse(JSON.stringify(ext || {}));
    } catch (_) {
      return {};
    }
  }

  /** A new credential (from `create`) as the JSON the server reads. */
  function encodeRegistration(cred) {
    const r = cred.response;
    const response = {
      attestationObject: toB64url(r.attestationObject),
      clientDataJSON: toB64url(r.clientDataJSON),
    };
    if (typeof r.getTransports === 'function') {
      try {
        response.transports = r.getTransports();
      } catch (_) {
        // optional
      }
    }
    return { id: cred.id, rawId: toB64url(cred.rawId), type: cred.type, response, extensions: extensionResults(cred) };
  }

  /** An assertion (from `get`) as the JSON the server reads. */
  function encodeAssertion(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: toB64url(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: toB64url(r.authenticatorData),
        clientDataJSON: toB64url(r.clientDataJSON),
        signature: toB64url(r.signature),
        userHandle: r.userHandle ? toB64url(r.userHandle) : null,
      },
      extensions: extensionResults(cred),
    };
  }

  /** Whether this browser can do WebAuthn at all (it needs a secure context: https or localhost). */
  function supported() {
    return !!(window.isSecureContext && window.PublicKeyCredential && navigator.credentials &&
      typeof navigator.credentials.create === 'function' && typeof navigator.credentials.get === 'function');
  }

  /** Whether the browser offers passkeys in a field's autofill (conditional mediation). */
  async function conditionalAvailable() {
    if (!supported() || typeof PublicKeyCredential.isConditionalMediationAvailable !== 'function') return false;
    try {
      return (await PublicKeyCredential.isConditionalMediationAvailable()) === true;
    } catch (_) {
      return false;
    }
  }

  /** `create` with the server's options: `{credential}` (encoded) or `{error}` (see `problem`). */
  async function create(optionsJson) {
    let publicKey;
    try {
      publicKey = creationOptions(optionsJson);
    } catch (e) {
      return { error: 'bad-options' };
    }
    try {
      const cred = await navigator.credentials.create({ publicKey });
      if (!cred) return { error: 'cancelled' };
      return { credential: encodeRegistration(cred) };
    } catch (e) {
      return { error: problem(e) };
    }
  }

  /** `get` with the server's options; `mediation` 'conditional' for autofill, and `signal` to
   *  abort it. `{credential}` or `{error}`. */
  async function get(optionsJson, { mediation, signal } = {}) {
    let publicKey;
    try {
      publicKey = requestOptions(optionsJson);
    } catch (e) {
      return { error: 'bad-options' };
    }
    const req = { publicKey };
    if (mediation) req.mediation = mediation;
    if (signal) req.signal = signal;
    try {
      const cred = await navigator.credentials.get(req);
      if (!cred) return { error: 'cancelled' };
      return { credential: encodeAssertion(cred) };
    } catch (e) {
      return { error: problem(e) };
    }
  }

  /** What went wrong in a ceremony, by the DOMException the browser threw: 'cancelled' (the
   *  person said no, or it timed out: browsers do not tell these apart), 'aborted' (the page
   *  aborted it), 'exists' (this authenticator already holds a passkey of the user),
   *  'security' (the page's address cannot hold passkeys), 'unsupported', or 'failed'. */
  function problem(e) {
    const name = e && e.name;
    if (name === 'NotAllowedError') return 'cancelled';
    if (name === 'AbortError') return 'aborted';
    if (name === 'InvalidStateError') return 'exists';
    if (name === 'SecurityError') return 'security';
    if (name === 'NotSupportedError') return 'unsupported';
    return 'failed';
  }

  /** Words for a ceremony problem, for the person in front of the page. */
  function problemText(error, what) {
    switch (error) {
      case 'cancelled':
        return 'The passkey ' + what + ' was cancelled or timed out. You can try again.';
      case 'exists':
        return 'This device already has a passkey for this account. Use that one, or try another device.';
      case 'security':
        return 'This address cannot use passkeys. The administrator must give keyward a host name (not an IP address).';
      case 'unsupported':
        return 'This browser or device cannot make the kind of passkey keyward needs.';
      case 'bad-options':
        return 'keyward sent something this page does not understand. Reload the page and try again.';
      default:
        return 'The passkey ' + what + ' did not work. You can try again.';
    }
  }

  /** A name for a new passkey: the kind of device it is likely on. */
  function deviceName() {
    const ua = navigator.userAgent || '';
    const platform = (navigator.userAgentData && navigator.userAgentData.platform) || '';
    const os =
      /Android/.test(ua) ? 'Android'
        : /iPhone/.test(ua) ? 'iPhone'
          : /iPad/.test(ua) ? 'iPad'
            : /Windows/.test(ua) || platform === 'Windows' ? 'Windows'
              : /CrOS/.test(ua) || platform === 'Chrome OS' ? 'ChromeOS'
                : /Mac OS X|Macintosh/.test(ua) || platform === 'macOS' ? 'Mac'
                  : /Linux/.test(ua) || platform === 'Linux' ? 'Linux'
                    : '';
    const browser =
      /Edg\//.test(ua) ? 'Edge'
        : /Firefox\//.test(ua) ? 'Firefox'
          : /Chrome\/|Chromium\//.test(ua) ? 'Chrome'
            : /Safari\//.test(ua) ? 'Safari'
              : '';
    if (os && browser) return browser + ' on ' + os;
    return os || browser || 'My passkey';
  }

  window.keywardWebauthn = Object.freeze({
    fromB64url, toB64url, creationOptions, requestOptions, encodeRegistration, encodeAssertion,
    supported, conditionalAvailable, create, get, problem, problemText, deviceName,
  });
})();
