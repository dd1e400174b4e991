import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import {
  ApiError,
  FaceGateClient,
  FaceGateError,
  HandoffExpired,
  InvalidApiKey,
  LivenessFailed,
  NetworkError,
  ReEnrollmentRequired,
  ReverifyRequired,
  RiskBlocked,
  reverifyChallenge,
} from '../facegate.js';
import { API_KEY, memoryStorage, recordingSleep, reply, scriptedFetch } from '../test-support/fakes.mjs';

const BASE = 'http://facegate.test';

/** A client over a scripted fetch, with a recording sleep and fixed jitter (× 1). */
function clientWith(script, { config = {}, storage = memoryStorage(), ...options } = {}) {
  const { fetch, calls } = scriptedFetch(...script);
  const { sleep, waits } = recordingSleep();
  const client = new FaceGateClient(
    { apiKey: API_KEY, baseUrl: BASE, ...config },
    { fetch, sleep, storage, random: () => 0.5, ...options },
  );
  return { client, calls, waits, storage };
}

const ok = (body = {}) => reply(200, body);
const failure = (status, code, message = 'failed', headers = {}) => reply(status, { error: message, code }, headers);
const healthy = { status: 'healthy', checks: {}, provider: 'local', version: '0.1.0', uptime_seconds: 5 };

describe('config', () => {
  test('strips trailing slashes from baseUrl and builds URLs on it', async () => {
    const { client, calls } = clientWith([ok(healthy)], { config: { baseUrl: 'https://example.com/auth///' } });
    assert.equal(client.config.baseUrl, 'https://example.com/auth');
    await client.health();
    assert.equal(calls[0].url, 'https://example.com/auth/v1/health');
  });

  test('defaults baseUrl to the page origin when not served by a FaceGate server', () => {
    assert.equal(new FaceGateClient({ apiKey: API_KEY }).config.baseUrl, '');
  });

  test('fills the spec defaults', () => {
    const { client } = clientWith([ok()]);
    assert.equal(client.config.confidenceThreshold, 95);
    assert.equal(client.config.challengeTimeout, 30000);
    assert.equal(client.config.provider, null);
    assert.deepEqual(client.config.providerConfig, {});
  });

  test('is read-only', () => {
    const { client } = clientWith([ok()], { config: { providerConfig: { url: 'x' } } });
    assert.ok(Object.isFrozen(client.config));
    assert.throws(() => {
      client.config.apiKey = 'fg_test_other';
    }, TypeError);
    assert.throws(() => {
      client.config.providerConfig.url = 'y';
    }, TypeError);
    assert.throws(() => {
      client.config = {};
    }, TypeError);
    assert.equal(client.config.apiKey, API_KEY);
  });

  test('needs an API key', () => {
    assert.throws(() => new FaceGateClient({}), (err) => err instanceof InvalidApiKey && err.code === 'MISSING_API_KEY');
  });

  test('refuses a device fingerprint that is not a hex SHA-256', () => {
    assert.throws(() => new FaceGateClient({ apiKey: API_KEY, deviceFingerprint: 'abc' }), { code: 'INVALID_CONFIG' });
  });
});

describe('headers', () => {
  test('sends the API key, JSON content type on bodies, and no device id at first', async () => {
    const { client, calls } = clientWith([ok({ matched: false, confidence: 0, user: null })]);
    await client.match({ image: 'data:image/jpeg;base64,QUJD' });
    const [call] = calls;
    assert.equal(call.method, 'POST');
    assert.equal(call.url, `${BASE}/v1/match`);
    assert.equal(call.headers.authorization, `Bearer ${API_KEY}`);
    assert.equal(call.headers['content-type'], 'application/json');
    assert.equal(call.headers['x-device-id'], undefined);
    assert.deepEqual(call.body, { image: 'QUJD' }, 'the data: prefix is stripped');
  });

  test('GET without a body sends no content type', async () => {
    const { client, calls } = clientWith([ok({ versions: [] })]);
    await client.consentVersions();
    assert.equal(calls[0].method, 'GET');
    assert.equal(calls[0].headers['content-type'], undefined);
    assert.equal(calls[0].body, undefined);
  });

  test('persists the device id from verify and sends it from then on', async () => {
    const verified = { matched: true, confidence: 97, verification_token: 'jwt', device_id: 'dev_0123abcd', user: { id: 'u1' } };
    const { client, calls, storage } = clientWith([ok(verified), ok({ session_id: 's2' })]);
    await client.verify({ livenessSessionId: 'live-1' });
    assert.deepEqual(calls[0].body, { liveness_session_id: 'live-1' });
    assert.equal(storage.getItem('facegate.device_id'), 'dev_0123abcd');
    await client.createLivenessSession();
    assert.equal(calls[1].headers['x-device-id'], 'dev_0123abcd');
  });

  test('persists the device id even when nobody matched', async () => {
    const { client, storage } = clientWith([ok({ matched: false, confidence: 0, verification_token: null, device_id: 'dev_x' })]);
    await client.verify({ livenessSessionId: 'live-1' });
    assert.equal(storage.getItem('facegate.device_id'), 'dev_x');
  });

  test('uses a stored device id and ignores one the server would refuse', async () => {
    const good = clientWith([ok(healthy)], { storage: memoryStorage({ 'facegate.device_id': 'laptop-1' }) });
    await good.client.health();
    assert.equal(good.calls[0].headers['x-device-id'], 'laptop-1');

    const bad = clientWith([ok(healthy)], { storage: memoryStorage({ 'facegate.device_id': 'not valid!' }) });
    await bad.client.health();
    assert.equal(bad.calls[0].headers['x-device-id'], undefined);
  });

  test('sends the configured device fingerprint', async () => {
    const fingerprint = '9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08';
    const { client, calls } = clientWith([ok(healthy)], { config: { deviceFingerprint: fingerprint } });
    await client.health();
    assert.equal(calls[0].headers['x-device-fingerprint'], fingerprint.toLowerCase());
  });

  test('works without storage', async () => {
    const { client, calls } = clientWith([ok({ matched: true, device_id: 'dev_1' }), ok(healthy)], { storage: null });
    await client.verify({ livenessSessionId: 'l' });
    await client.health();
    assert.equal(calls[1].headers['x-device-id'], undefined);
  });
});

describe('request bodies', () => {
  test('enroll maps camelCase params to the server fields', async () => {
    const { client, calls } = clientWith([reply(201, { user_id: 'u1', enrollments: [] })]);
    const result = await client.enroll({
      image: 'data:image/png;base64,UE5H',
      name: 'Ada',
      consentId: 'c1',
      externalId: 'ext-7',
      email: 'ada@example.com',
      enrolledWithGlasses: true,
      metadata: { team: 'blue' },
    });
    assert.equal(result.user_id, 'u1');
    assert.equal(calls[0].url, `${BASE}/v1/enroll`);
    assert.deepEqual(calls[0].body, {
      name: 'Ada',
      role: 'user',
      consent_id: 'c1',
      face_image: 'UE5H',
      external_id: 'ext-7',
      email: 'ada@example.com',
      enrolled_with_glasses: true,
      metadata: { team: 'blue' },
    });
  });

  test('enroll from a liveness session', async () => {
    const { client, calls } = clientWith([reply(201, { user_id: 'u1', enrollments: [] })]);
    await client.enroll({ livenessSessionId: 'live-1', name: 'Ada', role: 'admin', consentId: 'c1' });
    assert.deepEqual(calls[0].body, { name: 'Ada', role: 'admin', consent_id: 'c1', liveness_session_id: 'live-1' });
  });

  test('createSession sends the provider only when configured', async () => {
    const session = { token: 't', refresh_token: 'r', expires_in: 900, user: {}, provider_session: null };
    const plain = clientWith([ok(session)]);
    await plain.client.createSession('jwt-1');
    assert.deepEqual(plain.calls[0].body, { verification_token: 'jwt-1' });

    const supabase = clientWith([ok(session)], { config: { provider: 'supabase' } });
    await supabase.client.createSession('jwt-1');
    assert.deepEqual(supabase.calls[0].body, { verification_token: 'jwt-1', provider: 'supabase' });
  });

  test('uploadFrames, refresh and recordConsent use the local routes', async () => {
    const { client, calls } = clientWith([ok({ session_id: 'a/b', is_live: true, confidence: 96 })]);
    await client.uploadFrames('a/b', { nonce: 'n1', frames: [{ image: 'data:image/jpeg;base64,AA', timestamp_ms: 10.4, extra: 1 }] });
    await client.refresh('fgr_1');
    await client.recordConsent({ consentVersion: 'v1', consentTextHash: 'ab12' });
    assert.equal(calls[0].url, `${BASE}/v1/liveness/session/a%2Fb/frames`);
    assert.deepEqual(calls[0].body, { nonce: 'n1', frames: [{ image: 'AA', timestamp_ms: 10 }] });
    assert.equal(calls[1].url, `${BASE}/v1/session/refresh`);
    assert.deepEqual(calls[1].body, { refresh_token: 'fgr_1' });
    assert.equal(calls[2].url, `${BASE}/v1/consent`);
    assert.deepEqual(calls[2].body, { consent_version: 'v1', consent_text_hash: 'ab12' });
  });

  test('health returns an unhealthy server (503) instead of throwing', async () => {
    const { client, calls } = clientWith([reply(503, { ...healthy, status: 'unhealthy' })]);
    const status = await client.health();
    assert.equal(status.status, 'unhealthy');
    assert.equal(calls.length, 1);
  });
});

describe('retries', () => {
  test('GET is retried on 503 with exponential backoff, then succeeds', async () => {
    const unavailable = failure(503, 'SERVICE_UNAVAILABLE');
    const { client, calls, waits } = clientWith([unavailable, unavailable, ok({ versions: [] })]);
    assert.deepEqual(await client.consentVersions(), { versions: [] });
    assert.equal(calls.length, 3);
    assert.deepEqual(waits, [250, 500]);
  });

  test('GET gives up after 3 attempts', async () => {
    const { client, calls, waits } = clientWith([failure(503, 'SERVICE_UNAVAILABLE', 'down')]);
    await assert.rejects(client.consentVersions(), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'SERVICE_UNAVAILABLE');
      assert.equal(err.status, 503);
      assert.equal(err.retryable, true);
      return true;
    });
    assert.equal(calls.length, 3);
    assert.equal(waits.length, 2);
  });

  test('backoff has jitter', async () => {
    const { client, waits } = clientWith([failure(504, 'GATEWAY_TIMEOUT')], { random: () => 0 });
    await assert.rejects(client.consentVersions());
    assert.deepEqual(waits, [125, 250]);
  });

  test('POST gives up after 2 attempts', async () => {
    const { client, calls, waits } = clientWith([failure(502, 'PROVIDER_ERROR')]);
    await assert.rejects(client.createSession('jwt'), { code: 'PROVIDER_ERROR', status: 502 });
    assert.equal(calls.length, 2);
    assert.deepEqual(waits, [250]);
  });

  test('POST is retried once, then succeeds', async () => {
    const { client, calls } = clientWith([failure(503, 'ENGINE_BUSY'), ok({ matched: false, confidence: 0, user: null })]);
    assert.equal((await client.match({ image: 'AA' })).matched, false);
    assert.equal(calls.length, 2);
  });

  test('429 waits Retry-After seconds', async () => {
    const { client, calls, waits } = clientWith([
      failure(429, 'TOO_MANY_ATTEMPTS', 'slow down', { 'retry-after': '2' }),
      ok({ session_id: 's1' }),
    ]);
    assert.equal((await client.createLivenessSession()).session_id, 's1');
    assert.equal(calls.length, 2);
    assert.deepEqual(waits, [2000]);
  });

  test('503 with Retry-After waits that long too', async () => {
    const { client, waits } = clientWith([failure(503, 'ENGINE_BUSY', 'busy', { 'retry-after': '1' }), ok({ versions: [] })]);
    await client.consentVersions();
    assert.deepEqual(waits, [1000]);
  });

  test('a lockout-length Retry-After is thrown at once, not waited out', async () => {
    const { client, calls, waits } = clientWith([failure(429, 'TOO_MANY_ATTEMPTS', 'locked', { 'retry-after': '1800' })]);
    await assert.rejects(client.createLivenessSession(), (err) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'TOO_MANY_ATTEMPTS');
      assert.equal(err.retryable, true);
      assert.equal(err.retryAfter, 1800);
      return true;
    });
    assert.equal(calls.length, 1);
    assert.deepEqual(waits, []);
  });

  for (const [status, code] of [
    [400, 'VALIDATION_FAILED'],
    [401, 'INVALID_API_KEY'],
    [403, 'TENANT_SUSPENDED'],
    [404, 'NOT_FOUND'],
    [409, 'USER_ALREADY_ENROLLED'],
    [422, 'NO_FACE_DETECTED'],
    [500, 'INTERNAL_ERROR'],
  ]) {
    test(`${status} is never retried`, async () => {
      const { client, calls, waits } = clientWith([failure(status, code)]);
      await assert.rejects(client.consentVersions(), (err) => err.status === status && err.retryable === false);
      assert.equal(calls.length, 1);
      assert.deepEqual(waits, []);
    });
  }

  test('network errors are retried and surface as a retryable NetworkError', async () => {
    const offline = new TypeError('fetch failed');
    const { client, calls, waits } = clientWith([offline]);
    await assert.rejects(client.consentVersions(), (err) => {
      assert.ok(err instanceof NetworkError);
      assert.ok(err instanceof FaceGateError);
      assert.equal(err.retryable, true);
      assert.equal(err.code, 'NETWORK_ERROR');
      assert.equal(err.status, null);
      assert.equal(err.cause, offline);
      return true;
    });
    assert.equal(calls.length, 3);
    assert.equal(waits.length, 2);
  });

  test('a network error followed by an answer succeeds', async () => {
    const { client, calls } = clientWith([new TypeError('fetch failed'), ok({ session_id: 's1' })]);
    assert.equal((await client.createLivenessSession()).session_id, 's1');
    assert.equal(calls.length, 2);
  });
});

describe('error mapping', () => {
  test('401 INVALID_API_KEY and MISSING_API_KEY → InvalidApiKey', async () => {
    for (const code of ['INVALID_API_KEY', 'MISSING_API_KEY']) {
      const { client } = clientWith([failure(401, code, 'bad key')]);
      await assert.rejects(client.match({ image: 'AA' }), (err) => {
        assert.ok(err instanceof InvalidApiKey);
        assert.ok(err instanceof ApiError);
        assert.equal(err.code, code);
        assert.equal(err.status, 401);
        assert.equal(err.message, 'bad key');
        return true;
      });
    }
  });

  test('other 401 codes stay ApiError', async () => {
    const { client } = clientWith([failure(401, 'INVALID_VERIFICATION_TOKEN')]);
    await assert.rejects(client.createSession('jwt'), (err) => {
      assert.ok(!(err instanceof InvalidApiKey));
      assert.ok(err instanceof ApiError);
      assert.equal(err.code, 'INVALID_VERIFICATION_TOKEN');
      return true;
    });
  });

  test('403 LIVENESS_FAILED → LivenessFailed', async () => {
    const { client } = clientWith([failure(403, 'LIVENESS_FAILED', 'not live')]);
    await assert.rejects(client.verify({ livenessSessionId: 'l' }), (err) => {
      assert.ok(err instanceof LivenessFailed);
      assert.equal(err.code, 'LIVENESS_FAILED');
      assert.equal(err.status, 403);
      return true;
    });
  });

  test('422 NO_FACE_DETECTED → ApiError with the code and details', async () => {
    const details = [{ path: 'image', message: 'no face' }];
    const { client } = clientWith([reply(422, { error: 'No face detected', code: 'NO_FACE_DETECTED', details })]);
    await assert.rejects(client.match({ image: 'AA' }), (err) => {
      assert.equal(err.constructor, ApiError);
      assert.equal(err.code, 'NO_FACE_DETECTED');
      assert.equal(err.status, 422);
      assert.equal(err.message, 'No face detected');
      assert.deepEqual(err.details, details);
      assert.equal(err.retryable, false);
      return true;
    });
  });

  test('410 → HandoffExpired', async () => {
    const { client } = clientWith([failure(410, 'HANDOFF_EXPIRED')]);
    await assert.rejects(client.consentVersions(), (err) => err instanceof HandoffExpired && err.status === 410);
  });

  test('a non-JSON error page gets an HTTP_<status> code', async () => {
    const { client } = clientWith([reply(502, '<html>Bad gateway</html>', { 'content-type': 'text/html' })]);
    await assert.rejects(client.createLivenessSession(), (err) => err instanceof ApiError && err.code === 'HTTP_502' && err.retryable);
  });

  test('a 200 that is not JSON is INVALID_RESPONSE', async () => {
    const { client } = clientWith([reply(200, 'hello', { 'content-type': 'text/plain' })]);
    await assert.rejects(client.consentVersions(), { code: 'INVALID_RESPONSE' });
  });
});

describe('events', () => {
  test('verified fires after a matched verify, with unsubscribe working', async () => {
    const matched = { matched: true, confidence: 97, device_id: 'dev_1', verification_token: 'jwt' };
    const { client } = clientWith([ok(matched)]);
    const seen = [];
    const off = client.on('verified', (event) => seen.push(event));
    await client.verify({ livenessSessionId: 'l' });
    assert.equal(seen.length, 1);
    assert.equal(seen[0].type, 'verified');
    assert.equal(seen[0].data.confidence, 97);
    off();
    off(); // harmless twice
    await client.verify({ livenessSessionId: 'l' });
    assert.equal(seen.length, 1);
  });

  test('no verified event without a match', async () => {
    const { client } = clientWith([ok({ matched: false, confidence: 0, device_id: 'dev_1' })]);
    const seen = [];
    client.on('verified', (event) => seen.push(event));
    await client.verify({ livenessSessionId: 'l' });
    assert.deepEqual(seen, []);
  });

  test('no verified event for a step-up answer (no token yet)', async () => {
    const stepUp = { matched: true, device_id: 'dev_1', verification_token: null, risk: { step_up_required: true, step_up_type: 'pin' } };
    const { client } = clientWith([ok(stepUp)]);
    const seen = [];
    client.on('verified', (event) => seen.push(event));
    assert.deepEqual(await client.verify({ livenessSessionId: 'l' }), stepUp);
    assert.deepEqual(seen, []);
  });

  test('session_created fires after createSession', async () => {
    const session = { token: 't', refresh_token: 'r', expires_in: 900, user: { id: 'u' }, provider_session: null };
    const { client } = clientWith([ok(session)]);
    const seen = [];
    client.on('session_created', (event) => seen.push(event.data));
    await client.createSession('jwt');
    assert.deepEqual(seen, [session]);
  });

  test('error fires once per failed call, after the retries', async () => {
    const { client, calls } = clientWith([failure(503, 'SERVICE_UNAVAILABLE')]);
    const errors = [];
    client.on('error', (event) => errors.push(event.data));
    await assert.rejects(client.consentVersions());
    assert.equal(calls.length, 3);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, 'SERVICE_UNAVAILABLE');
  });

  test('on(listener) receives every event and unsubscribes', async () => {
    const { client } = clientWith([ok({ matched: true, device_id: 'dev_1', verification_token: 'jwt' })]);
    const types = [];
    const off = client.on((event) => types.push(event.type));
    client.emit('camera_ready', { stream: null });
    await client.verify({ livenessSessionId: 'l' });
    off();
    client.emit('camera_ready', { stream: null });
    assert.deepEqual(types, ['camera_ready', 'verified']);
  });
});

describe('risk, step-up and re-verification', () => {
  test('createLivenessSession asks for an active check only when told to', async () => {
    const { client, calls } = clientWith([ok({ session_id: 'l1' }), ok({ session_id: 'l2' })]);
    await client.createLivenessSession();
    await client.createLivenessSession({ mode: 'active' });
    assert.equal(calls[0].body, undefined);
    assert.deepEqual(calls[1].body, { mode: 'active' });
  });

  test('verify finishes a step-up with step_up_for', async () => {
    const { client, calls } = clientWith([ok({ matched: true, device_id: 'dev_1', verification_token: 'jwt' })]);
    await client.verify({ livenessSessionId: 'l2', stepUpFor: 'stp_1' });
    assert.deepEqual(calls[0].body, { liveness_session_id: 'l2', step_up_for: 'stp_1' });
  });

  test('reverify sends the session and emits reverified', async () => {
    const renewed = { matched: true, session_id: 'sess_1', verification_token: 'jwt2', refresh_token: 'fgr_2', device_id: 'dev_1' };
    const { client, calls } = clientWith([ok(renewed)]);
    const seen = [];
    client.on('reverified', (event) => seen.push(event.data));
    assert.deepEqual(await client.reverify({ sessionId: 'sess_1', livenessSessionId: 'l3', refreshToken: 'fgr_1' }), renewed);
    assert.equal(calls[0].url.endsWith('/v1/verify'), true);
    assert.deepEqual(calls[0].body, { liveness_session_id: 'l3', session_id: 'sess_1', refresh_token: 'fgr_1' });
    assert.deepEqual(seen, [renewed]);
  });

  test('the policy refusals are typed errors', async () => {
    const cases = [
      [403, 'RISK_BLOCKED', RiskBlocked],
      [403, 'RE_ENROLLMENT_REQUIRED', ReEnrollmentRequired],
      [401, 'REVERIFY_REQUIRED', ReverifyRequired],
    ];
    for (const [status, code, type] of cases) {
      const { client } = clientWith([failure(status, code)]);
      await assert.rejects(client.verify({ livenessSessionId: 'l' }), (error) => error instanceof type && error.code === code);
    }
  });

  test('reverifyChallenge reads the guard\'s RFC 9470 challenge', () => {
    const challenge = 'Bearer error="insufficient_user_authentication", error_description="x", max_age="1800"';
    const response = (status, header) => ({ status, headers: new Headers(header ? { 'www-authenticate': header } : {}) });
    assert.deepEqual(reverifyChallenge(response(401, challenge)), { maxAge: 1800 });
    assert.equal(reverifyChallenge(response(401, 'Bearer error="invalid_token"')), null);
    assert.equal(reverifyChallenge(response(403, challenge)), null);
    assert.equal(reverifyChallenge(response(401)), null);
  });
});
