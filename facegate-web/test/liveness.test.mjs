import { test, describe } from 'node:test';
import assert from 'node:assert/strict';

import { CameraError, FaceGateClient, LivenessTimeout, ProviderLivenessRequired, planFrames, runLiveness } from '../facegate.js';
import { API_KEY, memoryStorage, reply, scriptedFetch } from '../test-support/fakes.mjs';

const ACTIVE = { mode: 'active', actions: ['turn_left', 'blink', 'look_up'], nonce: 'nonce-1', min_frames: 3, max_frames: 30 };
const PASSIVE = { mode: 'passive', actions: [], nonce: 'nonce-2', min_frames: 3, max_frames: 10 };

function session(challenge) {
  return { session_id: 'live-1', credentials: null, region: null, challenge, expires_at: '2026-11-22T10:03:00.000Z' };
}

/**
 * A camera on a fake clock: each frame is distinct, captureFrames advances
 * the clock by the interval, and `sleep` (passed to runLiveness) advances it too.
 */
function fakeCamera({ ready = true } = {}) {
  const state = { clock: 5000, captured: 0, ready };
  const frame = () => ({ image: `frame-${state.captured++}`, timestamp_ms: state.clock });
  return {
    state,
    sleep: async (ms) => {
      state.clock += ms;
    },
    get isReady() {
      return state.ready;
    },
    stream: null,
    captureFrame: frame,
    async captureFrames(count, intervalMs) {
      const frames = [];
      for (let i = 0; i < count; i++) {
        if (i > 0) state.clock += intervalMs;
        frames.push(frame());
      }
      return frames;
    },
  };
}

/** A client double recording uploads and events. */
function fakeClient(challenge, { challengeTimeout = 30000, outcome = { is_live: true, confidence: 97.5 } } = {}) {
  const record = { uploads: [], events: [], sessionsCreated: 0 };
  const client = {
    config: { challengeTimeout },
    async createLivenessSession() {
      record.sessionsCreated++;
      return session(challenge);
    },
    async uploadFrames(sessionId, body) {
      record.uploads.push({ sessionId, ...body });
      return { session_id: sessionId, ...outcome };
    },
    emit(type, data) {
      record.events.push({ type, data });
    },
  };
  return { client, record };
}

function assertIncreasing(frames) {
  for (let i = 1; i < frames.length; i++) {
    assert.ok(frames[i].timestamp_ms - frames[i - 1].timestamp_ms >= 20, `frame ${i} is ≥ 20 ms after frame ${i - 1}`);
  }
}

describe('runLiveness', () => {
  test('active: prompts each action in order and uploads the frontal frame plus a burst per action', async () => {
    const camera = fakeCamera();
    const { client, record } = fakeClient(ACTIVE);
    const challenges = [];
    const steps = [];
    const result = await runLiveness(client, camera, {
      onChallenge: (challenge) => challenges.push(challenge),
      onStep: (action, index) => steps.push([action, index, camera.state.captured]),
      sleep: camera.sleep,
    });

    assert.deepEqual(result, { sessionId: 'live-1', isLive: true, confidence: 97.5 });
    assert.deepEqual(challenges, [ACTIVE]);
    // Each prompt comes after the previous burst: 1 frontal frame, then 9 per action.
    assert.deepEqual(steps, [['turn_left', 0, 1], ['blink', 1, 10], ['look_up', 2, 19]]);

    assert.equal(record.uploads.length, 1);
    const [upload] = record.uploads;
    assert.equal(upload.sessionId, 'live-1');
    assert.equal(upload.nonce, 'nonce-1');
    assert.equal(upload.frames.length, 1 + 3 * 9);
    assert.ok(upload.frames.length >= ACTIVE.min_frames && upload.frames.length <= ACTIVE.max_frames);
    assert.equal(upload.frames[0].image, 'frame-0', 'the frontal frame comes first');
    assertIncreasing(upload.frames);
    assert.deepEqual(record.events.map((e) => e.type), ['camera_ready']);
  });

  test('active: a tight max_frames still fits every action', async () => {
    const camera = fakeCamera();
    const { client, record } = fakeClient({ ...ACTIVE, max_frames: 7 });
    await runLiveness(client, camera, { sleep: camera.sleep });
    assert.equal(record.uploads[0].frames.length, 7);
  });

  test('passive: a burst of min_frames and no prompts', async () => {
    const camera = fakeCamera();
    const { client, record } = fakeClient(PASSIVE, { outcome: { is_live: false, confidence: 41 } });
    const steps = [];
    const result = await runLiveness(client, camera, { onStep: (a) => steps.push(a), frameIntervalMs: 300, sleep: camera.sleep });
    assert.deepEqual(result, { sessionId: 'live-1', isLive: false, confidence: 41 });
    assert.deepEqual(steps, []);
    const [upload] = record.uploads;
    assert.equal(upload.nonce, 'nonce-2');
    assert.deepEqual(upload.frames.map((f) => f.timestamp_ms), [5000, 5300, 5600]);
  });

  test('uses a session it is given instead of creating one', async () => {
    const camera = fakeCamera();
    const { client, record } = fakeClient(PASSIVE);
    const given = { ...session(PASSIVE), session_id: 'mine' };
    const result = await runLiveness(client, camera, { session: given, sleep: camera.sleep });
    assert.equal(record.sessionsCreated, 0);
    assert.equal(result.sessionId, 'mine');
  });

  test('a provider-run session (Rekognition) is not captured here: ProviderLivenessRequired carries it for AWS\'s component', async () => {
    const camera = fakeCamera();
    const { client, record } = fakeClient(PASSIVE);
    const aws = {
      session_id: 'aws-session-1',
      credentials: { accessKeyId: 'ASIA1', secretAccessKey: 's', sessionToken: 't' },
      region: 'eu-west-1',
      expires_at: '2026-11-22T10:03:00.000Z',
    };
    await assert.rejects(runLiveness(client, camera, { session: aws, sleep: camera.sleep }), (err) => {
      assert.ok(err instanceof ProviderLivenessRequired);
      assert.equal(err.code, 'PROVIDER_LIVENESS_REQUIRED');
      assert.equal(err.retryable, false);
      assert.deepEqual(err.session, aws);
      assert.match(err.message, /FaceLivenessDetector/);
      return true;
    });
    assert.equal(camera.state.captured, 0, 'no frame captured');
    assert.deepEqual(record.uploads, []);
    assert.deepEqual(record.events.map((e) => e.type), ['error']);
  });

  test('times out after challengeTimeout with LivenessTimeout, uploading nothing', async () => {
    const camera = fakeCamera();
    camera.captureFrames = () => new Promise(() => {}); // the user never gets through
    const { client, record } = fakeClient(ACTIVE, { challengeTimeout: 30 });
    await assert.rejects(runLiveness(client, camera, { sleep: camera.sleep }), (err) => {
      assert.ok(err instanceof LivenessTimeout);
      assert.equal(err.code, 'LIVENESS_TIMEOUT');
      assert.equal(err.retryable, true);
      return true;
    });
    assert.deepEqual(record.uploads, []);
    assert.deepEqual(record.events.map((e) => e.type), ['camera_ready', 'error']);
  });

  test('a camera that never gets ready times out too', async () => {
    const camera = fakeCamera({ ready: false });
    const { client, record } = fakeClient(PASSIVE);
    await assert.rejects(runLiveness(client, camera, { timeoutMs: 40 }), LivenessTimeout);
    assert.deepEqual(record.uploads, []);
  });

  test('drops repeated frames (a frozen video) and fails when too few are left', async () => {
    const camera = fakeCamera();
    camera.captureFrames = async (count, interval) =>
      Array.from({ length: count }, (_, i) => ({ image: 'same', timestamp_ms: 5000 + i * interval }));
    const { client, record } = fakeClient(PASSIVE);
    await assert.rejects(runLiveness(client, camera, { sleep: camera.sleep }), (err) => err instanceof CameraError && err.code === 'camera_stalled');
    assert.deepEqual(record.uploads, []);
  });

  test('with the real client: one POST of { nonce, frames: [{ image, timestamp_ms }] }', async () => {
    const camera = fakeCamera();
    const { fetch, calls } = scriptedFetch(
      reply(200, session({ ...ACTIVE, actions: ['turn_right', 'look_down'] })),
      reply(200, { session_id: 'live-1', is_live: true, confidence: 96 }),
    );
    const client = new FaceGateClient({ apiKey: API_KEY, baseUrl: 'http://fg.test/' }, { fetch, storage: memoryStorage() });
    const events = [];
    client.on((event) => events.push(event.type));
    const result = await runLiveness(client, camera, { sleep: camera.sleep });

    assert.deepEqual(result, { sessionId: 'live-1', isLive: true, confidence: 96 });
    assert.deepEqual(calls.map((c) => `${c.method} ${c.url}`), [
      'POST http://fg.test/v1/liveness/session',
      'POST http://fg.test/v1/liveness/session/live-1/frames',
    ]);
    const { body } = calls[1];
    assert.deepEqual(Object.keys(body), ['nonce', 'frames']);
    assert.equal(body.nonce, 'nonce-1');
    assert.equal(body.frames.length, 1 + 2 * 10);
    assert.ok(body.frames.every((f) => Object.keys(f).join() === 'image,timestamp_ms'));
    assertIncreasing(body.frames);
    assert.deepEqual(events, ['camera_ready']);
  });
});

describe('planFrames', () => {
  test('shares max_frames between the actions, at most framesPerStep each', () => {
    assert.deepEqual(planFrames(ACTIVE), { burst: 0, perStep: 9 });
    assert.deepEqual(planFrames({ ...ACTIVE, actions: ['blink', 'turn_left'] }), { burst: 0, perStep: 10 });
    assert.deepEqual(planFrames({ ...ACTIVE, actions: ['blink', 'turn_left'] }, 4), { burst: 0, perStep: 4 });
  });

  test('passive is a burst of min_frames', () => {
    assert.deepEqual(planFrames(PASSIVE), { burst: 3, perStep: 0 });
  });
});

test('runLiveness: an aborted signal stops the capture at once (no polling left behind)', async () => {
  const controller = new AbortController();
  const polls = { count: 0 };
  const camera = { get isReady() { polls.count++; return false; }, stream: null };
  const client = {
    config: { challengeTimeout: 30000 },
    emit() {},
    createLivenessSession: async () => ({ session_id: 's', challenge: { mode: 'passive', actions: [], nonce: 'n', min_frames: 3, max_frames: 5 } }),
    uploadFrames: async () => assert.fail('nothing to upload'),
  };
  const running = runLiveness(client, camera, { signal: controller.signal, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  await new Promise((r) => setTimeout(r, 30));
  controller.abort(new Error('gone'));
  await assert.rejects(running, /gone/);
  const seen = polls.count;
  await new Promise((r) => setTimeout(r, 120));
  assert.equal(polls.count, seen, 'the ready-poll stopped');
});
