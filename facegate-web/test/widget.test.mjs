import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { ApiError, CameraError, FaceGateClient, FaceGateError, LivenessTimeout, NetworkError, cameraErrorFrom } from '../facegate.js';
import {
  DEFAULT_TIMEOUTS,
  ERROR_CODES,
  FaceGateWidget,
  MESSAGES,
  WidgetError,
  closeMessage,
  closeTargets,
  isValidPin,
  parentOriginOf,
  resolveLocale,
  toWidgetError,
} from '../facegate-widget.js';
import { memoryStorage } from '../test-support/fakes.mjs';
import {
  CONSENT,
  demoRoutes,
  fakeCamera,
  fakeView,
  framedWindow,
  livenessSession,
  never,
  preflightBody,
  reply,
  routedFetch,
} from '../test-support/widget-fakes.mjs';

const BASE = 'http://demo.test';
// Yields to timers, so a poll loop cannot starve a timeout.
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** A demo-mode client over routed fetch, a widget over it with a fake view and camera. */
function setup({ routes = {}, view = fakeView(), camera = fakeCamera(), widgetOptions = {}, clientOptions = {} } = {}) {
  const http = routedFetch(demoRoutes(routes));
  const client = new FaceGateClient(
    { demo: true, baseUrl: BASE },
    { fetch: http.fetch, sleep: tick, storage: memoryStorage(), random: () => 0.5, ...clientOptions },
  );
  const widget = new FaceGateWidget(client, {
    createView: (init) => view.create(init),
    createCamera: () => camera,
    window: null,
    navigator: { languages: ['en-US'] },
    sleep: tick,
    pace: { introMs: 0, stepMs: 0, frameIntervalMs: 25 },
    ...widgetOptions,
  });
  return { http, client, widget, view, camera };
}

const rejectsWith = (code, extra = {}) => (err) => {
  assert.ok(err instanceof WidgetError, `expected a WidgetError, got ${err?.constructor?.name}: ${err?.message}`);
  assert.ok(err instanceof FaceGateError);
  assert.equal(err.code, code, err.message);
  for (const [key, value] of Object.entries(extra)) assert.deepEqual(err[key], value, key);
  return true;
};

// ---------------------------------------------------------------------------

describe('error codes', () => {
  test('fetchAllErrorCodes: FACEIO names mapping to themselves, frozen', () => {
    const { widget } = setup();
    const codes = widget.fetchAllErrorCodes();
    assert.equal(codes, ERROR_CODES);
    assert.ok(Object.isFrozen(codes));
    for (const name of [
      'PERMISSION_REFUSED', 'TERMS_NOT_ACCEPTED', 'SESSION_IN_PROGRESS', 'FACE_DUPLICATION', 'TIMEOUT', 'NO_FACES_DETECTED',
      'UNRECOGNIZED_FACE', 'MANY_FACES', 'PAD_ATTACK', 'UNIQUE_PIN_REQUIRED', 'FACE_MISMATCH', 'WRONG_PIN_CODE', 'NETWORK_IO',
      'PROCESSING_ERR', 'UNAUTHORIZED', 'UI_NOT_READY', 'TOO_MANY_REQUESTS', 'MINORS_NOT_ALLOWED', 'CANCELED',
    ]) {
      assert.equal(codes[name], name);
    }
    for (const [name, value] of Object.entries(codes)) assert.equal(value, name);
  });

  const api = (status, code, extra = {}) => new ApiError('server said no', { status, code, ...extra });
  const table = [
    ['422 NO_FACE_DETECTED', api(422, 'NO_FACE_DETECTED'), 'NO_FACES_DETECTED'],
    ['422 MANY_FACES', api(422, 'MANY_FACES'), 'MANY_FACES'],
    ['409 USER_ALREADY_ENROLLED', api(409, 'USER_ALREADY_ENROLLED'), 'FACE_DUPLICATION'],
    ['403 MINORS_NOT_ALLOWED', api(403, 'MINORS_NOT_ALLOWED'), 'MINORS_NOT_ALLOWED'],
    ['403 LIVENESS_FAILED', api(403, 'LIVENESS_FAILED'), 'PAD_ATTACK'],
    ['401 WRONG_PIN_CODE', api(401, 'WRONG_PIN_CODE', { attemptsRemaining: 0 }), 'WRONG_PIN_CODE'],
    ['409 UNIQUE_PIN_REQUIRED', api(409, 'UNIQUE_PIN_REQUIRED'), 'UNIQUE_PIN_REQUIRED'],
    ['401 INVALID_API_KEY', api(401, 'INVALID_API_KEY'), 'UNAUTHORIZED'],
    ['401 MISSING_API_KEY', api(401, 'MISSING_API_KEY'), 'UNAUTHORIZED'],
    ['403 TENANT_SUSPENDED', api(403, 'TENANT_SUSPENDED'), 'UNAUTHORIZED'],
    ['403 USER_SUSPENDED', api(403, 'USER_SUSPENDED'), 'UNAUTHORIZED'],
    ['403 USER_LOCKED', api(403, 'USER_LOCKED'), 'UNAUTHORIZED'],
    ['403 with another code', api(403, 'INSUFFICIENT_ROLE'), 'UNAUTHORIZED'],
    ['403 FORBIDDEN_ORIGIN', api(403, 'FORBIDDEN_ORIGIN'), 'FORBIDDDEN_ORIGIN'],
    ['403 EMPTY_ORIGIN', api(403, 'EMPTY_ORIGIN'), 'EMPTY_ORIGIN'],
    ['403 INSUFFICIENT_SCOPE', api(403, 'INSUFFICIENT_SCOPE'), 'UNAUTHORIZED'],
    ['409 FACE_MISMATCH', api(409, 'FACE_MISMATCH'), 'FACE_MISMATCH'],
    ['429 RATE_LIMITED', api(429, 'RATE_LIMITED', { retryAfter: 60 }), 'TOO_MANY_REQUESTS'],
    ['429 TOO_MANY_ATTEMPTS', api(429, 'TOO_MANY_ATTEMPTS', { retryAfter: 900 }), 'TOO_MANY_REQUESTS'],
    ['429 with another code', api(429, 'SLOW_DOWN'), 'TOO_MANY_REQUESTS'],
    ['400 LIVENESS_SESSION_EXPIRED', api(400, 'LIVENESS_SESSION_EXPIRED'), 'TIMEOUT'],
    ['403 RISK_BLOCKED', api(403, 'RISK_BLOCKED'), 'UNAUTHORIZED'],
    ['403 RE_ENROLLMENT_REQUIRED', api(403, 'RE_ENROLLMENT_REQUIRED'), 'UNAUTHORIZED'],
    ['401 REVERIFY_REQUIRED', api(401, 'REVERIFY_REQUIRED'), 'UNAUTHORIZED'],
    ['403 REVERIFY_FACE_MISMATCH', api(403, 'REVERIFY_FACE_MISMATCH'), 'UNRECOGNIZED_FACE'],
    ['403 STEP_UP_FAILED', api(403, 'STEP_UP_FAILED'), 'UNRECOGNIZED_FACE'],
    ['400 STEP_UP_EXPIRED', api(400, 'STEP_UP_EXPIRED'), 'TIMEOUT'],
    ['500 INTERNAL_ERROR', api(500, 'INTERNAL_ERROR'), 'PROCESSING_ERR'],
    ['503 FACE_ENGINE_UNAVAILABLE', api(503, 'FACE_ENGINE_UNAVAILABLE'), 'PROCESSING_ERR'],
    ['400 VALIDATION_FAILED', api(400, 'VALIDATION_FAILED'), 'PROCESSING_ERR'],
    ['413 PAYLOAD_TOO_LARGE', api(413, 'PAYLOAD_TOO_LARGE'), 'PROCESSING_ERR'],
    ['a non-JSON 200', api(200, 'INVALID_RESPONSE'), 'PROCESSING_ERR'],
    ['NetworkError', new NetworkError(), 'NETWORK_IO'],
    ['a plain Error', new TypeError('boom'), 'PROCESSING_ERR'],
  ];
  for (const [name, error, code] of table) {
    test(`${name} → ${code}`, () => {
      const mapped = toWidgetError(error);
      assert.equal(mapped.code, code);
      assert.equal(mapped.cause, error);
      if (error instanceof ApiError) {
        assert.equal(mapped.serverCode, error.code);
        assert.equal(mapped.status, error.status);
      }
    });
  }

  test('keeps Retry-After and attempts_remaining from the server error', () => {
    assert.equal(toWidgetError(api(429, 'TOO_MANY_ATTEMPTS', { retryAfter: 900 })).retryAfter, 900);
    assert.equal(toWidgetError(api(401, 'WRONG_PIN_CODE', { attemptsRemaining: 0 })).attemptsRemaining, 0);
  });

  const cameraTable = [
    ['NotAllowedError', 'camera_permission_denied', 'PERMISSION_REFUSED'],
    ['SecurityError', 'camera_insecure_context', 'PERMISSION_REFUSED'],
    ['NotFoundError', 'camera_unavailable', 'PERMISSION_REFUSED'],
    ['NotReadableError', 'camera_in_use', 'PERMISSION_REFUSED'],
    ['OverconstrainedError', 'camera_constraints', 'PERMISSION_REFUSED'],
    ['WeirdError', 'camera_unknown', 'PERMISSION_REFUSED'],
  ];
  for (const [domName, cameraCode, code] of cameraTable) {
    test(`camera ${domName} → ${code} with cameraCode ${cameraCode}`, () => {
      const mapped = toWidgetError(cameraErrorFrom({ name: domName }));
      assert.equal(mapped.code, code);
      assert.equal(mapped.cameraCode, cameraCode);
    });
  }

  test('a camera that stalls mid-capture is NO_FACES_DETECTED, with its camera code', () => {
    const mapped = toWidgetError(new CameraError('frozen', { code: 'camera_stalled' }));
    assert.equal(mapped.code, 'NO_FACES_DETECTED');
    assert.equal(mapped.cameraCode, 'camera_stalled');
  });

  test('a liveness timeout is NO_FACES_DETECTED with video, TIMEOUT without', () => {
    assert.equal(toWidgetError(new LivenessTimeout(), { cameraReady: true }).code, 'NO_FACES_DETECTED');
    assert.equal(toWidgetError(new LivenessTimeout(), { cameraReady: false }).code, 'TIMEOUT');
  });

  test('a WidgetError passes through unchanged', () => {
    const error = new WidgetError('PAD_ATTACK');
    assert.equal(toWidgetError(error), error);
    assert.equal(error.message, 'The liveness check failed (presentation attack suspected)');
  });

  test('FACEIO default timeouts', () => {
    assert.deepEqual({ ...DEFAULT_TIMEOUTS }, { permissionTimeout: 27, idleTimeout: 27, replyTimeout: 40, termsTimeout: 10 });
  });
});

// ---------------------------------------------------------------------------

describe('enroll', () => {
  test('consent, liveness, enrollment: FACEIO-shaped result over the demo routes', async () => {
    const { widget, http, view, camera } = setup();
    const result = await widget.enroll({ payload: { email: 'ada@example.com' } });
    assert.deepEqual(result, { facialId: 'user-1', timestamp: '2030-01-01T00:00:01.000Z', details: { age: 34, gender: 'female' } });

    assert.deepEqual(http.calls.map((c) => c.route), [
      'GET /demo/preflight',
      'POST /demo/liveness-session',
      'POST /demo/liveness-session/:id/frames',
      'POST /demo/consent',
      'POST /demo/enroll',
    ]);
    assert.equal(view.record.consentAsked.length, 1);
    assert.equal(view.record.consentAsked[0].text, CONSENT.consent_text);
    assert.deepEqual(http.of('POST /demo/consent')[0].body, { consent_version: 'v1', consent_text_hash: CONSENT.consent_text_hash });
    // No name in demo mode: the server names demo users.
    assert.deepEqual(http.of('POST /demo/enroll')[0].body, {
      role: 'user',
      consent_id: 'consent-1',
      liveness_session_id: 'live-1',
      payload: { email: 'ada@example.com' },
    });
    for (const call of http.calls) assert.equal(call.headers.authorization, undefined);
    assert.equal(view.record.init.operation, 'enroll');
    assert.deepEqual(view.record.prompts, ['hold_still']);
    assert.ok(view.record.states.includes('camera') && view.record.states.includes('processing'));
    assert.equal(view.record.success, 1);
    assert.equal(view.record.closed, 1);
    assert.ok(camera.state.closed >= 1, 'camera released');
    assert.equal(camera.state.streaming, false);
  });

  test('an active challenge prompts each action in order', async () => {
    const challenge = { mode: 'active', actions: ['turn_left', 'blink', 'look_up'], nonce: 'n', min_frames: 3, max_frames: 30 };
    const { widget, view, http } = setup({ routes: { 'POST /demo/liveness-session': reply(200, livenessSession('live-2', challenge)) } });
    await widget.enroll();
    assert.deepEqual(view.record.prompts, ['get_ready', 'turn_left', 'blink', 'look_up']);
    assert.equal(http.of('POST /demo/liveness-session/:id/frames')[0].body.nonce, 'n');
  });

  test('userConsent: true skips the consent screen but still records consent', async () => {
    const { widget, http, view } = setup();
    await widget.enroll({ userConsent: true });
    assert.equal(view.record.consentAsked.length, 0);
    assert.equal(http.of('POST /demo/consent').length, 1);
    assert.equal(http.of('POST /demo/enroll')[0].body.consent_id, 'consent-1');
  });

  test('a consentId recorded by the host is used as is', async () => {
    const { widget, http, view } = setup();
    await widget.enroll({ consentId: 'host-consent' });
    assert.equal(view.record.consentAsked.length, 0);
    assert.equal(http.of('POST /demo/consent').length, 0);
    assert.equal(http.of('POST /demo/enroll')[0].body.consent_id, 'host-consent');
  });

  test('declined consent → TERMS_NOT_ACCEPTED, before the camera opens', async () => {
    const { widget, http, view, camera } = setup({ view: fakeView({ consent: [false] }) });
    await assert.rejects(widget.enroll(), rejectsWith('TERMS_NOT_ACCEPTED'));
    assert.equal(camera.state.opened, 0);
    assert.deepEqual(http.calls.map((c) => c.route), ['GET /demo/preflight']);
    assert.deepEqual(view.record.errors, [], 'the user declined: no error screen');
  });

  test('consent not given within termsTimeout → TERMS_NOT_ACCEPTED', async () => {
    const { widget } = setup({ view: fakeView({ onConsent: never }) });
    await assert.rejects(widget.enroll({ termsTimeout: 0.05 / 60 }), rejectsWith('TERMS_NOT_ACCEPTED'));
  });

  test('a payload over 16 KB is refused before anything starts', async () => {
    const { widget, http, view } = setup();
    await assert.rejects(widget.enroll({ payload: { blob: 'x'.repeat(17000) } }), rejectsWith('PROCESSING_ERR', { serverCode: 'PAYLOAD_TOO_LARGE' }));
    assert.equal(http.calls.length, 0);
    assert.equal(view.record.opened, 0);
  });

  test('a server with a key: the newest consent version, a default name, the key sent', async () => {
    const http = routedFetch({
      'GET /v1/consent/versions': reply(200, { versions: [{ consent_version: 'v0', text: 'old', consent_text_hash: 'b'.repeat(64) }, { consent_version: 'v2', text: 'new', consent_text_hash: 'c'.repeat(64) }] }),
      'POST /v1/consent': reply(200, { consent_id: 'c-2', consented_at: 'now' }),
      'POST /v1/liveness/session': reply(200, livenessSession('live-9')),
      'POST /v1/liveness/session/:id/frames': reply(200, { session_id: 'live-9', is_live: true, confidence: 99 }),
      'POST /v1/enroll': reply(201, { user_id: 'u-9', enrollments: [] }),
    });
    const client = new FaceGateClient({ apiKey: 'fg_test_key', baseUrl: BASE }, { fetch: http.fetch, sleep: tick, storage: null });
    const view = fakeView();
    const widget = new FaceGateWidget(client, { createView: (i) => view.create(i), createCamera: () => fakeCamera(), window: null, sleep: tick, pace: { introMs: 0, stepMs: 0 } });
    const result = await widget.enroll({ payload: 42 });
    assert.equal(result.facialId, 'u-9');
    assert.deepEqual(result.details, { age: null, gender: null });
    assert.equal(view.record.consentAsked[0].text, 'new');
    assert.equal(http.of('POST /v1/consent')[0].body.consent_version, 'v2');
    assert.equal(http.of('POST /v1/enroll')[0].body.name, 'FaceGate user');
    assert.equal(http.of('POST /v1/enroll')[0].body.payload, 42);
    assert.equal(http.calls[0].headers.authorization, 'Bearer fg_test_key');
  });

  test('USER_ALREADY_ENROLLED → FACE_DUPLICATION; MINORS_NOT_ALLOWED; NO_FACE_DETECTED → NO_FACES_DETECTED', async () => {
    const cases = [
      [reply(409, { error: 'dup', code: 'USER_ALREADY_ENROLLED' }), 'FACE_DUPLICATION'],
      [reply(403, { error: 'minor', code: 'MINORS_NOT_ALLOWED' }), 'MINORS_NOT_ALLOWED'],
      [reply(422, { error: 'no face', code: 'NO_FACE_DETECTED' }), 'NO_FACES_DETECTED'],
      [reply(422, { error: 'two', code: 'MANY_FACES' }), 'MANY_FACES'],
    ];
    for (const [answer, code] of cases) {
      const { widget } = setup({ routes: { 'POST /demo/enroll': answer } });
      await assert.rejects(widget.enroll({ userConsent: true }), rejectsWith(code));
    }
  });
});

// ---------------------------------------------------------------------------

describe('authenticate', () => {
  test('liveness then verify: facialId, payload, timestamp', async () => {
    const { widget, http, view } = setup();
    const result = await widget.authenticate();
    assert.equal(result.facialId, 'user-1');
    assert.deepEqual(result.payload, { email: 'ada@example.com' });
    assert.ok(!Number.isNaN(Date.parse(result.timestamp)));
    assert.equal(result.confidence, 98.2);
    assert.equal(result.verificationToken, 'vt-1');
    assert.deepEqual(http.calls.map((c) => c.route), ['POST /demo/liveness-session', 'POST /demo/liveness-session/:id/frames', 'POST /demo/verify']);
    assert.deepEqual(http.of('POST /demo/verify')[0].body, { liveness_session_id: 'live-1' });
    assert.equal(view.record.consentAsked.length, 0);
    assert.equal(view.record.init.operation, 'authenticate');
  });

  test('matched: false → UNRECOGNIZED_FACE with the confidence', async () => {
    const { widget } = setup({ routes: { 'POST /demo/verify': reply(200, { matched: false, confidence: 12.5, user: null, device_id: 'd' }) } });
    await assert.rejects(widget.authenticate(), rejectsWith('UNRECOGNIZED_FACE', { confidence: 12.5 }));
  });

  test('a session that is not live → PAD_ATTACK, and verify is never called', async () => {
    const { widget, http } = setup({ routes: { 'POST /demo/liveness-session/:id/frames': reply(200, { session_id: 'live-1', is_live: false, confidence: 20 }) } });
    await assert.rejects(widget.authenticate(), rejectsWith('PAD_ATTACK', { confidence: 20 }));
    assert.equal(http.of('POST /demo/verify').length, 0);
  });

  test('a Rekognition server (a session with credentials, no challenge) → UI_NOT_READY naming AWS\'s capture UI; nothing uploaded, camera released', async () => {
    const aws = { session_id: 'aws-1', credentials: { accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't' }, region: 'eu-west-1', expires_at: '2030-01-01T00:03:00.000Z' };
    const { widget, http, view, camera } = setup({ routes: { 'POST /demo/liveness-session': reply(200, aws) } });
    await assert.rejects(widget.authenticate(), (err) => {
      rejectsWith('UI_NOT_READY', { serverCode: 'PROVIDER_LIVENESS_REQUIRED' })(err);
      assert.match(err.message, /FaceLivenessDetector/);
      assert.deepEqual(err.details, { session: aws });
      return true;
    });
    assert.deepEqual(http.calls.map((c) => c.route), ['POST /demo/liveness-session']);
    assert.ok(camera.state.closed >= 1, 'camera released');
    assert.deepEqual(view.record.errors, ['UI_NOT_READY']);
    assert.match(MESSAGES.en.serverHints.PROVIDER_LIVENESS_REQUIRED, /AWS Face Liveness/);
    assert.match(MESSAGES.fr.serverHints.PROVIDER_LIVENESS_REQUIRED, /AWS Face Liveness/);
  });

  test('403 LIVENESS_FAILED from verify → PAD_ATTACK', async () => {
    const { widget } = setup({ routes: { 'POST /demo/verify': reply(403, { error: 'not live', code: 'LIVENESS_FAILED' }) } });
    await assert.rejects(widget.authenticate(), rejectsWith('PAD_ATTACK', { serverCode: 'LIVENESS_FAILED' }));
  });

  test('a network failure → NETWORK_IO (after the client retried)', async () => {
    const { widget, http } = setup({ routes: { 'POST /demo/liveness-session': new TypeError('fetch failed') } });
    await assert.rejects(widget.authenticate(), rejectsWith('NETWORK_IO'));
    assert.equal(http.of('POST /demo/liveness-session').length, 2);
  });

  test('429 with a long Retry-After → TOO_MANY_REQUESTS, with retryAfter', async () => {
    const { widget } = setup({ routes: { 'POST /demo/liveness-session': reply(429, { error: 'slow down', code: 'RATE_LIMITED' }, { 'retry-after': '120' }) } });
    await assert.rejects(widget.authenticate(), rejectsWith('TOO_MANY_REQUESTS', { retryAfter: 120, serverCode: 'RATE_LIMITED' }));
  });
});

// ---------------------------------------------------------------------------

describe('PIN', () => {
  const pinRequired = (status) => reply(status, { error: 'PIN needed', code: 'PIN_REQUIRED' });
  const wrongPin = (left) => reply(401, { error: 'Wrong PIN', code: 'WRONG_PIN_CODE', attempts_remaining: left });

  test('authenticate: PIN_REQUIRED asks, then three wrong PINs → WRONG_PIN_CODE', async () => {
    const view = fakeView({ pins: ['1111', '2222', '3333', '4444'] });
    const { widget, http } = setup({
      view,
      routes: { 'POST /demo/verify': [pinRequired(401), wrongPin(2), wrongPin(1), wrongPin(0)] },
    });
    await assert.rejects(widget.authenticate(), rejectsWith('WRONG_PIN_CODE', { attemptsRemaining: 0 }));
    const verifies = http.of('POST /demo/verify');
    assert.deepEqual(verifies.map((c) => c.body.pin), [undefined, '1111', '2222', '3333']);
    // The same liveness session throughout: one ceremony.
    assert.ok(verifies.every((c) => c.body.liveness_session_id === 'live-1'));
    assert.equal(http.of('POST /demo/liveness-session').length, 1);
    assert.deepEqual(view.record.pinAsked.map((r) => [r.reason, r.attemptsRemaining]), [['required', null], ['wrong', 2], ['wrong', 1]]);
    assert.deepEqual(view.record.errors, ['WRONG_PIN_CODE']);
  });

  test('authenticate: the right PIN on the second try logs in', async () => {
    const view = fakeView({ pins: ['1111', '2468'] });
    const { widget, http } = setup({ view, routes: { 'POST /demo/verify': [pinRequired(401), wrongPin(2), demoRoutes()['POST /demo/verify']] } });
    const result = await widget.authenticate();
    assert.equal(result.facialId, 'user-1');
    assert.deepEqual(http.of('POST /demo/verify').map((c) => c.body.pin), [undefined, '1111', '2468']);
  });

  test('enroll: PIN_REQUIRED asks for a PIN, UNIQUE_PIN_REQUIRED asks again, same session', async () => {
    const view = fakeView({ pins: ['1234', '98765'] });
    const { widget, http } = setup({
      view,
      routes: {
        'POST /demo/enroll': [pinRequired(400), reply(409, { error: 'taken', code: 'UNIQUE_PIN_REQUIRED' }), demoRoutes()['POST /demo/enroll']],
      },
    });
    const result = await widget.enroll({ userConsent: true });
    assert.equal(result.facialId, 'user-1');
    const enrolls = http.of('POST /demo/enroll');
    assert.deepEqual(enrolls.map((c) => c.body.pin), [undefined, '1234', '98765']);
    assert.ok(enrolls.every((c) => c.body.liveness_session_id === 'live-1' && c.body.consent_id === 'consent-1'));
    assert.equal(http.of('POST /demo/consent').length, 1);
    assert.deepEqual(view.record.pinAsked.map((r) => r.reason), ['choose', 'unique']);
  });

  test('enroll({ pin }) sends the host’s PIN at once', async () => {
    const { widget, http, view } = setup();
    await widget.enroll({ userConsent: true, pin: '4321' });
    assert.equal(http.of('POST /demo/enroll')[0].body.pin, '4321');
    assert.equal(view.record.pinAsked.length, 0);
  });

  test('enroll({ askPin: true }) asks for a PIN before the server does', async () => {
    const view = fakeView({ pins: ['5555'] });
    const { widget, http } = setup({ view });
    await widget.enroll({ userConsent: true, askPin: true });
    assert.deepEqual(view.record.pinAsked.map((r) => r.reason), ['choose']);
    assert.deepEqual(http.of('POST /demo/enroll').map((c) => c.body.pin), ['5555']);
  });

  test('a PIN that is not 4–16 digits is asked again, marked invalid', async () => {
    const view = fakeView({ pins: ['12', 'abcd', '1234'] });
    const { widget, http } = setup({ view, routes: { 'POST /demo/verify': [pinRequired(401), demoRoutes()['POST /demo/verify']] } });
    await widget.authenticate();
    assert.deepEqual(view.record.pinAsked.map((r) => r.invalid), [false, true, true]);
    assert.equal(http.of('POST /demo/verify')[1].body.pin, '1234');
  });

  test('closing the PIN prompt → CANCELED', async () => {
    const { widget } = setup({ view: fakeView({ pins: [null] }), routes: { 'POST /demo/verify': pinRequired(401) } });
    await assert.rejects(widget.authenticate(), rejectsWith('CANCELED'));
  });

  test('a server that keeps asking is given up on', async () => {
    const { widget, http } = setup({ view: fakeView({ onPin: () => '1234' }), routes: { 'POST /demo/verify': pinRequired(401) } });
    await assert.rejects(widget.authenticate(), rejectsWith('WRONG_PIN_CODE', { serverCode: 'PIN_REQUIRED' }));
    assert.equal(http.of('POST /demo/verify').length, 6);
  });

  test('isValidPin', () => {
    assert.ok(isValidPin('1234'));
    assert.ok(isValidPin('1234567890123456'));
    assert.ok(!isValidPin('123'));
    assert.ok(!isValidPin('12345678901234567'));
    assert.ok(!isValidPin('12a4'));
    assert.ok(!isValidPin('١٢٣٤')); // ASCII digits only
    assert.ok(!isValidPin(1234));
  });
});

// ---------------------------------------------------------------------------

describe('step-up and re-verification', () => {
  const stepUp = (type, id = null) => reply(200, {
    matched: true, confidence: 93, verification_token: null, refresh_token: null, session_id: null, device_id: 'dev-1',
    user: { id: 'user-1', name: 'Demo user', role: 'user', metadata: {} },
    risk: { score: 0.7, level: 'high', factors: [], step_up_required: true, step_up_type: type, mode: 'enforce', decision: 'step_up' },
    step_up_id: id,
  });
  const activeSession = livenessSession('live-2', { mode: 'active', actions: ['turn_left'], nonce: 'n-2', min_frames: 3, max_frames: 30 });

  test('closing the PIN form of a step-up → CANCELED, and no login', async () => {
    const { widget } = setup({ routes: { 'POST /demo/verify': stepUp('pin') }, view: fakeView({ pins: [null] }) });
    await assert.rejects(widget.authenticate(), rejectsWith('CANCELED'));
  });

  test('a PIN step-up asks for the PIN and resends it with the same live session', async () => {
    const view = fakeView({ pins: ['2468'] });
    const { widget, http } = setup({ view, routes: { 'POST /demo/verify': [stepUp('pin'), demoRoutes()['POST /demo/verify']] } });
    const result = await widget.authenticate();
    assert.equal(result.verificationToken, 'vt-1');
    assert.deepEqual(http.of('POST /demo/verify').map((c) => c.body), [
      { liveness_session_id: 'live-1' },
      { liveness_session_id: 'live-1', pin: '2468' },
    ]);
  });

  test('an active-liveness step-up runs a second, active check and finishes with step_up_for', async () => {
    const { widget, http, view } = setup({
      routes: {
        'POST /demo/liveness-session': [reply(200, livenessSession()), reply(200, activeSession)],
        'POST /demo/verify': [stepUp('liveness_active', 'stp-1'), demoRoutes()['POST /demo/verify']],
      },
    });
    const result = await widget.authenticate();
    assert.equal(result.verificationToken, 'vt-1');
    assert.equal(result.sessionId, 'sess-1');
    assert.equal(result.refreshToken, 'rt-1');
    assert.deepEqual(http.of('POST /demo/liveness-session').map((c) => c.body), [undefined, { mode: 'active' }]);
    assert.deepEqual(http.of('POST /demo/verify').map((c) => c.body), [
      { liveness_session_id: 'live-1' },
      { liveness_session_id: 'live-2', step_up_for: 'stp-1' },
    ]);
    assert.ok(view.record.prompts.includes('turn_left'), JSON.stringify(view.record.prompts));
  });

  test('a step-up the widget cannot run is UNAUTHORIZED, never a login without a token', async () => {
    const { widget } = setup({ routes: { 'POST /demo/verify': stepUp('liveness_active', null) } });
    await assert.rejects(widget.authenticate(), rejectsWith('UNAUTHORIZED', { serverCode: 'STEP_UP_REQUIRED' }));
  });

  test('reverify: a live check renews the session given', async () => {
    const http = routedFetch({
      'POST /v1/liveness/session': reply(200, livenessSession('live-7')),
      'POST /v1/liveness/session/:id/frames': reply(200, { session_id: 'live-7', is_live: true, confidence: 99 }),
      'POST /v1/verify': reply(200, { matched: true, confidence: 97, verification_token: 'vt-2', refresh_token: 'rt-2', session_id: 'sess-1', device_id: 'dev-1', user: { id: 'user-1' } }),
    });
    const client = new FaceGateClient({ apiKey: 'fg_test_key', baseUrl: BASE }, { fetch: http.fetch, sleep: tick, storage: null });
    const view = fakeView();
    const widget = new FaceGateWidget(client, { createView: (i) => view.create(i), createCamera: () => fakeCamera(), window: null, sleep: tick, pace: { introMs: 0, stepMs: 0 } });
    await assert.rejects(widget.authenticate({ reverify: true }), rejectsWith('PROCESSING_ERR'));
    await assert.rejects(widget.authenticate({ reverify: true, sessionId: 'sess-1' }), rejectsWith('PROCESSING_ERR'));
    assert.equal(http.calls.length, 0);
    const renewed = await widget.authenticate({ reverify: true, sessionId: 'sess-1', refreshToken: 'rt-1' });
    assert.deepEqual([renewed.sessionId, renewed.verificationToken, renewed.refreshToken], ['sess-1', 'vt-2', 'rt-2']);
    assert.deepEqual(http.of('POST /v1/verify')[0].body, { liveness_session_id: 'live-7', session_id: 'sess-1', refresh_token: 'rt-1' });
  });
});

describe('operation state', () => {
  test('a second call while one runs → SESSION_IN_PROGRESS; the first carries on', async () => {
    let answerConsent;
    const view = fakeView({ onConsent: () => new Promise((resolve) => (answerConsent = resolve)) });
    const { widget } = setup({ view });
    const first = widget.enroll();
    await assert.rejects(widget.authenticate(), rejectsWith('SESSION_IN_PROGRESS'));
    await assert.rejects(widget.enroll(), rejectsWith('SESSION_IN_PROGRESS'));
    while (!answerConsent) await tick();
    answerConsent(true);
    assert.equal((await first).facialId, 'user-1');
    assert.equal(view.record.opened, 1);
    // And free again afterwards.
    assert.equal((await widget.authenticate()).facialId, 'user-1');
  });

  test('restartSession() ends the operation (CANCELED) and frees the widget at once', async () => {
    const view = fakeView({ onConsent: never });
    const { widget } = setup({ view });
    assert.equal(widget.restartSession(), true, 'nothing running: ready');
    const first = widget.enroll();
    while (view.record.consentAsked.length === 0) await tick();
    assert.equal(widget.restartSession(), true);
    assert.equal(view.record.closed, 1);
    await assert.rejects(first, rejectsWith('CANCELED'));
    // A new operation starts without SESSION_IN_PROGRESS.
    assert.equal((await widget.authenticate()).facialId, 'user-1');
  });

  test('restartSession() is refused while the server commits an enrollment', async () => {
    let finish;
    const { widget } = setup({ routes: { 'POST /demo/enroll': () => new Promise((resolve) => (finish = resolve)) } });
    const running = widget.enroll({ userConsent: true });
    while (!finish) await tick();
    assert.equal(widget.restartSession(), false);
    finish(demoRoutes()['POST /demo/enroll']);
    assert.equal((await running).facialId, 'user-1');
  });

  test('the user cancelling (Esc) → CANCELED, camera released, no error screen', async () => {
    const camera = fakeCamera({ open: never });
    const { widget, view } = setup({ camera });
    const running = widget.authenticate();
    while (camera.state.opened === 0) await tick();
    view.cancel();
    await assert.rejects(running, rejectsWith('CANCELED'));
    assert.ok(camera.state.closed >= 1);
    assert.deepEqual(view.record.errors, []);
    assert.equal(view.record.closed, 1);
  });

  test('the view cannot be created → UI_NOT_READY', async () => {
    const { widget } = setup({ widgetOptions: { createView: () => { throw new Error('no document'); } } });
    await assert.rejects(widget.authenticate(), rejectsWith('UI_NOT_READY'));
  });

  test('without injected views, a DOM-less environment → UI_NOT_READY', async () => {
    const client = new FaceGateClient({ demo: true, baseUrl: BASE }, { fetch: routedFetch(demoRoutes()).fetch, storage: null });
    const widget = new FaceGateWidget(client, { window: null });
    await assert.rejects(widget.authenticate(), rejectsWith('UI_NOT_READY'));
  });

  test('needs a client', () => {
    assert.throws(() => new FaceGateWidget(), TypeError);
  });
});

// ---------------------------------------------------------------------------

describe('camera and timeouts', () => {
  test('camera permission denied → PERMISSION_REFUSED with cameraCode', async () => {
    const camera = fakeCamera({ open: async () => { throw cameraErrorFrom({ name: 'NotAllowedError' }); } });
    const { widget, view, http } = setup({ camera });
    await assert.rejects(widget.authenticate(), rejectsWith('PERMISSION_REFUSED', { cameraCode: 'camera_permission_denied' }));
    assert.equal(http.calls.length, 0);
    assert.deepEqual(view.record.errors, ['PERMISSION_REFUSED']);
  });

  test('camera in use → PERMISSION_REFUSED with cameraCode camera_in_use', async () => {
    const camera = fakeCamera({ open: async () => { throw cameraErrorFrom({ name: 'NotReadableError' }); } });
    const { widget } = setup({ camera });
    await assert.rejects(widget.authenticate(), rejectsWith('PERMISSION_REFUSED', { cameraCode: 'camera_in_use' }));
  });

  test('no permission within permissionTimeout → PERMISSION_REFUSED; a late grant is released', async () => {
    let grant;
    const camera = fakeCamera({ open: () => new Promise((resolve) => (grant = resolve)) });
    const { widget } = setup({ camera });
    await assert.rejects(widget.authenticate({ permissionTimeout: 0.02 }), rejectsWith('PERMISSION_REFUSED', { cameraCode: null }));
    grant();
    await tick();
    assert.equal(camera.state.streaming, false, 'the stream granted late was stopped');
  });

  test('no server answer within replyTimeout → TIMEOUT', async () => {
    const { widget } = setup({ routes: { 'POST /demo/liveness-session': never } });
    await assert.rejects(widget.authenticate({ replyTimeout: 0.02 }), rejectsWith('TIMEOUT'));
  });

  test('replyTimeout bounds the frames upload too', async () => {
    const { widget } = setup({ routes: { 'POST /demo/liveness-session/:id/frames': never } });
    await assert.rejects(widget.authenticate({ replyTimeout: 0.02 }), rejectsWith('TIMEOUT'));
  });

  test('no video within idleTimeout → TIMEOUT', async () => {
    const { widget } = setup({ camera: fakeCamera({ ready: false }) });
    await assert.rejects(widget.authenticate({ idleTimeout: 0.03 }), rejectsWith('TIMEOUT'));
  });

  test('video but no capture within idleTimeout → NO_FACES_DETECTED', async () => {
    const { widget } = setup({ camera: fakeCamera({ hangCapture: true }) });
    await assert.rejects(widget.authenticate({ idleTimeout: 0.03 }), rejectsWith('NO_FACES_DETECTED'));
  });
});

// ---------------------------------------------------------------------------

describe('locales', () => {
  test('resolveLocale: explicit, auto from the browser, fallback en', () => {
    assert.equal(resolveLocale('fr'), 'fr');
    assert.equal(resolveLocale('fr-CA'), 'fr');
    assert.equal(resolveLocale('FR_be'), 'fr');
    assert.equal(resolveLocale('de'), 'en');
    assert.equal(resolveLocale('de', ['fr-FR']), 'en', 'an explicit unsupported locale falls back to en, not the browser');
    assert.equal(resolveLocale('auto', ['de-DE', 'fr-FR', 'en']), 'fr');
    assert.equal(resolveLocale(undefined, ['fr']), 'fr');
    assert.equal(resolveLocale('auto', ['ja']), 'en');
    assert.equal(resolveLocale('auto', []), 'en');
    assert.equal(resolveLocale('auto'), 'en');
  });

  test('the widget picks the browser language with locale auto', async () => {
    const { widget, view } = setup({ widgetOptions: { navigator: { languages: ['fr-FR', 'en'] } } });
    await widget.authenticate({ locale: 'auto' });
    assert.equal(view.record.init.locale, 'fr');
    assert.equal(view.record.init.strings, MESSAGES.fr);
    await widget.authenticate({ locale: 'en' });
    assert.equal(view.record.init.locale, 'en');
  });

  test('every language has every string English has, and a message for every code it can raise', () => {
    const shape = (value) => {
      if (typeof value === 'function') return 'function';
      if (Array.isArray(value)) return value.map(shape);
      if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape(value[k])]));
      return typeof value;
    };
    for (const [locale, strings] of Object.entries(MESSAGES)) {
      assert.deepEqual(shape(strings), shape(MESSAGES.en), locale);
    }
    const raised = Object.keys(ERROR_CODES).filter((c) => !['FORBIDDDEN_COUNTRY'].includes(c));
    for (const code of raised) assert.ok(MESSAGES.en.errors[code], code);
    assert.equal(MESSAGES.fr.pin.wrong.hint(1), '1 essai restant.');
    assert.equal(MESSAGES.en.pin.wrong.hint(2), '2 attempts left.');
  });
});

// ---------------------------------------------------------------------------

describe('iframe mode', () => {
  test('closeTargets: the known parent only if allow-listed, never *', () => {
    const allowed = ['https://host.example', 'https://shop.example/', '*', 'null', 'javascript:alert(1)', 'not a url'];
    assert.deepEqual(closeTargets(allowed, 'https://host.example'), ['https://host.example']);
    assert.deepEqual(closeTargets(allowed, 'https://shop.example'), ['https://shop.example']);
    assert.deepEqual(closeTargets(allowed, 'https://evil.example'), []);
    assert.deepEqual(closeTargets(allowed, 'null'), []);
    // Unknown parent: each allow-listed origin; the browser delivers only to the matching one.
    assert.deepEqual(closeTargets(allowed, null), ['https://host.example', 'https://shop.example']);
    assert.deepEqual(closeTargets(['*'], null), []);
    assert.deepEqual(closeTargets(undefined, 'https://host.example'), []);
  });

  test('parentOriginOf: ancestorOrigins, then the referrer, else unknown', () => {
    assert.equal(parentOriginOf(framedWindow({ ancestorOrigins: ['https://a.example'], referrer: 'https://b.example/x' }).win), 'https://a.example');
    assert.equal(parentOriginOf(framedWindow({ referrer: 'https://b.example/page?q=1' }).win), 'https://b.example');
    assert.equal(parentOriginOf(framedWindow({}).win), null);
    assert.equal(parentOriginOf(null), null);
  });

  test('closeMessage: FaceGuard reasons', () => {
    assert.deepEqual(closeMessage('authenticate', { result: { facialId: 'u', confidence: 97, payload: { a: 1 }, verificationToken: 't' } }),
      { action: 'close', operation: 'authenticate', reason: 'approved', confidence: 97, facialId: 'u', payload: { a: 1 }, verificationToken: 't' });
    assert.deepEqual(closeMessage('enroll', { result: { facialId: 'u', confidence: 91 } }),
      { action: 'close', operation: 'enroll', reason: 'approved', confidence: 91, facialId: 'u' });
    assert.deepEqual(closeMessage('authenticate', { error: new WidgetError('UNRECOGNIZED_FACE', 'x', { confidence: 40 }) }),
      { action: 'close', operation: 'authenticate', reason: 'rejected', confidence: 40 });
    assert.deepEqual(closeMessage('enroll', { error: new WidgetError('CANCELED') }), { action: 'close', operation: 'enroll', reason: 'canceled' });
    assert.deepEqual(closeMessage('authenticate', { error: toWidgetError(new ApiError('no', { status: 404, code: 'USER_NOT_FOUND' })) }),
      { action: 'close', operation: 'authenticate', reason: 'no_base_photo' });
    assert.deepEqual(closeMessage('authenticate', { error: toWidgetError(cameraErrorFrom({ name: 'NotAllowedError' })) }),
      { action: 'close', operation: 'authenticate', reason: 'error', error: 'camera_permission_denied', code: 'PERMISSION_REFUSED' });
    assert.deepEqual(closeMessage('enroll', { error: new WidgetError('FACE_DUPLICATION') }),
      { action: 'close', operation: 'enroll', reason: 'error', error: 'FACE_DUPLICATION', code: 'FACE_DUPLICATION' });
    for (const error of Object.keys(ERROR_CODES).map((c) => new WidgetError(c))) {
      assert.notEqual(closeMessage('authenticate', { error }).reason, 'bypass_active');
    }
  });

  test('a framed widget posts approved to its allow-listed parent', async () => {
    const { win, posted } = framedWindow({ ancestorOrigins: ['https://host.example'] });
    const { widget } = setup({ widgetOptions: { window: win, embed: { parentOrigins: ['https://host.example'] } } });
    await widget.authenticate();
    assert.equal(posted.length, 1);
    assert.equal(posted[0].targetOrigin, 'https://host.example');
    assert.deepEqual(posted[0].message, {
      action: 'close', operation: 'authenticate', reason: 'approved', confidence: 98.2, facialId: 'user-1', payload: { email: 'ada@example.com' }, verificationToken: 'vt-1',
    });
  });

  test('a framed widget posts errors and rejections too', async () => {
    const { win, posted } = framedWindow({ referrer: 'https://host.example/login' });
    const { widget } = setup({
      routes: { 'POST /demo/verify': reply(200, { matched: false, confidence: 30, user: null, device_id: 'd' }) },
      widgetOptions: { window: win, embed: { parentOrigins: ['https://host.example'] } },
    });
    await assert.rejects(widget.authenticate(), rejectsWith('UNRECOGNIZED_FACE'));
    assert.deepEqual(posted.map((p) => [p.targetOrigin, p.message.reason, p.message.confidence]), [['https://host.example', 'rejected', 30]]);
  });

  test('a parent that is not allow-listed gets nothing', async () => {
    const { win, posted } = framedWindow({ ancestorOrigins: ['https://evil.example'] });
    const { widget } = setup({ widgetOptions: { window: win, embed: { parentOrigins: ['https://host.example'] } } });
    await widget.authenticate();
    assert.deepEqual(posted, []);
  });

  test('not framed, or no embed option: nothing is posted', async () => {
    const top = framedWindow({ framed: false, ancestorOrigins: [] });
    const { widget } = setup({ widgetOptions: { window: top.win, embed: { parentOrigins: ['https://host.example'] } } });
    await widget.authenticate();
    assert.equal(top.win.parent, top.win);

    const framed = framedWindow({ ancestorOrigins: ['https://host.example'] });
    const { widget: plain } = setup({ widgetOptions: { window: framed.win } });
    await plain.authenticate();
    assert.deepEqual(framed.posted, []);
  });

  test('an unknown parent origin: one post per allow-listed origin, never *', async () => {
    const { win, posted } = framedWindow({});
    const { widget } = setup({ widgetOptions: { window: win, embed: { parentOrigins: ['https://a.example', '*', 'https://b.example'] } } });
    await assert.rejects(widget.enroll({ userConsent: true, payload: { blob: 'x'.repeat(20000) } }));
    assert.deepEqual(posted.map((p) => p.targetOrigin), ['https://a.example', 'https://b.example']);
    assert.equal(posted[0].message.reason, 'error');
  });
});

// ---------------------------------------------------------------------------

describe('demo mode client', () => {
  function demoClient(routes = {}) {
    const http = routedFetch(demoRoutes(routes));
    const client = new FaceGateClient({ demo: true, baseUrl: `${BASE}/` }, { fetch: http.fetch, sleep: tick, storage: memoryStorage(), random: () => 0.5 });
    return { client, http };
  }

  test('needs no API key and sends none', async () => {
    const { client, http } = demoClient();
    assert.equal(client.config.demo, true);
    assert.equal(client.config.apiKey, null);
    assert.equal(client.config.baseUrl, BASE);
    await client.createLivenessSession();
    assert.equal(http.calls[0].headers.authorization, undefined);
    assert.throws(() => new FaceGateClient({ baseUrl: BASE }), { code: 'MISSING_API_KEY' });
  });

  test('uses the /demo paths', async () => {
    const { client, http } = demoClient();
    await client.preflight();
    await client.recordConsent({ consentVersion: 'v1', consentTextHash: CONSENT.consent_text_hash });
    await client.createLivenessSession();
    await client.uploadFrames('live 1', { nonce: 'n', frames: [{ image: 'data:image/jpeg;base64,QUJD', timestamp_ms: 10.4 }] });
    await client.enroll({ livenessSessionId: 'live-1', consentId: 'c', payload: { email: 'a@b.c' }, pin: 1234 });
    await client.verify({ livenessSessionId: 'live-1', pin: '1234' });
    assert.deepEqual(http.calls.map((c) => c.url), [
      `${BASE}/demo/preflight`,
      `${BASE}/demo/consent`,
      `${BASE}/demo/liveness-session`,
      `${BASE}/demo/liveness-session/live%201/frames`,
      `${BASE}/demo/enroll`,
      `${BASE}/demo/verify`,
    ]);
    assert.deepEqual(http.calls[3].body, { nonce: 'n', frames: [{ image: 'QUJD', timestamp_ms: 10 }] });
    assert.deepEqual(http.calls[4].body, { role: 'user', consent_id: 'c', liveness_session_id: 'live-1', payload: { email: 'a@b.c' }, pin: '1234' });
    assert.deepEqual(http.calls[5].body, { liveness_session_id: 'live-1', pin: '1234' });
  });

  test('verify without a PIN sends none', async () => {
    const { client, http } = demoClient();
    await client.verify({ livenessSessionId: 'live-1' });
    assert.deepEqual(http.calls[0].body, { liveness_session_id: 'live-1' });
  });

  test('preflight: a server without a face engine (503 ready: false) is returned, not thrown', async () => {
    const { client } = demoClient({ 'GET /demo/preflight': reply(503, preflightBody({ ready: false })) });
    assert.equal((await client.preflight()).ready, false);
  });

  test('consentVersions comes from preflight in demo mode', async () => {
    const { client } = demoClient();
    assert.deepEqual(await client.consentVersions(), { versions: [{ consent_version: 'v1', text: CONSENT.consent_text, consent_text_hash: CONSENT.consent_text_hash }] });
  });

  test('routes the demo tenant does not have reject', async () => {
    const { client, http } = demoClient();
    await assert.rejects(client.match({ image: 'x' }), { code: 'NOT_AVAILABLE_IN_DEMO' });
    await assert.rejects(client.createSession('t'), { code: 'NOT_AVAILABLE_IN_DEMO' });
    await assert.rejects(client.refresh('t'), { code: 'NOT_AVAILABLE_IN_DEMO' });
    assert.equal(http.calls.length, 0);
  });

  test('preflight() needs demo mode', async () => {
    const client = new FaceGateClient({ apiKey: 'fg_test_k', baseUrl: BASE }, { fetch: routedFetch({}).fetch, storage: null });
    await assert.rejects(client.preflight(), { code: 'DEMO_ONLY' });
  });

  test('WRONG_PIN_CODE carries attempts_remaining as attemptsRemaining', async () => {
    const { client } = demoClient({ 'POST /demo/verify': reply(401, { error: 'Wrong PIN', code: 'WRONG_PIN_CODE', attempts_remaining: 1 }) });
    await assert.rejects(client.verify({ livenessSessionId: 'l', pin: '0000' }), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'WRONG_PIN_CODE');
      assert.equal(err.status, 401);
      assert.equal(err.attemptsRemaining, 1);
      return true;
    });
  });

  test('other errors have attemptsRemaining null', async () => {
    const { client } = demoClient({ 'POST /demo/verify': reply(400, { error: 'bad', code: 'VALIDATION_FAILED' }) });
    await assert.rejects(client.verify({ livenessSessionId: 'l' }), (err) => err.attemptsRemaining === null);
  });
});
