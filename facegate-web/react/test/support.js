// Doubles for the component's tests: the real SDK client over a routed fetch
// (so server errors go through the SDK's own typing), the widget tests'
// fake camera, and fake media devices for the real Camera.
import { FaceGateClient } from '../../facegate.js';
import { CONSENT, fakeCamera, livenessSession, reply, routedFetch } from '../../test-support/widget-fakes.mjs';
import { memoryStorage } from '../../test-support/fakes.mjs';

export { CONSENT, fakeCamera, livenessSession, reply };

export const API_KEY = 'fg_test_pub_react000000000000000';
export const BASE_URL = 'http://api.test';
/** No pauses between prompts. */
export const PACE = { introMs: 0, stepMs: 0, frameIntervalMs: 0 };

export const USER = { id: 'usr_1', name: 'Ada', role: 'user', metadata: {} };

/** The /v1 routes answering a happy path; override any route. */
export function apiRoutes(overrides = {}) {
  return {
    'GET /v1/consent/versions': reply(200, { versions: [{ ...CONSENT, text: CONSENT.consent_text }] }),
    'POST /v1/consent': reply(201, { consent_id: 'con_1', consented_at: '2030-01-01T00:00:00.000Z' }),
    'POST /v1/liveness/session': reply(200, livenessSession('liv_1')),
    'POST /v1/liveness/session/:id/frames': (body, call) => reply(200, { session_id: call.url.split('/').at(-2), is_live: true, confidence: 97 }),
    'POST /v1/enroll': reply(201, { user_id: 'usr_1', enrollments: [{ faceId: 'face_1', angle: 'front', confidence: 99, enrolled_with_glasses: false, created_at: '2030-01-01T00:00:01.000Z' }] }),
    'POST /v1/verify': reply(200, {
      matched: true, confidence: 98.5, verification_token: 'vt_1', refresh_token: 'rt_1', session_id: 'ses_1',
      device_id: 'dev_1', user: USER, risk: null, re_enrollment_required: false, payload: null,
    }),
    'POST /v1/session': (body) => reply(200, {
      token: 'jwt_1', refresh_token: 'rt_2', expires_in: 900, user: USER,
      provider_session: body.provider ? { provider: body.provider, access_token: 'sb_1' } : null,
    }),
    ...overrides,
  };
}

/** A real FaceGateClient whose requests the routes answer. */
export function routedClient(routes = apiRoutes(), config = {}) {
  const routed = routedFetch(routes);
  const client = new FaceGateClient(
    { apiKey: API_KEY, baseUrl: BASE_URL, signals: false, ...config },
    { fetch: routed.fetch, storage: memoryStorage(), sendBeacon: null, sleep: async () => {} },
  );
  return { client, routed };
}

/**
 * navigator.mediaDevices for the SDK's real Camera: counts getUserMedia
 * calls and hands out streams whose tracks record stop() (readyState
 * 'ended'). `deny` rejects as a browser does when the user says no; `hold`
 * keeps the permission prompt open until `grant()`.
 */
export function fakeMediaDevices({ deny = false, hold = false } = {}) {
  const state = { calls: 0, tracks: [] };
  let release;
  const held = hold ? new Promise((resolve) => { release = resolve; }) : null;
  const mediaDevices = {
    async getUserMedia() {
      state.calls++;
      if (held) await held;
      if (deny) throw Object.assign(new Error('Permission denied'), { name: 'NotAllowedError' });
      const track = { kind: 'video', readyState: 'live', stop() { this.readyState = 'ended'; } };
      state.tracks.push(track);
      return { active: true, getTracks: () => [track], getVideoTracks: () => [track] };
    },
  };
  return { mediaDevices, state, grant: () => release?.() };
}

/** Every track that was handed out has been stopped. */
export function allStopped(state) {
  return state.tracks.length > 0 && state.tracks.every((track) => track.readyState === 'ended');
}
