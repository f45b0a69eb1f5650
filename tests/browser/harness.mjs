// What the browser tests share: AuthKit's local server (the real binary), a tiny app on
// another site that receives magic links, and headless Chromium.
//
// Origins: AuthKit at http://127.0.0.1:<port>; the app at http://localhost:<port>, which
// is another origin AND another site (the host differs), as a real app's redirect URI is.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import puppeteer from 'puppeteer-core';

/** A port nobody listens on right now. */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Serves `routes[path](request, body, url)` → {status, headers, body}; records every request. */
export async function startSite(routes) {
  const requests = [];
  const server = createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    const body = Buffer.concat(chunks).toString();
    const url = new URL(request.url, 'http://site');
    requests.push({ method: request.method, url: request.url, headers: request.headers, body });
    const route = routes[url.pathname];
    const answer = route
      ? await route(request, body, url)
      : { status: 404, body: 'not found' };
    response.writeHead(answer.status ?? 200, { 'content-type': 'text/html; charset=utf-8', ...answer.headers });
    response.end(answer.body ?? '');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `http://localhost:${server.address().port}`;
  return { origin, requests, close: () => new Promise((resolve) => server.close(resolve)) };
}

/**
 * The local server, built by cargo (AUTHKIT_LOCAL_BIN), on the embedded store with the
 * dev outbox; its demo tenant allows `redirectUris`.
 */
export async function startAuthKit(redirectUris) {
  const binary = process.env.AUTHKIT_LOCAL_BIN;
  if (!binary) throw new Error('AUTHKIT_LOCAL_BIN is not set (tests/browser/run.sh sets it)');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const scratch = mkdtempSync(join(tmpdir(), 'authkit-browser-'));
  const env = {
    ...process.env,
    AUTHKIT_STORE: 'embedded',
    AUTHKIT_DELIVERY: 'outbox',
    AUTHKIT_ISSUER: url,
    AUTHKIT_KEY_FILE: join(scratch, 'keys.json'),
    AUTHKIT_OUTBOX_QUIET: '1',
    AUTHKIT_DEMO_REDIRECT_URIS: redirectUris.join(','),
  };
  delete env.AWS_ENDPOINT_URL;
  delete env.AUTHKIT_PUBLIC_BASE_URL;
  const child = spawn(binary, ['--listen', `127.0.0.1:${port}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => { output += chunk; });
  child.stderr.on('data', (chunk) => { output += chunk; });
  const publishableKey = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`authkit-local did not start:\n${output}`)), 30_000);
    const look = () => {
      const found = output.match(/publishable key:\s+(\S+)/);
      if (found) { clearTimeout(timer); resolve(found[1]); }
    };
    child.stdout.on('data', look);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`authkit-local exited (${code}):\n${output}`)); });
  });
  return {
    url,
    publishableKey,
    output: () => output,
    async api(path, body) {
      const response = await fetch(`${url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': publishableKey },
        body: JSON.stringify(body),
      });
      return { status: response.status, json: await response.json() };
    },
    /** The newest magic link the dev outbox holds for `to`. */
    async linkSentTo(to) {
      for (let i = 0; i < 50; i += 1) {
        const messages = await (await fetch(`${url}/dev/outbox?to=${encodeURIComponent(to)}`)).json();
        const text = messages.at(-1)?.text ?? '';
        const link = text.match(/https?:\/\/\S+\/v1\/auth\/link\?[^\s"<']+/);
        if (link) return link[0].replaceAll('&amp;', '&');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`no magic link was sent to ${to}`);
    },
    stop() {
      child.kill('SIGTERM');
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}

/** Debian's chromium (CHROMIUM, found by run.sh), headless, with the console recorded. */
export async function startBrowser() {
  const executablePath = process.env.CHROMIUM;
  if (!executablePath) throw new Error('CHROMIUM is not set (tests/browser/run.sh sets it)');
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run'],
  });
}

/** A fresh page whose console messages (including CSP violations Chromium reports) are kept. */
export async function recordedPage(browser) {
  const context = await browser.createBrowserContext();
  const page = await context.newPage();
  const console = [];
  page.on('console', (message) => console.push(`${message.type()}: ${message.text()}`));
  page.on('pageerror', (error) => console.push(`pageerror: ${error.message}`));
  return { page, console, close: () => context.close() };
}

export function uniqueEmail(label) {
  return `${label}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}@example.com`;
}
