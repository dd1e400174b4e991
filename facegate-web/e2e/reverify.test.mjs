// Continuous re-verification in real Chromium with a fake camera, against
// the axum example: the tenant sets a one-minute re-verification interval;
// the widget signs Obama in, the host's guarded route answers, and after
// the interval it answers RFC 9470's challenge until the widget re-verifies
// the same session (authenticate({ reverify: true, sessionId })).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { artifact, startApiServer, withBrowser } from './support.mjs';

const API_KEY = 'fg_test_e2ereverify000000000';
const INTERVAL_MINUTES = 1;

const PAGE = '<!doctype html><title>Re-verify</title><video id="preview" muted playsinline style="width:320px"></video>';

/** In the page: enroll Obama with the SDK, then sign him in with the widget. */
async function signIn({ apiKey }) {
  const { FaceGateClient, Camera, runLiveness } = await import('/v1/sdk/facegate.js');
  const { FaceGateWidget } = await import('/v1/sdk/facegate-widget.js');
  const client = new FaceGateClient({ apiKey });
  const camera = new Camera();
  try {
    await camera.open();
    camera.attachToVideo(document.getElementById('preview'));
    const liveness = await runLiveness(client, camera);
    if (!liveness.isLive) return { error: { code: 'NOT_LIVE' } };
    const { versions } = await client.consentVersions();
    const consent = await client.recordConsent({ consentVersion: versions[0].consent_version, consentTextHash: versions[0].consent_text_hash });
    await client.enroll({ livenessSessionId: liveness.sessionId, consentId: consent.consent_id, name: 'Barack' });
  } catch (error) {
    return { error: { code: error.code, message: error.message } };
  } finally {
    camera.close();
  }
  window.facegateWidget = new FaceGateWidget(client);
  window.facegateClient = client;
  try {
    const login = await window.facegateWidget.authenticate();
    const profile = await fetch('/api/profile', { headers: { authorization: `Bearer ${login.verificationToken}` } });
    // The device id the SDK keeps (x-device-id): the session is bound to it.
    return { login, profile: profile.status, deviceId: localStorage.getItem('facegate.device_id') };
  } catch (error) {
    return { error: { code: error.code, serverCode: error.serverCode, message: error.message } };
  }
}

/** In the page: the guarded route with a token, and the challenge if it refuses. */
async function profileWith(token) {
  const { reverifyChallenge } = await import('/v1/sdk/facegate.js');
  const response = await fetch('/api/profile', { headers: { authorization: `Bearer ${token}` } });
  const body = await response.json();
  return { status: response.status, code: body.code ?? null, challenge: reverifyChallenge(response), header: response.headers.get('www-authenticate') };
}

/** In the page (the same device, a later visit): the widget re-verifies the session. */
async function reverify({ apiKey, sessionId, refreshToken, deviceId }) {
  localStorage.setItem('facegate.device_id', deviceId);
  const { FaceGateClient } = await import('/v1/sdk/facegate.js');
  const { FaceGateWidget } = await import('/v1/sdk/facegate-widget.js');
  const widget = new FaceGateWidget(new FaceGateClient({ apiKey }));
  try {
    const renewed = await widget.authenticate({ reverify: true, sessionId, refreshToken });
    return { renewed };
  } catch (error) {
    return { error: { code: error.code, serverCode: error.serverCode, message: error.message } };
  }
}

describe('continuous re-verification in the widget', { concurrency: false }, () => {
  let server;

  before(async () => {
    ({ server } = await startApiServer({ logName: 'server-reverify.log', apiKey: API_KEY }));
    const policy = await fetch(`${server.baseUrl}/v1/policy/continuous`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ re_verify_interval_minutes: INTERVAL_MINUTES, confidence_decay_rate: 0, min_confidence: 0 }),
    });
    assert.equal(policy.status, 200, await policy.text());
  });

  after(async () => {
    await server?.stop();
  });

  test('after the interval the guard asks for re-verification; the widget renews the same session', { timeout: 300_000 }, async () => {
    const openPage = async ({ page }) => {
      await page.route(`${server.baseUrl}/__e2e/reverify`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
      await page.goto(`${server.baseUrl}/__e2e/reverify`);
    };
    const why = (what, messages) => `${JSON.stringify(what)}\n${messages.join('\n')}\n${server.logTail(30)}`;
    // The sign-in, in one visit.
    const first = await withBrowser({ camera: 'obama' }, async (browser) => {
      await openPage(browser);
      const outcome = await browser.page.evaluate(signIn, { apiKey: API_KEY });
      assert.ok(outcome.login?.verificationToken, why(outcome, browser.messages));
      assert.equal(outcome.profile, 200, why(outcome, browser.messages));
      assert.ok(outcome.login.sessionId && outcome.deviceId, why(outcome, browser.messages));
      return outcome;
    });

    // A later visit from the same device (its device id kept), past the interval.
    await sleep(INTERVAL_MINUTES * 60_000 + 2_000);
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openPage(browser);
      const refused = await browser.page.evaluate(profileWith, first.login.verificationToken);
      assert.equal(refused.status, 401, why(refused, browser.messages));
      assert.equal(refused.code, 'REVERIFY_REQUIRED', why(refused, browser.messages));
      assert.deepEqual(refused.challenge, { maxAge: INTERVAL_MINUTES * 60 }, why(refused, browser.messages));

      const running = browser.page.evaluate(reverify, {
        apiKey: API_KEY,
        sessionId: first.login.sessionId,
        refreshToken: first.login.refreshToken,
        deviceId: first.deviceId,
      });
      // The widget's outcome screen, while it shows.
      const shown = await browser.page
        .waitForFunction(
          () => {
            // The widget draws in a shadow root.
            const host = [...document.querySelectorAll('*')].find((element) => element.shadowRoot);
            const dialog = host?.shadowRoot.querySelector('[data-state]');
            return dialog?.getAttribute('data-state') === 'success';
          },
          null,
          { timeout: 60_000, polling: 50 },
        )
        .then(() => true, () => false);
      if (shown) await browser.page.screenshot({ path: artifact('reverify-done.png') });
      const again = await running;
      assert.equal(again.renewed?.sessionId, first.login.sessionId, why(again, browser.messages));
      assert.notEqual(again.renewed.verificationToken, first.login.verificationToken);
      assert.ok(shown, `the widget never showed its success screen\n${why(again, browser.messages)}`);
      const allowed = await browser.page.evaluate(profileWith, again.renewed.verificationToken);
      assert.equal(allowed.status, 200, why(allowed, browser.messages));
    });
  });
});
