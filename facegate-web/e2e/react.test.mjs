// @facegate/react in a real Chromium: react-page.jsx (the package's dist/ in
// React 19's development build, under <StrictMode>) against the axum
// example's /v1 API, its tenant in passive liveness, with a client key of
// the page's origin and the Supabase session provider on.
//
// Needs facegate-web/react built (npm ci && npm run build there; scripts/browser-tests does it).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

import { artifact, mintClientKey, repoRoot, startApiServer, withBrowser } from './support.mjs';

const API_KEY = 'fg_test_e2ereact000000000000';
const SUPABASE_SECRET = 'e2e-supabase-jwt-secret-of-32-bytes!';
const TIMEOUT = { timeout: 120_000 };
const reactDir = path.join(repoRoot, 'facegate-web/react');

/** react-page.jsx bundled with the package's own esbuild and React. */
async function buildPage() {
  if (!existsSync(path.join(reactDir, 'dist/index.js'))) {
    throw new Error('facegate-web/react/dist/ not found: cd facegate-web/react && npm ci && npm run build');
  }
  const { build } = createRequire(path.join(reactDir, 'package.json'))('esbuild');
  const result = await build({
    entryPoints: [path.join(repoRoot, 'facegate-web/e2e/react-page.jsx')],
    bundle: true,
    write: false,
    format: 'esm',
    jsx: 'automatic',
    nodePaths: [path.join(reactDir, 'node_modules')],
    // The development build: StrictMode mounts, unmounts and mounts again.
    define: { 'process.env.NODE_ENV': '"development"' },
    logLevel: 'warning',
  });
  return result.outputFiles[0].text;
}

const HTML = '<!doctype html><html lang="en"><meta charset="utf-8"><title>@facegate/react</title><div id="root"></div><script type="module" src="/__e2e/react/app.js"></script>';

describe('@facegate/react in Chromium (StrictMode, passive liveness)', { concurrency: false }, () => {
  let server;
  let tenant;
  let clientKey;
  let bundle;
  let enrolledUser;

  before(async () => {
    bundle = await buildPage();
    ({ server, tenant } = await startApiServer({ logName: 'server-react.log', apiKey: API_KEY, env: { FACEGATE_SUPABASE_JWT_SECRET: SUPABASE_SECRET } }));
    clientKey = mintClientKey(server, tenant, server.baseUrl);
  });

  after(async () => {
    await server?.stop();
  });

  /** Opens the page in `browser` with `query`, served from the server's own origin. */
  async function open({ page }, query) {
    await page.route(`${server.baseUrl}/__e2e/react**`, (route) => {
      const url = new URL(route.request().url());
      if (url.pathname === '/__e2e/react/app.js') return route.fulfill({ contentType: 'text/javascript', body: bundle });
      return route.fulfill({ contentType: 'text/html', body: HTML });
    });
    const search = new URLSearchParams({ key: clientKey, ...query });
    await page.goto(`${server.baseUrl}/__e2e/react?${search}`);
    await page.waitForSelector('.facegate');
  }

  const events = (page) => page.evaluate(() => window.__facegate.events);

  /** Waits for an event of `type` (or an error), and returns it. */
  async function waitForEvent(browser, type, timeoutMs = 90_000) {
    const handle = await browser.page.waitForFunction(
      (wanted) => window.__facegate.events.find((e) => e.type === wanted || e.type === 'error'),
      type,
      { timeout: timeoutMs, polling: 250 },
    );
    const event = await handle.jsonValue();
    assert.equal(event.type, type, `${JSON.stringify(event)}\n${browser.messages.join('\n')}\n${server.logTail(20)}`);
    return event;
  }

  test('enroll: consent, the camera, the challenge → onEnrolled', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await open(browser, { mode: 'enroll' });
      await browser.page.getByRole('button', { name: 'I agree' }).click();
      await browser.page.waitForSelector('.facegate[data-status="challenge"]', { timeout: 30_000 });
      await browser.page.screenshot({ path: artifact('react-enroll-challenge.png') });
      const enrolled = await waitForEvent(browser, 'enrolled');
      assert.match(enrolled.userId, /^user_/);
      enrolledUser = enrolled.userId;
      await browser.page.waitForSelector('.facegate[data-status="done"]');
      await browser.page.screenshot({ path: artifact('react-enroll-done.png') });
      // Strict mode mounted the component twice; the camera was asked for once, and is off.
      assert.equal(await browser.page.evaluate(() => window.__facegate.getUserMedia), 1);
      assert.deepEqual(await browser.page.evaluate(() => window.__tracks()), ['ended']);
    });
  });

  test('authenticate with provider="supabase": onVerified with the user, onSession, the host\'s guarded route', TIMEOUT, async () => {
    assert.ok(enrolledUser, 'the enrollment failed');
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await open(browser, { mode: 'authenticate', provider: 'supabase' });
      await browser.page.getByRole('button', { name: 'Log in with my face' }).click();
      const verified = await waitForEvent(browser, 'verified');
      assert.equal(verified.userId, enrolledUser);
      assert.equal(typeof verified.token, 'string');
      // The Supabase session: an access token for Supabase (RLS, PostgREST) naming the user.
      const session = await waitForEvent(browser, 'session');
      assert.equal(session.userId, enrolledUser);
      assert.equal(typeof session.provider?.access_token, 'string', JSON.stringify(session));
      const claims = JSON.parse(Buffer.from(session.token.split('.')[1], 'base64url').toString());
      assert.equal(claims.role, 'authenticated');
      assert.equal(claims.user_metadata.facegate_user_id, enrolledUser);
      // The host's own route, behind the FaceGate guard, with FaceGate's token.
      const profile = await browser.page.evaluate(async (token) => {
        const response = await fetch('/api/profile', { headers: { authorization: `Bearer ${token}` } });
        return { status: response.status, body: await response.json() };
      }, verified.token);
      assert.equal(profile.status, 200, JSON.stringify(profile));
      assert.equal(profile.body.user_id, enrolledUser);
      await browser.page.waitForSelector('.facegate[data-status="done"]');
      await browser.page.screenshot({ path: artifact('react-authenticate-done.png') });
    });
  });

  test('camera refused → onError with camera_permission_denied', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama', cameraPermission: 'denied', origin: server.baseUrl }, async (browser) => {
      await open(browser, { mode: 'authenticate' });
      await browser.page.getByRole('button', { name: 'Log in with my face' }).click();
      const handle = await browser.page.waitForFunction(() => window.__facegate.events.find((e) => e.type === 'error'), null, { timeout: 30_000 });
      const error = await handle.jsonValue();
      assert.equal(error.code, 'PERMISSION_REFUSED', JSON.stringify(error));
      assert.equal(error.cameraCode, 'camera_permission_denied');
      assert.equal(error.name, 'WidgetError');
      await browser.page.waitForSelector('.facegate[data-status="error"]');
      const alert = await browser.page.getByRole('alert').textContent();
      assert.match(alert, /Allow camera access/);
      await browser.page.screenshot({ path: artifact('react-camera-refused.png') });
    });
  });

  test('unmount mid-challenge releases the camera (every track ended), with no error reported', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await open(browser, { mode: 'authenticate', slow: '', autostart: '' });
      await browser.page.waitForSelector('.facegate[data-status="challenge"]', { timeout: 30_000 });
      await browser.page.waitForFunction(() => window.__tracks().includes('live'));
      await browser.page.screenshot({ path: artifact('react-mid-challenge.png') });
      assert.equal(await browser.page.evaluate(() => window.__facegate.getUserMedia), 1, 'autoStart under StrictMode opened the camera once');
      await browser.page.click('#toggle');
      await browser.page.waitForFunction(() => window.__tracks().every((state) => state === 'ended'), null, { timeout: 5_000 });
      assert.deepEqual(await browser.page.evaluate(() => window.__tracks()), ['ended']);
      assert.deepEqual(await events(browser.page), []);
    });
  });
});
