// Test doubles for the widget: a fetch routed by method and path, a camera on
// a fake clock, a scripted view, a window with a recording parent.

import { reply } from './fakes.mjs';

export { reply };

/** `/demo/liveness-session/abc/frames` → `/demo/liveness-session/:id/frames`. */
function routeOf(method, url) {
  const path = new URL(url, 'http://page.test').pathname.replace(/\/(liveness-session|liveness\/session)\/[^/]+\/frames$/, '/$1/:id/frames');
  return `${method} ${path}`;
}

/**
 * A fetch answering per route (`'POST /demo/enroll'`): a Response, an Error
 * (rejects), a function of (body, call), or an array of those used in turn
 * (the last one repeats). `calls` records { route, url, method, headers, body }.
 */
export function routedFetch(routes) {
  const calls = [];
  const queues = new Map(Object.entries(routes).map(([route, answer]) => [route, Array.isArray(answer) ? [...answer] : [answer]]));
  const fetch = async (url, init = {}) => {
    const route = routeOf(init.method ?? 'GET', url);
    const call = { route, url, method: init.method, headers: { ...init.headers }, body: init.body ? JSON.parse(init.body) : undefined };
    calls.push(call);
    const queue = queues.get(route);
    if (!queue) return reply(404, { error: 'Not found', code: 'NOT_FOUND' });
    const next = queue.length > 1 ? queue.shift() : queue[0];
    const answer = typeof next === 'function' ? await next(call.body, call) : next;
    if (answer instanceof Error) throw answer;
    return answer.clone();
  };
  return { fetch, calls, of: (route) => calls.filter((c) => c.route === route) };
}

/** A fetch answer that never comes (for reply timeouts). */
export const never = () => new Promise(() => {});

export const CONSENT = { consent_version: 'v1', consent_text: 'We process your face to log you in.', consent_text_hash: 'a'.repeat(64) };

export function preflightBody(overrides = {}) {
  return {
    ready: true,
    face_engine: 'local',
    liveness: { mode: 'passive', actions: [] },
    pin: { mode: 'when_ambiguous', unique: false },
    consent: CONSENT,
    data_ttl_hours: 24,
    embed_origins: ['https://host.example'],
    ...overrides,
  };
}

export function livenessSession(id = 'live-1', challenge = { mode: 'passive', actions: [], nonce: 'n-1', min_frames: 3, max_frames: 10 }) {
  return { session_id: id, credentials: null, region: null, challenge, expires_at: '2030-01-01T00:03:00.000Z' };
}

/** The demo routes answering a happy path; override any route. */
export function demoRoutes(overrides = {}) {
  return {
    'GET /demo/preflight': reply(200, preflightBody()),
    'POST /demo/consent': reply(200, { consent_id: 'consent-1', consented_at: '2030-01-01T00:00:00.000Z' }),
    'POST /demo/liveness-session': reply(200, livenessSession()),
    'POST /demo/liveness-session/:id/frames': (body, call) => reply(200, { session_id: call.url.split('/').at(-2), is_live: true, confidence: 96.5 }),
    'POST /demo/enroll': reply(201, {
      user_id: 'user-1',
      enrollments: [{ faceId: 'face-1', angle: 'front', confidence: 99, enrolled_with_glasses: false, created_at: '2030-01-01T00:00:01.000Z' }],
      details: { age: 34, gender: 'female' },
    }),
    'POST /demo/verify': reply(200, {
      matched: true,
      confidence: 98.2,
      verification_token: 'vt-1',
      refresh_token: 'rt-1',
      session_id: 'sess-1',
      device_id: 'dev-1',
      user: { id: 'user-1', name: 'Demo user', role: 'user', metadata: {} },
      risk: null,
      re_enrollment_required: false,
      payload: { email: 'ada@example.com' },
    }),
    ...overrides,
  };
}

/**
 * A camera on a fake clock: frames are distinct and 30 ms apart. `open` may
 * be a function (e.g. one that throws a DOMException-like error, or never resolves).
 */
export function fakeCamera({ open, ready = true, hangCapture = false } = {}) {
  const state = { opened: 0, closed: 0, attached: 0, captured: 0, clock: 1000, ready, streaming: false };
  const frame = () => {
    state.clock += 30;
    return { image: `frame-${state.captured++}`, timestamp_ms: state.clock };
  };
  const camera = {
    state,
    async open() {
      state.opened++;
      if (open) await open();
      state.streaming = true;
      return {};
    },
    close() {
      state.closed++;
      state.streaming = false;
    },
    attachToVideo() {
      state.attached++;
    },
    get isReady() {
      return state.ready && state.streaming;
    },
    stream: null,
    captureFrame: frame,
    async captureFrames(count) {
      if (hangCapture) await never();
      return Array.from({ length: count }, frame);
    },
  };
  return camera;
}

/**
 * A view double: records what the widget showed, answers the consent screen
 * from `consent` (booleans, in turn) and PIN prompts from `pins` (strings or
 * null, in turn). `cancel()` is the user pressing Esc.
 */
export function fakeView({ consent = [true], pins = [], offers = [true], onConsent, onPin } = {}) {
  const record = { states: [], prompts: [], consentAsked: [], pinAsked: [], success: 0, errors: [], opened: 0, closed: 0, init: null, handoffs: [], handoffStatuses: [], offers: 0 };
  let cancel = null;
  const view = {
    record,
    cancel: () => cancel?.(),
    create(init) {
      record.init = init;
      cancel = init.onCancel;
      return {
        open: () => {
          record.opened++;
        },
        setState: (state) => record.states.push(state),
        attachCamera: (camera) => camera.attachToVideo({}),
        prompt: (key) => record.prompts.push(key),
        askConsent: async (request) => {
          record.consentAsked.push(request);
          if (onConsent) return onConsent(request);
          return consent.length > 1 ? consent.shift() : consent[0];
        },
        askPin: async (request) => {
          record.pinAsked.push(request);
          if (onPin) return onPin(request);
          return pins.shift() ?? null;
        },
        showSuccess: async () => {
          record.success++;
        },
        showHandoff: (shown) => record.handoffs.push(shown),
        handoffStatus: (status) => record.handoffStatuses.push(status),
        offerHandoff: async () => {
          record.offers++;
          return offers.length > 1 ? offers.shift() : offers[0];
        },
        showError: async (error) => {
          record.errors.push(error.code);
        },
        close: () => {
          record.closed++;
        },
      };
    },
  };
  return view;
}

/** A framed window: `parent.postMessage` records; the parent's origin via ancestorOrigins or the referrer. */
export function framedWindow({ ancestorOrigins, referrer = '', framed = true } = {}) {
  const posted = [];
  const win = {
    location: { ancestorOrigins },
    document: { referrer },
    navigator: { languages: ['en-US'] },
  };
  win.parent = framed ? { postMessage: (message, targetOrigin) => posted.push({ message, targetOrigin }) } : win;
  return { win, posted };
}
