import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { FaceGateClient, cameraErrorFrom } from '../facegate.js';
import { FaceGateWidget } from '../facegate-widget.js';
import { API_KEY, memoryStorage, reply, scriptedFetch } from '../test-support/fakes.mjs';
import { demoRoutes, fakeCamera, fakeView, routedFetch } from '../test-support/widget-fakes.mjs';

const BASE = 'http://facegate.test';
/** A page's (client) key: the only kind a beacon's body carries. */
const CLIENT_KEY = 'fg_test_pub_e2e0000000000000000000';
const FINGERPRINT = 'ab'.repeat(32);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A client whose beacons are recorded (url, parsed body, content type). */
function beaconClient({ config = {}, answers = [reply(200, { matched: false, device_id: 'dev-1' })], beaconResult = true, storage = memoryStorage() } = {}) {
  const beacons = [];
  const sendBeacon = (url, blob) => {
    beacons.push({ url, blob });
    return beaconResult;
  };
  const { fetch, calls } = scriptedFetch(...answers);
  const client = new FaceGateClient(
    { apiKey: CLIENT_KEY, baseUrl: BASE, deviceFingerprint: FINGERPRINT, ...config },
    { fetch, storage, sendBeacon, random: () => 0.5, sleep: async () => {} },
  );
  const read = async (i) => ({ url: beacons[i].url, type: beacons[i].blob.type, body: JSON.parse(await beacons[i].blob.text()) });
  return { client, beacons, read, calls };
}

describe('signals', () => {
  test('are batched and sent by beacon, the client key in a text/plain body', async () => {
    const { client, beacons, read } = beaconClient();
    client.signal('camera_error', { code: 'camera_in_use' });
    client.signal('retry', { attempt_number: 2 });
    client.signal('bad type!', {});
    assert.equal(beacons.length, 0, 'waits for company');
    const sent = await client.flushSignals();
    assert.equal(sent.length, 2, 'a malformed type is dropped');
    assert.equal(beacons.length, 1);
    const { url, type, body } = await read(0);
    assert.equal(url, `${BASE}/v1/signals`);
    assert.equal(type, 'text/plain;charset=utf-8');
    assert.equal(body.api_key, CLIENT_KEY);
    assert.equal(body.device_fingerprint, FINGERPRINT);
    assert.deepEqual(body.signals.map((s) => s.type), ['camera_error', 'retry']);
    for (const signal of body.signals) {
      assert.match(signal.signal_id, UUID);
      assert.equal(signal.source, 'sdk-js');
      assert.equal(typeof signal.timestamp, 'number');
    }
    assert.deepEqual(body.signals[0].data, { code: 'camera_in_use' });
    assert.equal(await client.flushSignals(), null, 'nothing left');
  });

  test('go at once when twenty are waiting', async () => {
    const { client, beacons } = beaconClient();
    for (let i = 0; i < 20; i++) client.signal('attempt', { i });
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(beacons.length, 1);
  });

  test('report each verify: the first an attempt, the next retries until a match, follow-ups not at all', async () => {
    const { client, read } = beaconClient({
      answers: [
        reply(200, { matched: false, device_id: 'dev-1' }),
        reply(403, { error: 'no', code: 'LIVENESS_FAILED' }),
        reply(401, { error: 'pin', code: 'PIN_REQUIRED' }),
        reply(200, { matched: true, verification_token: 't', device_id: 'dev-1' }),
        reply(200, { matched: true, verification_token: 't2', device_id: 'dev-1' }),
      ],
    });
    await client.verify({ livenessSessionId: 's1' });
    await assert.rejects(client.verify({ livenessSessionId: 's2' }));
    await assert.rejects(client.verify({ livenessSessionId: 's3' }));
    await client.verify({ livenessSessionId: 's3', pin: '1234' });
    // The next login starts afresh.
    await client.verify({ livenessSessionId: 's4' });
    await client.flushSignals();
    const { body } = await read(0);
    assert.deepEqual(
      body.signals.map((s) => [s.type, s.data.attempt_number, s.data.outcome]),
      [['attempt', 1, 'no_match'], ['retry', 2, 'LIVENESS_FAILED'], ['retry', 3, 'PIN_REQUIRED'], ['attempt', 1, 'matched']],
    );
  });

  test('fall back to a keepalive fetch with the key in its header when the beacon is refused', async () => {
    const { client, calls } = beaconClient({ beaconResult: false, answers: [reply(202, { accepted: 1, duplicates: 0 })] });
    client.signal('attempt');
    assert.ok(await client.flushSignals());
    assert.equal(calls.length, 1);
    assert.equal(calls[0].url, `${BASE}/v1/signals`);
    assert.equal(calls[0].headers.authorization, `Bearer ${CLIENT_KEY}`);
    assert.equal(calls[0].body.api_key, undefined, 'the key stays in the header');
    assert.equal(calls[0].body.signals[0].type, 'attempt');
  });

  test('never put a server key in a beacon', async () => {
    const { client, beacons, calls } = beaconClient({ config: { apiKey: API_KEY }, answers: [reply(202, {})] });
    client.signal('attempt');
    assert.ok(await client.flushSignals());
    assert.equal(beacons.length, 0);
    assert.equal(calls[0].headers.authorization, `Bearer ${API_KEY}`);
  });

  test('go synchronously once the device is named, as a page being left waits for nothing', async () => {
    const { client, beacons } = beaconClient();
    client.signal('attempt');
    await client.flushSignals();
    client.signal('retry');
    client.flushSignals();
    assert.equal(beacons.length, 2, 'sent before flushSignals returned');
  });

  test('shrink data over 1 KB rather than have the server refuse the batch', async () => {
    const { client, read } = beaconClient();
    client.signal('attempt', { blob: 'x'.repeat(2000) });
    await client.flushSignals();
    assert.deepEqual((await read(0)).body.signals[0].data, { truncated: true });
  });

  test('name an unconfigured device by a stable hash, never by its raw id', async () => {
    const storage = memoryStorage({ 'facegate.device_id': 'dev-raw-id' });
    const { client, read } = beaconClient({ config: { deviceFingerprint: null }, storage });
    client.signal('attempt');
    await client.flushSignals();
    client.signal('retry');
    await client.flushSignals();
    const first = (await read(0)).body.device_fingerprint;
    assert.match(first, /^[0-9a-f]{64}$/);
    assert.equal((await read(1)).body.device_fingerprint, first);
    assert.ok(!first.includes('dev-raw-id'));
  });

  test('are off with signals: false, and in demo mode', async () => {
    const off = beaconClient({ config: { signals: false } });
    off.client.signal('attempt');
    assert.equal(await off.client.flushSignals(), null);
    assert.equal(off.client.config.signals, false);
    const demo = new FaceGateClient({ demo: true, baseUrl: BASE }, { sendBeacon: () => assert.fail('no beacon in demo mode') });
    demo.signal('attempt');
    assert.equal(await demo.flushSignals(), null);
  });

  test('the widget reports a camera that would not open', async () => {
    const http = routedFetch(demoRoutes());
    const client = new FaceGateClient({ demo: true, baseUrl: BASE }, { fetch: http.fetch, storage: memoryStorage() });
    const seen = [];
    client.signal = (type, data) => seen.push({ type, data });
    const camera = fakeCamera({ open: async () => { throw cameraErrorFrom({ name: 'NotAllowedError' }); } });
    const view = fakeView();
    const widget = new FaceGateWidget(client, {
      createView: (init) => view.create(init),
      createCamera: () => camera,
      window: null,
      navigator: { languages: ['en-US'] },
      sleep: async () => {},
      pace: { introMs: 0, stepMs: 0, frameIntervalMs: 25 },
    });
    await assert.rejects(widget.authenticate());
    assert.deepEqual(seen, [{ type: 'camera_error', data: { code: 'camera_permission_denied' } }]);
  });
});
