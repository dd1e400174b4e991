// Cross-device handoff in the SDK (the phone's client, the desktop's
// create / status / watch) and in the widget (QR screen, camera-less offer).

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { CameraUnavailable, FaceGateClient, HandoffExpired } from '../facegate.js';
import { FaceGateWidget, WidgetError } from '../facegate-widget.js';
import { API_KEY, memoryStorage, reply } from '../test-support/fakes.mjs';
import { fakeCamera, fakeView, livenessSession, routedFetch } from '../test-support/widget-fakes.mjs';

const BASE = 'http://facegate.test';
const TOKEN = 'fgh_tok';
const STARTED = {
  handoff_token: TOKEN,
  verify_url: `${BASE}/v1/handoff/${TOKEN}/verify`,
  ws_url: `ws://facegate.test/v1/handoff/${TOKEN}/ws`,
  expires_at: '2030-01-01T00:10:00.000Z',
  desktop_secret: 'fgd_secret',
  match_code: 'K7WQ3M',
  mode: 'verify',
  qr_svg: '<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
};
const LOGIN = {
  matched: true, confidence: 98, verification_token: 'vt-1', refresh_token: 'rt-1', session_id: 'sess-1',
  device_id: 'desk', user: { id: 'user-1', name: 'Ada', role: 'user', metadata: {} }, payload: null, collected: false,
};
const tick = () => new Promise((resolve) => setImmediate(resolve));

function client(routes, config = { apiKey: API_KEY }) {
  const http = routedFetch(routes);
  const made = new FaceGateClient({ baseUrl: BASE, ...config }, { fetch: http.fetch, sleep: tick, storage: memoryStorage(), random: () => 0.5 });
  return { http, client: made };
}

/** A WebSocket double: records what is sent, lets the test push messages and close. */
function fakeSockets() {
  const sockets = [];
  class Socket {
    constructor(url) {
      this.url = url;
      this.sent = [];
      this.closed = false;
      sockets.push(this);
    }
    send(data) { this.sent.push(JSON.parse(data)); }
    close() { this.closed = true; }
    open() { this.onopen?.(); }
    push(message) { this.onmessage?.({ data: JSON.stringify(message) }); }
    fail() { this.onerror?.({}); }
    end(code) { this.onclose?.({ code }); }
  }
  return { Socket, sockets };
}

describe('the phone\'s client', () => {
  test('calls the handoff\'s routes, without an API key', async () => {
    const { http, client: phone } = client({
      [`POST /v1/handoff/${TOKEN}/scan`]: reply(200, { mode: 'verify', match_code: 'K7WQ3M' }),
      [`POST /v1/handoff/${TOKEN}/liveness`]: reply(200, livenessSession()),
      [`POST /v1/handoff/${TOKEN}/liveness/live-1/frames`]: reply(200, { is_live: true }),
      [`POST /v1/handoff/${TOKEN}/complete`]: reply(200, { status: 'completed', matched: true }),
      [`POST /v1/handoff/${TOKEN}/consent`]: reply(201, { consent_id: 'c-1' }),
      [`POST /v1/handoff/${TOKEN}/decline`]: reply(200, { status: 'declined', matched: false }),
    }, { handoff: TOKEN });
    assert.equal((await phone.scanHandoff()).match_code, 'K7WQ3M');
    await phone.createLivenessSession();
    await phone.uploadFrames('live-1', { nonce: 'n', frames: [] });
    await phone.recordConsent({ consentVersion: 'v1', consentTextHash: 'h' });
    assert.equal((await phone.verify({ livenessSessionId: 'live-1' })).status, 'completed');
    await phone.enroll({ livenessSessionId: 'live-1', consentId: 'c-1', name: 'Ada' });
    await phone.declineHandoff();
    assert.deepEqual(http.calls.map((c) => c.route), [
      `POST /v1/handoff/${TOKEN}/scan`,
      `POST /v1/handoff/${TOKEN}/liveness`,
      `POST /v1/handoff/${TOKEN}/liveness/live-1/frames`,
      `POST /v1/handoff/${TOKEN}/consent`,
      `POST /v1/handoff/${TOKEN}/complete`,
      `POST /v1/handoff/${TOKEN}/complete`,
      `POST /v1/handoff/${TOKEN}/decline`,
    ]);
    assert.ok(http.calls.every((c) => !('authorization' in c.headers)));
    await assert.rejects(phone.createHandoff(), (error) => error.code === 'NOT_AVAILABLE_IN_DEMO');
  });
});

describe('the desktop\'s client', () => {
  test('creates a handoff and reads its status with the secret', async () => {
    const { http, client: desktop } = client({
      'POST /v1/handoff': reply(201, STARTED),
      [`GET /v1/handoff/${TOKEN}/status`]: reply(200, { status: 'pending' }),
    });
    const started = await desktop.createHandoff({ mode: 'enroll', enroll: { name: 'Ada' } });
    assert.deepEqual(http.calls[0].body, { mode: 'enroll', enroll: { name: 'Ada' } });
    assert.equal((await desktop.handoffStatus(started)).status, 'pending');
    assert.equal(http.calls[1].headers['x-handoff-secret'], 'fgd_secret');
  });

  test('watches over the socket: the secret first, then each status until final', async () => {
    const { Socket, sockets } = fakeSockets();
    const { client: desktop } = client({});
    const seen = [];
    const watching = desktop.watchHandoff(STARTED, { WebSocket: Socket, onStatus: (s) => seen.push(s.status) });
    const socket = sockets[0];
    assert.equal(socket.url, STARTED.ws_url);
    socket.open();
    assert.deepEqual(socket.sent, [{ desktop_secret: 'fgd_secret' }]);
    socket.push({ status: 'pending' });
    socket.push({ status: 'scanned' });
    socket.push({ status: 'scanned' });
    socket.push({ status: 'completed', user_id: 'user-1', session_data: LOGIN });
    const final = await watching;
    assert.equal(final.session_data.verification_token, 'vt-1');
    assert.deepEqual(seen, ['pending', 'scanned', 'completed']);
    assert.ok(socket.closed);
  });

  test('polls the status when the socket cannot open', async () => {
    const { Socket, sockets } = fakeSockets();
    const { http, client: desktop } = client({
      [`GET /v1/handoff/${TOKEN}/status`]: reply(200, { status: 'completed', user_id: 'user-1', session_data: LOGIN }),
    });
    const watching = desktop.watchHandoff(STARTED, { WebSocket: Socket });
    sockets[0].fail();
    assert.equal((await watching).status, 'completed');
    assert.equal(http.calls.length, 1);
  });

  test('an expired handoff rejects with HandoffExpired; a bad secret with its code', async () => {
    const { client: desktop } = client({
      [`GET /v1/handoff/${TOKEN}/status`]: reply(410, { error: 'Handoff session expired', code: 'HANDOFF_EXPIRED' }),
    });
    await assert.rejects(desktop.watchHandoff({ ...STARTED, ws_url: null }), HandoffExpired);
    const { Socket, sockets } = fakeSockets();
    const watching = desktop.watchHandoff(STARTED, { WebSocket: Socket });
    sockets[0].open();
    sockets[0].end(4401);
    await assert.rejects(watching, (error) => error.code === 'INVALID_HANDOFF_SECRET');
  });
});

describe('the widget', () => {
  function setup({ camera = fakeCamera(), view = fakeView(), status = { status: 'completed', user_id: 'user-1', session_data: LOGIN } } = {}) {
    const { http, client: desktop } = client({
      'POST /v1/handoff': reply(201, { ...STARTED, ws_url: null }),
      [`GET /v1/handoff/${TOKEN}/status`]: reply(200, status),
      'POST /v1/liveness/session': reply(200, livenessSession()),
    });
    const widget = new FaceGateWidget(desktop, {
      createView: (init) => view.create(init),
      createCamera: () => camera,
      window: null,
      sleep: tick,
      pace: { introMs: 0, stepMs: 0, frameIntervalMs: 25 },
    });
    return { http, widget, view, camera };
  }

  test('authenticate({ handoff: true }) shows the QR code and signs in with the pushed session', async () => {
    const { http, widget, view, camera } = setup();
    const result = await widget.authenticate({ handoff: true });
    assert.equal(result.verificationToken, 'vt-1');
    assert.equal(result.facialId, 'user-1');
    assert.equal(view.record.handoffs[0].matchCode, 'K7WQ3M');
    assert.match(view.record.handoffs[0].qrSvg, /<svg/);
    assert.deepEqual(view.record.handoffStatuses, ['completed']);
    assert.equal(camera.state.opened, 0);
    assert.deepEqual(http.calls[0].body, { mode: 'verify' });
  });

  test('enroll({ handoff: true }) names who to enroll and returns the enrollment', async () => {
    const enrolled = { status: 'completed', user_id: 'user-9', session_data: { user_id: 'user-9', enrollments: [{ created_at: '2030-01-01T00:00:00.000Z' }], details: { age: 30, gender: null } } };
    const { http, widget } = setup({ status: enrolled });
    const result = await widget.enroll({ handoff: true, name: 'Ada' });
    assert.equal(result.facialId, 'user-9');
    assert.deepEqual(http.calls[0].body, { mode: 'enroll', enroll: { name: 'Ada' } });
  });

  test('offers the phone when this device has no camera', async () => {
    const camera = fakeCamera({ open: () => { throw new CameraUnavailable(); } });
    const { widget, view } = setup({ camera });
    const result = await widget.authenticate();
    assert.equal(view.record.offers, 1);
    assert.equal(result.verificationToken, 'vt-1');
  });

  test('a refused offer fails as before; a decline on the phone is a cancel', async () => {
    const camera = fakeCamera({ open: () => { throw new CameraUnavailable(); } });
    const refused = setup({ camera, view: fakeView({ offers: [false] }) });
    await assert.rejects(refused.widget.authenticate(), (error) => error instanceof WidgetError && error.cameraCode === 'camera_unavailable');
    const declined = setup({ status: { status: 'declined', user_id: null, session_data: null } });
    await assert.rejects(declined.widget.authenticate({ handoff: true }), (error) => error.code === 'CANCELED' && error.serverCode === 'HANDOFF_DECLINED');
  });
});
