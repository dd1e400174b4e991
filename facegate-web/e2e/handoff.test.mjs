// Cross-device handoff in real Chromium, against the axum example: a
// desktop browser without a camera and a phone browser with a fake camera.
// The QR code is read off the desktop's screenshot with zbarimg (Debian's
// zbar-tools), the phone opens what it says, and the desktop hears the
// outcome over the handoff's WebSocket: an enrollment offered because the
// desktop has no camera, a sign-in, and a sign-in declined on the phone.

import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

import { artifact, launchBrowser, startApiServer } from './support.mjs';

const API_KEY = 'fg_test_e2ehandoff0000000000';
const PAGE = '<head><title>Desk</title></head><body><h1 id="state">Signed out</h1></body>';

/** In the desktop page: the widget's operation, kept on `window.outcome`. */
function startDesktop({ apiKey, operation, params }) {
  window.socketMessages = [];
  return import('/v1/sdk/facegate.js').then(async ({ FaceGateClient }) => {
    const { FaceGateWidget } = await import('/v1/sdk/facegate-widget.js');
    const widget = new FaceGateWidget(new FaceGateClient({ apiKey }));
    window.outcome = widget[operation](params).then(
      async (result) => {
        if (result.verificationToken) {
          const profile = await fetch('/api/profile', { headers: { authorization: `Bearer ${result.verificationToken}` } });
          const body = await profile.json();
          document.getElementById('state').textContent = `Signed in as ${body.name}`;
          return { result, profile: profile.status, name: body.name };
        }
        document.getElementById('state').textContent = `Enrolled ${result.facialId}`;
        return { result };
      },
      (error) => ({ error: { code: error.code, serverCode: error.serverCode, message: error.message } }),
    );
  });
}

/** The QR code on the desktop's screen, read by zbarimg from a screenshot. */
async function readQrCode(desktop, name) {
  // The widget this test opened (an earlier one may still be closing).
  const widget = desktop.page.locator('facegate-widget').last();
  await widget.locator('img.qr').waitFor({ timeout: 30_000 });
  const matchCode = await widget.locator('[data-field="match-code"]').textContent();
  // The dialog fades in: a screenshot of the settled screen.
  await desktop.page.waitForTimeout(600);
  const shot = artifact(`${name}-desktop-qr.png`);
  await desktop.page.screenshot({ path: shot });
  const url = execFileSync('zbarimg', ['--raw', '-q', shot], { encoding: 'utf8' }).trim();
  return { url, matchCode, shot };
}

/** The phone opens the URL and is shown who asked; returns the phone's page. */
async function openOnPhone(phone, { url, matchCode }, name) {
  await phone.page.goto(url);
  await phone.page.locator('[data-action="continue"]').waitFor({ timeout: 30_000 });
  assert.equal(await phone.page.locator('[data-field="match-code"]').textContent(), matchCode);
  // Decline is where the focus is: Enter declines.
  assert.equal(await phone.page.evaluate(() => document.activeElement?.dataset.action), 'decline');
  await phone.page.screenshot({ path: artifact(`${name}-phone-confirm.png`) });
}

describe('cross-device handoff', { concurrency: false }, () => {
  let server;
  let desktop;
  let phone;
  const explain = (what) =>
    [what, 'desktop:', ...(desktop?.messages ?? []), 'phone:', ...(phone?.messages ?? []), `server log: ${server.logPath}`, server.logTail(25)].join('\n');

  before(async () => {
    ({ server } = await startApiServer({ logName: 'server-handoff.log', apiKey: API_KEY }));
    // A fake camera cannot do an active step-up: this test is about the handoff.
    const policy = await fetch(`${server.baseUrl}/v1/policy/risk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ block_threshold: 0.95, step_up_threshold: 0.9, max_failed_attempts: 5, lockout_duration_minutes: 30, mode: 'enforce' }),
    });
    assert.equal(policy.status, 200);
    desktop = await launchBrowser({ camera: null });
    desktop.frames = [];
    desktop.page.on('websocket', (socket) => {
      socket.on('framereceived', (frame) => desktop.frames.push(String(frame.payload)));
    });
    // A page the server itself served (a route-fulfilled one has no address,
    // and Chromium's local-network checks would refuse its socket to 127.0.0.1).
    await desktop.page.goto(`${server.baseUrl}/v1/health`);
    await desktop.page.evaluate((html) => {
      document.documentElement.innerHTML = html;
    }, PAGE);
  });

  // A fresh phone for each ceremony: a fake camera replays its video from
  // the start, and the server refuses frames it has seen (a replay).
  beforeEach(async () => {
    phone = await launchBrowser({ camera: 'obama', phone: true });
  });

  afterEach(async () => {
    await phone?.close();
  });

  after(async () => {
    await desktop?.close();
    await server?.stop();
  });

  test('a desktop without a camera is offered the phone, and enrolls from it', async () => {
    await desktop.page.evaluate(startDesktop, { apiKey: API_KEY, operation: 'enroll', params: { name: 'Barack', role: 'user' } });
    // The terms come first, as ever (the phone asks again: its user is the one enrolled).
    await desktop.page.locator('facegate-widget [data-action="accept"]').click();
    const offer = desktop.page.locator('facegate-widget [data-action="handoff"]');
    await offer.waitFor({ timeout: 30_000 }).catch(async (error) => {
      await desktop.page.screenshot({ path: artifact('enroll-desktop-no-offer.png') });
      const outcome = await desktop.page.evaluate(() => Promise.race([window.outcome, new Promise((r) => setTimeout(() => r('pending'), 100))]));
      throw new Error(explain(`no offer (${error.message}); outcome: ${JSON.stringify(outcome)}`));
    });
    await offer.click();
    const qr = await readQrCode(desktop, 'enroll');
    assert.match(qr.url, /\/v1\/handoff\/fgh_[A-Za-z0-9_-]{43}\/verify$/, explain(`QR: ${qr.url}`));
    await openOnPhone(phone, qr, 'enroll');
    await phone.page.locator('[data-action="continue"]').click();
    await phone.page.locator('[data-action="accept"]').click();
    await phone.page.locator('h1[data-outcome="ok"]').waitFor({ timeout: 90_000 }).catch(async (error) => {
      await phone.page.screenshot({ path: artifact('enroll-phone-failed.png') });
      throw new Error(explain(`the phone did not finish: ${error.message}`));
    });
    const outcome = await desktop.page.evaluate(() => window.outcome);
    assert.ok(outcome.result?.facialId?.startsWith('user_'), explain(JSON.stringify(outcome)));
  });

  test('a sign-in finished on the phone signs the desktop in over the socket', async () => {
    desktop.frames.length = 0;
    await desktop.page.evaluate(startDesktop, { apiKey: API_KEY, operation: 'authenticate', params: { handoff: true } });
    const qr = await readQrCode(desktop, 'signin');
    await openOnPhone(phone, qr, 'signin');
    await phone.page.locator('[data-action="continue"]').click();
    await phone.page.locator('h1[data-outcome="ok"]').waitFor({ timeout: 90_000 }).catch(async (error) => {
      await phone.page.screenshot({ path: artifact('signin-phone-failed.png') });
      throw new Error(explain(`the phone did not finish: ${error.message}`));
    });
    await phone.page.screenshot({ path: artifact('signin-phone-done.png') });
    const outcome = await desktop.page.evaluate(() => window.outcome);
    assert.equal(outcome.profile, 200, explain(JSON.stringify(outcome)));
    assert.equal(outcome.name, 'Barack');
    // The phone never saw a token; the desktop got it pushed over the socket.
    const pushed = desktop.frames.map((f) => JSON.parse(f));
    assert.deepEqual(pushed.map((m) => m.status), ['pending', 'scanned', 'completed'], explain(JSON.stringify(pushed)));
    assert.equal(pushed[2].session_data.verification_token, outcome.result.verificationToken);
    assert.equal(await desktop.page.locator('#state').textContent(), 'Signed in as Barack');
    await desktop.page.screenshot({ path: artifact('signin-desktop-done.png') });
  });

  test('a sign-in declined on the phone ends on the desktop', async () => {
    await desktop.page.evaluate(startDesktop, { apiKey: API_KEY, operation: 'authenticate', params: { handoff: true } });
    const qr = await readQrCode(desktop, 'decline');
    await openOnPhone(phone, qr, 'decline');
    await phone.page.keyboard.press('Enter');
    await phone.page.locator('h1[data-outcome="bad"]').waitFor({ timeout: 30_000 });
    const outcome = await desktop.page.evaluate(() => window.outcome);
    assert.deepEqual([outcome.error?.code, outcome.error?.serverCode], ['CANCELED', 'HANDOFF_DECLINED'], explain(JSON.stringify(outcome)));
  });
});
