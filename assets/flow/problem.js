// The page where an upstream login that did not work ends:
// /auth/flow/problem?reason=<code>&instance=<id>[&flow=<flow>][&register=1][&hint=email].
// keyward's redirect flow sends the browser here for every failure; nothing half-made is left
// behind, so the page only says what happened and offers the ways on. Only its own texts are
// shown: the query chooses among them, and the provider is named from keyward's instance list.
(function () {
  'use strict';
  const { $, show, hide, flow, flowQuery, call } = window.keyward;
  const providers = window.keywardProviders;

  const q = new URLSearchParams(location.search);
  const reason = q.get('reason') || '';
  const instanceId = q.get('instance') || '';

  /** Per reason: the heading, what happened, and what to do. `who` names the provider
   *  ("GitHub", or "the provider" when the instance is unknown), `acct` the person's account
   *  there ("GitHub account", "account at the provider"). */
  const REASONS = {
    consent_denied: {
      heading: 'Sign-in cancelled',
      text: (who, acct) => 'You did not allow keyward to use your ' + acct + ', so you are not signed in.',
      detail: 'To sign in with it, start again and allow access when you are asked.',
    },
    state_invalid: {
      heading: 'This sign-in cannot be finished',
      text: (who) => 'The answer from ' + who + ' does not belong to a sign-in started in this browser: it may be old, used already, or started somewhere else.',
      detail: 'Nothing was signed in or changed. Start again from the sign-in page.',
    },
    provider_error: {
      heading: 'Sign-in did not work',
      text: (who) => who + ' answered with an error, so you are not signed in.',
      detail: 'Try again in a moment, or sign in another way.',
    },
    provider_unreachable: {
      heading: 'Sign-in did not work',
      text: (who) => who + ' cannot be reached right now, so you are not signed in.',
      detail: 'Try again later, or sign in another way.',
    },
    id_token_invalid: {
      heading: 'Sign-in refused',
      text: (who) => 'The answer from ' + who + ' could not be verified, so keyward did not accept it.',
      detail: 'Nothing was signed in or changed. If this keeps happening, tell an administrator.',
    },
    no_account: {
      heading: 'No account for this login',
      text: (who, acct) => 'There is no account here for the ' + acct + ' you signed in with.',
      detail: '',
    },
    login_disabled: {
      heading: 'Sign-in not available',
      text: (who) => 'Signing in with ' + who + ' is turned off here.',
      detail: 'Sign in another way, or ask an administrator.',
    },
    blocked: {
      heading: 'Account blocked',
      text: () => 'The account of this login is blocked.',
      detail: 'Ask an administrator to unblock it.',
    },
    identity_taken: {
      heading: 'Login not added',
      text: (who, acct) => 'This ' + acct + ' already belongs to another account here, so it was not added to yours.',
      detail: 'Sign in with it to use that account, or unlink it there first.',
    },
    not_logged_in: {
      heading: 'Sign in first',
      text: (who, acct) => 'To link your ' + acct + ', sign in to your account here first.',
      detail: 'Nothing was added.',
    },
    instance_unknown: {
      heading: 'Sign-in not available',
      text: () => 'This way of signing in does not exist here (any more).',
      detail: 'Sign in another way.',
    },
    invalid_request: {
      heading: 'Sign-in not started',
      text: (who) => 'Signing in with ' + who + ' could not start: the request was not valid, or the application’s sign-in has expired.',
      detail: 'Start again from the application or the sign-in page.',
    },
    internal_error: {
      heading: 'Sign-in did not work',
      text: (who) => 'Signing in with ' + who + ' did not work because of a problem inside keyward. Nothing was changed.',
      detail: 'Try again in a moment. If this keeps happening, tell an administrator.',
    },
  };
  const FALLBACK = {
    heading: 'Signing in did not work',
    text: (who) => 'Signing in with ' + who + ' did not work. Nothing was changed.',
    detail: 'Start again from the sign-in page.',
  };

  /** A sentence starts with a capital letter ("the provider …" → "The provider …"). */
  const sentenceCase = (t) => t.charAt(0).toUpperCase() + t.slice(1);

  /** The instance of the failed login, from keyward's public list (null when unknown). */
  async function instanceOf(id) {
    if (!id) return null;
    const r = await call('GET', '/auth/api/login/strategy-instance');
    if (r.status !== 200 || !Array.isArray(r.data)) return null;
    return r.data.find((i) => i && i.id === id) || null;
  }

  async function start() {
    const known = Object.prototype.hasOwnProperty.call(REASONS, reason);
    const what = known ? REASONS[reason] : FALLBACK;
    $('back').href = '/auth/flow/login' + flowQuery;

    const [instance, ctx] = await Promise.all([
      instanceOf(instanceId),
      call('GET', '/auth/api/flow/context' + flowQuery),
    ]);
    const name = instance ? providers.instanceName(instance) : null;
    const who = name || 'the provider';
    const acct = name ? name + ' account' : 'account at the provider';

    $('heading').firstChild.textContent = what.heading;
    document.title = what.heading + ' – keyward';
    $('problem-text').textContent = sentenceCase(what.text(who, acct));
    $('problem-detail').textContent = what.detail;
    show($('problem-detail'), !!what.detail);

    if (ctx.status === 200 && ctx.data.client && ctx.data.client.name) {
      $('client-name').textContent = ctx.data.client.name;
      show($('client-line'));
    }
    // Without an application's flow, a signed-in person came from the account page.
    const signedIn = ctx.status === 200 && !!ctx.data.user;
    show($('account'), signedIn && !flow);

    if (reason === 'no_account') {
      $('problem').classList.replace('error', 'info');
      if (q.get('register') === '1' && instance) {
        // A new sign-in with the provider, this time to make an account from it.
        $('register').href = providers.redirectUrl(instance.id, 'register', flow);
        $('register').textContent = 'Create an account with ' + name;
        show($('register'));
      }
      if (q.get('hint') === 'email') show($('email-hint'));
    }
    if (reason === 'not_logged_in') {
      $('back').textContent = 'Sign in';
    }
    $('card').removeAttribute('aria-busy');
  }

  start();
})();
