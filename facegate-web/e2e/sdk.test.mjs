// The harness itself, without the widget: the fake cameras through the SDK
// (/v1/sdk/facegate.js: Camera, runLiveness, enroll, verify) against the /v1
// API of the axum example, its tenant switched to passive liveness with
// facegate-admin. Shows whether a failure of the demo tests lies in the
// browser set-up (camera, liveness of the video, matching) or in the widget.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

import { artifact, mintClientKey, startApiServer, withBrowser } from './support.mjs';

const API_KEY = 'fg_test_e2e00000000000000000';
const TIMEOUT = { timeout: 120_000 };

/** The page: a <video> and the SDK, served from the server's own origin. */
const PAGE = '<!doctype html><title>SDK probe</title><video id="preview" muted playsinline style="width:320px"></video>';

/** In the page: open the camera, run the liveness burst, then enroll or verify. */
async function ceremony({ apiKey, operation }) {
  const { FaceGateClient, Camera, runLiveness } = await import('/v1/sdk/facegate.js');
  const client = new FaceGateClient({ apiKey });
  const camera = new Camera();
  try {
    await camera.open();
    camera.attachToVideo(document.getElementById('preview'));
    const liveness = await runLiveness(client, camera);
    if (!liveness.isLive) return { liveness };
    if (operation === 'enroll') {
      const { versions } = await client.consentVersions();
      const consent = await client.recordConsent({
        consentVersion: versions[0].consent_version,
        consentTextHash: versions[0].consent_text_hash,
      });
      const enrolled = await client.enroll({
        livenessSessionId: liveness.sessionId,
        consentId: consent.consent_id,
        name: 'E2E user',
      });
      return { liveness, userId: enrolled.user_id };
    }
    const verified = await client.verify({ livenessSessionId: liveness.sessionId });
    return { liveness, matched: verified.matched, confidence: verified.confidence, userId: verified.user?.id ?? null };
  } catch (error) {
    return { error: { name: error.name, code: error.code, message: error.message } };
  } finally {
    camera.close();
  }
}

describe('fake cameras through the SDK (/v1, passive liveness)', { concurrency: false }, () => {
  let server;
  let tenant;
  let enrolledUser;
  const numbers = {};

  before(async () => {
    ({ server, tenant } = await startApiServer({ logName: 'server-sdk.log', apiKey: API_KEY }));
  });

  after(async () => {
    await server?.stop();
    writeFileSync(artifact('sdk-numbers.json'), `${JSON.stringify(numbers, null, 2)}\n`);
    console.log(`fake camera numbers: ${JSON.stringify(numbers)}`);
  });

  const run = (camera, operation, label) =>
    withBrowser({ camera }, async ({ page, messages }) => {
      await page.route(`${server.baseUrl}/__e2e/sdk`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
      await page.goto(`${server.baseUrl}/__e2e/sdk`);
      const outcome = await page.evaluate(ceremony, { apiKey: API_KEY, operation });
      numbers[label] = outcome;
      return { outcome, why: `${label}: ${JSON.stringify(outcome)}\n${messages.join('\n')}` };
    });

  test('Obama is live and enrolls', TIMEOUT, async () => {
    const { outcome, why } = await run('obama', 'enroll', 'obama-enroll');
    assert.equal(outcome.liveness?.isLive, true, why);
    assert.ok(outcome.userId, why);
    enrolledUser = outcome.userId;
  });

  test('Obama, in another browser, is live and matches', TIMEOUT, async () => {
    assert.ok(enrolledUser, 'the enrollment failed');
    const { outcome, why } = await run('obama', 'verify', 'obama-verify');
    assert.equal(outcome.liveness?.isLive, true, why);
    assert.equal(outcome.matched, true, why);
    assert.equal(outcome.userId, enrolledUser, why);
  });

  test('the SDK\'s signals reach the server by beacon, with a page\'s client key', TIMEOUT, async () => {
    const clientKey = mintClientKey(server, tenant, server.baseUrl);
    await withBrowser({ camera: null }, async ({ page }) => {
      await page.route(`${server.baseUrl}/__e2e/sdk`, (route) => route.fulfill({ contentType: 'text/html', body: PAGE }));
      await page.goto(`${server.baseUrl}/__e2e/sdk`);
      const beacon = page.waitForResponse((response) => response.url().endsWith('/v1/signals'));
      const sent = await page.evaluate(async (apiKey) => {
        const { FaceGateClient } = await import('/v1/sdk/facegate.js');
        const client = new FaceGateClient({ apiKey, deviceFingerprint: 'cd'.repeat(32) });
        client.signal('camera_error', { code: 'camera_in_use' });
        client.signal('retry', { attempt_number: 2 });
        client.signal('attempt', { attempt_number: 1 });
        return client.flushSignals();
      }, clientKey);
      assert.equal(sent?.length, 3, JSON.stringify(sent));
      const answer = await beacon;
      assert.equal(answer.request().headers()['content-type'].toLowerCase(), 'text/plain;charset=utf-8');
      assert.equal(answer.status(), 202);
      assert.deepEqual(await answer.json(), { accepted: 3, duplicates: 0 });
      // Sent again (a fetch with the key in its header): stored once.
      const resent = await page.evaluate(async ({ apiKey, signals }) => {
        const response = await fetch('/v1/signals', {
          method: 'POST',
          headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ device_fingerprint: 'cd'.repeat(32), signals }),
        });
        return { status: response.status, body: await response.json() };
      }, { apiKey: clientKey, signals: sent });
      assert.deepEqual(resent, { status: 202, body: { accepted: 0, duplicates: 3 } });
    });
  });

  test('Biden is live and matches nobody', TIMEOUT, async () => {
    const { outcome, why } = await run('biden', 'verify', 'biden-verify');
    assert.equal(outcome.liveness?.isLive, true, why);
    assert.equal(outcome.matched, false, why);
  });
});
