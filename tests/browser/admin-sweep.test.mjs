// Every view of the admin console, swept: each form control has a label, each button a name,
// nothing scrolls sideways on a phone, and nothing logs an error; in the system's dark setting
// too. Screenshots of each view at both sizes land in target/screenshots/admin/sweep-*.png.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, browserFor, localInstanceId } from './harness.mjs';
import { LAPTOP, PHONE, adminServer, assertNoSideways, makeUser, screenshot, signInToAdmin } from './admin.mjs';

/** Waits until the page has no request in flight for a moment (a view has rendered). */
async function settled(page, inflight) {
  for (let quiet = 0; quiet < 3; ) {
    await page.waitForTimeout(100);
    quiet = inflight.size === 0 ? quiet + 1 : 0;
  }
}

function tracked(page) {
  const inflight = new Set();
  page.on('request', (r) => inflight.add(r));
  page.on('requestfinished', (r) => inflight.delete(r));
  page.on('requestfailed', (r) => inflight.delete(r));
  return inflight;
}

/** The controls and buttons of the view that people cannot tell apart by name. */
function unnamed(page) {
  return page.evaluate(() => {
    const out = [];
    const visible = (e) => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length);
    for (const e of document.querySelectorAll('#view input, #view select, #view textarea, #view button, #view a[href]')) {
      if (!visible(e) || e.type === 'hidden') continue;
      const named =
        (e.labels && e.labels.length > 0) ||
        e.getAttribute('aria-label') ||
        e.getAttribute('aria-labelledby') ||
        (['BUTTON', 'A'].includes(e.tagName) && e.textContent.trim());
      if (!named) out.push(e.outerHTML.slice(0, 120));
    }
    return out;
  });
}

test('every view: labelled controls, named buttons, no sideways scrolling on a phone, light and dark', async (t) => {
  const { server, adminToken } = await adminServer(t);
  const user = await makeUser(server, adminToken, { username: 'erin', displayName: 'Erin Example', email: 'erin@example.com', password: 'erin password 123' });
  const local = await localInstanceId(server);
  const client = await api(server, 'POST', '/auth/api/login/client', {
    bearer: adminToken,
    body: { name: 'Reports', redirectUrls: ['https://reports.example/cb'], validScopes: ['login'], requiresSecret: true },
  });
  assert.equal(client.status, 201, client.text);
  const routes = {
    dashboard: '#/',
    users: '#/users',
    user: '#/users/' + user.id,
    instances: '#/instances',
    'instance-new': '#/instances/new',
    'instance-new-oidc': '#/instances/new?type=oidc',
    instance: '#/instances/' + local,
    clients: '#/clients',
    client: '#/clients/' + client.body.id,
    keys: '#/keys',
    audit: '#/audit',
  };
  const browser = await browserFor(t);
  for (const [size, options] of [['laptop', { ...LAPTOP, colorScheme: 'light' }], ['phone', { ...PHONE, colorScheme: 'dark' }]]) {
    const { page, errors } = await signInToAdmin(browser, t, server, { options });
    const inflight = tracked(page);
    for (const [name, hash] of Object.entries(routes)) {
      await page.evaluate((h) => {
        location.hash = h;
      }, hash);
      await page.locator('#view h1').first().waitFor();
      await settled(page, inflight);
      assert.deepEqual(await unnamed(page), [], `${name} (${size}): every control has a name`);
      assert.equal(await page.locator('#view h1').count() >= 1, true);
      assert.doesNotMatch(await page.locator('#view').innerText(), /Nothing here|could not be shown/, `${name} (${size})`);
      await assertNoSideways(page, `${name} (${size})`);
      await screenshot(page, `sweep-${name}-${size}`);
    }
    assert.deepEqual(errors, [], `${size}: no script or console errors`);
  }
});
