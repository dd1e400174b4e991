// The /demo page in real Chromium with a fake camera (a video made from a
// photo), against the axum example: enroll, log in again, a stranger, and a
// refused camera. Run with scripts/browser-tests.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';

import { artifact, config, demoPreflight, explain, openDemo, runDemo, startServer, withBrowser } from './support.mjs';

const EMAIL = 'barack@example.com';
const TIMEOUT = { timeout: 180_000 };

describe('the /demo page in Chromium', { concurrency: false }, () => {
  let server;
  let enrolled;
  const numbers = {};
  const record = (label, outcome) => {
    numbers[label] = { result: outcome.body.code ?? outcome.status, states: outcome.states, server: outcome.server };
  };

  before(async () => {
    server = await startServer();
    await demoPreflight(server.baseUrl);
  });

  after(async () => {
    await server?.stop();
    writeFileSync(artifact('demo-numbers.json'), `${JSON.stringify(numbers, null, 2)}\n`);
    console.log(`server answers: ${JSON.stringify(numbers)}`);
    console.log(`screenshots and logs: ${config.artifactsDir}`);
  });

  test('enroll: Obama, with an email payload, gets a facialId', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, { operation: 'enroll', payload: EMAIL, shots: '1-enroll' });
      record('enroll', outcome);
      const why = explain('enroll', outcome, browser, server);
      assert.equal(outcome.status, 'ok', why);
      assert.equal(typeof outcome.body.facialId, 'string', why);
      assert.ok(outcome.body.facialId.length > 0, why);
      assert.ok(outcome.screenshots.widget, `no screenshot of the widget with its camera preview playing\n${why}`);
      enrolled = outcome.body;
    });
  });

  test('authenticate: Obama again, in another browser, is approved with his payload', TIMEOUT, async () => {
    assert.ok(enrolled, 'the enrollment test failed, nobody to authenticate');
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, { operation: 'authenticate', shots: '2-authenticate' });
      record('authenticate', outcome);
      const why = explain('authenticate', outcome, browser, server);
      assert.equal(outcome.status, 'ok', why);
      assert.equal(outcome.body.facialId, enrolled.facialId, why);
      assert.deepEqual(outcome.body.payload, { email: EMAIL }, why);
    });
  });

  test('authenticate: Biden, never enrolled, is UNRECOGNIZED_FACE', TIMEOUT, async () => {
    await withBrowser({ camera: 'biden' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, { operation: 'authenticate', shots: '3-stranger' });
      record('stranger', outcome);
      const why = explain('a stranger authenticates', outcome, browser, server);
      assert.equal(outcome.status, 'error', why);
      assert.equal(outcome.body.code, 'UNRECOGNIZED_FACE', why);
    });
  });

  test('camera refused: PERMISSION_REFUSED with cameraCode camera_permission_denied', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama', cameraPermission: 'denied', origin: server.baseUrl }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, { operation: 'authenticate', shots: '4-camera-refused' });
      record('camera-refused', outcome);
      const why = explain('camera refused', outcome, browser, server);
      assert.equal(outcome.status, 'error', why);
      assert.equal(outcome.body.code, 'PERMISSION_REFUSED', why);
      assert.equal(outcome.body.cameraCode, 'camera_permission_denied', why);
    });
  });
});
