// A person opens a magic link in real Chromium and lands, signed in, in an app on another
// site. Run by tests/browser/run.sh (from scripts/test.sh): `node --test`.

import { createHash, randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { recordedPage, startAuthKit, startBrowser, startSite, uniqueEmail } from './harness.mjs';

let authkit;
let app;
let attacker;
let browser;
// What the app's server saw when its page handed it a result to exchange.
const exchanges = [];
// The app binds its sign-ins to itself (PKCE): the verifier it keeps for each one. A
// real app keeps it in the browser's session; one sign-in at a time is enough here.
let codeVerifier;

// The app: its callback page takes the result from the URL and gives it to the app's own
// server, which exchanges it at AuthKit (with the publishable key) for tokens.
const callbackPage = `<!doctype html><meta charset=utf-8><title>App</title><body>
<script>
  const result = new URLSearchParams(location.hash.slice(1)).get('authkit_result');
  history.replaceState(null, '', location.pathname);
  fetch('/exchange', { method: 'POST', body: JSON.stringify({ result }) })
    .then((response) => response.json())
    .then((answer) => { document.body.dataset.status = answer.status === 200 ? 'signed-in' : 'refused'; });
</script>`;

before(async () => {
  app = await startSite({
    '/callback': () => ({ body: callbackPage }),
    '/exchange': async (request, body) => {
      const { result } = JSON.parse(body);
      const answer = await authkit.api('/v1/auth/verify', { result, code_verifier: codeVerifier });
      exchanges.push(answer);
      return { headers: { 'content-type': 'application/json' }, body: JSON.stringify({ status: answer.status }) };
    },
  });
  // Another site, whose page posts a link's confirmation form to AuthKit.
  attacker = await startSite({ '/attack': (request, body, url) => ({ body: url.searchParams.get('page') }) });
  authkit = await startAuthKit([`${app.origin}/callback`]);
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  authkit?.stop();
  await app?.close();
  await attacker?.close();
});

async function startMagicLink(email) {
  codeVerifier = randomBytes(32).toString('base64url');
  const started = await authkit.api('/v1/auth/start', {
    identifier: email,
    kind: 'magic_link',
    redirect_uri: `${app.origin}/callback`,
    code_challenge: createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
  });
  assert.equal(started.status, 200, JSON.stringify(started.json));
  return authkit.linkSentTo(email);
}

test('a magic link opened in Chromium lands signed in on an app on another site, with no CSP violation', async () => {
  const link = await startMagicLink(uniqueEmail('browser'));

  const { page, console, close } = await recordedPage(browser);
  try {
    await page.goto(link);
    assert.equal(await page.title(), 'Confirm sign-in');
    await Promise.all([
      page.waitForNavigation({ timeout: 10_000 }).catch(() => {}),
      page.click('button[type=submit]'),
    ]);
    const landed = await page
      .waitForSelector('body[data-status]', { timeout: 10_000 })
      .then(() => page.$eval('body', (body) => body.dataset.status))
      .catch(() => `still at ${page.url()}`);
    const violations = console.filter((line) => /Content Security Policy/i.test(line));
    assert.deepEqual(violations, [], `the browser reported CSP violations:\n${console.join('\n')}`);
    assert.equal(landed, 'signed-in', `console:\n${console.join('\n')}`);
    assert.equal(new URL(page.url()).origin, app.origin);
    assert.equal(exchanges.at(-1).status, 200);
    // The result reached the app's page only: no request to the app's server carried it
    // in its URL or Referer (the page handed it over in a POST body).
    const leaked = app.requests.filter((request) => /authkit_result/.test(`${request.url} ${request.headers.referer ?? ''}`));
    assert.deepEqual(leaked, []);
    assert.match(exchanges.at(-1).json.access_token, /^eyJ/);
  } finally {
    await close();
  }
});

test("login CSRF: another site's form posting the attacker's own link is refused", async () => {
  const attackersLink = new URL(await startMagicLink(uniqueEmail('attacker')));
  const fields = [...attackersLink.searchParams]
    .map(([name, value]) => `<input type="hidden" name="${name}" value="${value}">`)
    .join('');
  const page = `<!doctype html><meta charset=utf-8><title>Free prize</title>
<form method="post" action="${authkit.url}/v1/auth/link">${fields}<button>Claim</button></form>
<script>document.forms[0].submit();</script>`;
  const callbacks = () => app.requests.filter((request) => request.url.startsWith('/callback')).length;
  const callbacksBefore = callbacks();

  const victim = await recordedPage(browser);
  try {
    // The victim has opened a sign-in page of their own before, so holds its cookie.
    await victim.page.goto(await startMagicLink(uniqueEmail('victim')));
    const response = await Promise.all([
      victim.page.waitForNavigation({ timeout: 10_000 }),
      victim.page.goto(`${attacker.origin}/attack?page=${encodeURIComponent(page)}`),
    ]).then(([navigation]) => navigation);
    assert.equal(response.status(), 403);
    assert.equal(new URL(victim.page.url()).origin, authkit.url);
    assert.match(await victim.page.content(), /could not be confirmed from here/);
    assert.equal(callbacks(), callbacksBefore, 'the browser was sent to the app with a result');
  } finally {
    await victim.close();
  }

  // The attacker's link itself was not used up by the refusal.
  const own = await recordedPage(browser);
  try {
    await own.page.goto(attackersLink.href);
    assert.equal(await own.page.title(), 'Confirm sign-in');
  } finally {
    await own.close();
  }
});
