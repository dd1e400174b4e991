// @facegate/client for the self-hosted FaceGate server: the browser SDK as one
// zero-dependency ES module. The server serves this very file at
// `/v1/sdk/facegate.js` (types at `/v1/sdk/facegate.d.ts`).
//
//   FaceGateClient  HTTP calls to the REST API, retries, typed errors, events
//   Camera          getUserMedia, preview, JPEG frames
//   runLiveness     the local engine's challenge: prompt, capture, upload

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** Base of every error the SDK throws: a stable `code` and whether retrying may help. */
export class FaceGateError extends Error {
  constructor(message, { code = 'FACEGATE_ERROR', retryable = false, status = null, details = null, retryAfter = null, cause } = {}) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = retryable;
    this.status = status;
    this.details = details;
    /** Seconds the server asked us to wait (`Retry-After`), if it did. */
    this.retryAfter = retryAfter;
  }
}

/** The camera could not be started or read; `code` is a FaceGuard camera code. */
export class CameraError extends FaceGateError {
  constructor(message, options = {}) {
    super(message, { code: 'camera_unknown', ...options });
  }
}
export class CameraPermissionDenied extends CameraError {
  constructor(message = 'Camera access was denied', options = {}) {
    super(message, { ...options, code: 'camera_permission_denied' });
  }
}
export class CameraUnavailable extends CameraError {
  constructor(message = 'No camera is available', options = {}) {
    super(message, { ...options, code: 'camera_unavailable' });
  }
}

/** The user did not finish the liveness challenge within `challengeTimeout`. */
export class LivenessTimeout extends FaceGateError {
  constructor(message = 'The liveness challenge timed out', options = {}) {
    super(message, { code: 'LIVENESS_TIMEOUT', retryable: true, ...options });
  }
}

/** Not thrown by the client itself (verify answers `matched: false`); for apps that want one type for "not recognised". */
export class VerificationFailed extends FaceGateError {
  constructor(message = 'Face not recognized', options = {}) {
    super(message, { code: 'VERIFICATION_FAILED', ...options });
  }
}

/**
 * The server answered with an error; `code` is the server's SCREAMING_CODE.
 * `attemptsRemaining` is the server's `attempts_remaining` (on WRONG_PIN_CODE), else null.
 */
export class ApiError extends FaceGateError {
  constructor(message, options = {}) {
    super(message, options);
    this.attemptsRemaining = options.attemptsRemaining ?? null;
  }
}
/** 401 `MISSING_API_KEY` / `INVALID_API_KEY`. */
export class InvalidApiKey extends ApiError {}
/** 403 `LIVENESS_FAILED`: the session was not live (and is now used up). */
export class LivenessFailed extends ApiError {}
/** 410: a handoff session expired. */
export class HandoffExpired extends ApiError {}
/** 403 `RISK_BLOCKED`: the tenant's risk rules refused this sign-in. */
export class RiskBlocked extends ApiError {}
/** 403 `RE_ENROLLMENT_REQUIRED`: the user's face is past rotation; re-enroll from the same live session. */
export class ReEnrollmentRequired extends ApiError {}
/**
 * 401 `REVERIFY_REQUIRED`: the session is past its re-verification deadline
 * (a refresh, or a guarded route's RFC 9470 challenge); call `reverify()`.
 * `maxAge` is the challenge's `max_age` in seconds, when known.
 */
export class ReverifyRequired extends ApiError {
  constructor(message, options = {}) {
    super(message, { code: 'REVERIFY_REQUIRED', ...options });
    this.maxAge = options.maxAge ?? null;
  }
}

/**
 * The server's face engine runs the liveness check itself (AWS Rekognition
 * Face Liveness): the capture UI is AWS's `FaceLivenessDetector`, not this
 * SDK's. `session` is the server's answer (`session_id`, `credentials`,
 * `region`) to hand to that component; then call `client.verify()`.
 */
export class ProviderLivenessRequired extends FaceGateError {
  constructor(session, options = {}) {
    super('This server runs liveness with AWS Rekognition Face Liveness: capture with AWS\'s FaceLivenessDetector (session_id, credentials, region from this session), then call verify()', { code: 'PROVIDER_LIVENESS_REQUIRED', ...options });
    this.session = session;
  }
}

/** fetch itself failed (offline, DNS, CORS, connection reset). */
export class NetworkError extends FaceGateError {
  constructor(message = 'Network request failed', options = {}) {
    super(message, { code: 'NETWORK_ERROR', retryable: true, ...options });
  }
}

const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

/** The typed error for a non-2xx answer with the server's `{ error, code, details }` envelope. */
function errorFromResponse(status, body, retryAfter) {
  const envelope = body && typeof body === 'object' ? body : {};
  const code = typeof envelope.code === 'string' ? envelope.code : `HTTP_${status}`;
  const message = typeof envelope.error === 'string' ? envelope.error : `Request failed with status ${status}`;
  const options = {
    code,
    status,
    details: envelope.details ?? null,
    retryable: RETRYABLE_STATUSES.has(status),
    retryAfter,
    attemptsRemaining: Number.isInteger(envelope.attempts_remaining) ? envelope.attempts_remaining : null,
  };
  if (status === 401 && (code === 'MISSING_API_KEY' || code === 'INVALID_API_KEY')) return new InvalidApiKey(message, options);
  if (status === 403 && code === 'LIVENESS_FAILED') return new LivenessFailed(message, options);
  if (status === 410) return new HandoffExpired(message, options);
  if (status === 403 && code === 'RISK_BLOCKED') return new RiskBlocked(message, options);
  if (status === 403 && code === 'RE_ENROLLMENT_REQUIRED') return new ReEnrollmentRequired(message, options);
  if (status === 401 && code === 'REVERIFY_REQUIRED') return new ReverifyRequired(message, options);
  return new ApiError(message, options);
}

/**
 * RFC 9470's step-up challenge on a response from the host's guarded route:
 * `{ maxAge }` (seconds, or null) when the guard asks for re-verification
 * (`WWW-Authenticate: Bearer error="insufficient_user_authentication"`), else null.
 */
export function reverifyChallenge(response) {
  const header = response?.headers?.get?.('www-authenticate') ?? '';
  if (response?.status !== 401 || !/error="insufficient_user_authentication"/.test(header)) return null;
  const maxAge = /max_age="?(\d+)"?/.exec(header);
  return { maxAge: maxAge ? Number(maxAge[1]) : null };
}

/** `Retry-After` as seconds (delta-seconds or an HTTP date), or null. */
function parseRetryAfter(value, now) {
  if (value == null || value === '') return null;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds);
  const date = Date.parse(value);
  return Number.isNaN(date) ? null : Math.max(0, (date - now) / 1000);
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

const DEVICE_ID_KEY = 'facegate.device_id';
// What the server accepts in `x-device-id`; anything else would fail every call with 400.
const DEVICE_ID_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;
const FINGERPRINT_PATTERN = /^[0-9a-fA-F]{64}$/;
/** Signals: what a type may be named, how many go in one beacon, how long one waits for company. */
const SIGNAL_TYPE_PATTERN = /^[A-Za-z0-9._:-]{1,64}$/;
const SIGNAL_BATCH = 20;
const SIGNAL_FLUSH_MS = 5000;
/** A random id for this browser's signals when the server has not named the device yet. */
const SIGNALS_ID_KEY = 'facegate.signals_id';
/** The server's limit on a signal's data (JSON); larger data is replaced by `{ truncated: true }`. */
const SIGNAL_DATA_BYTES = 1024;
/** Browser keys only ride in a beacon's body; a server key is never put there. */
const CLIENT_KEY_PATTERN = /^fg_(live|test)_pub_/;

/** Whether `key` is a client (browser) key, `fg_live_pub_…` or `fg_test_pub_…`: the only kind a page may hold. */
export function isClientKey(key) {
  return typeof key === 'string' && CLIENT_KEY_PATTERN.test(key);
}

/**
 * Clients with signals to send when the page is hidden or left: one pair of
 * listeners for all of them, holding each weakly (a client dropped by the
 * app is not kept alive by the page).
 */
const signalClients = new Set();
let signalListeners = false;
function watchPageExit(client) {
  if (typeof WeakRef !== 'function' || typeof globalThis.addEventListener !== 'function') return;
  signalClients.add(new WeakRef(client));
  if (signalListeners) return;
  signalListeners = true;
  const flushAll = () => {
    for (const ref of signalClients) {
      const live = ref.deref();
      if (live) live.flushSignals();
      else signalClients.delete(ref);
    }
  };
  globalThis.addEventListener('pagehide', flushAll);
  globalThis.document?.addEventListener?.('visibilitychange', () => {
    if (globalThis.document.visibilityState === 'hidden') flushAll();
  });
}
const SDK_PATH = /\/v1\/sdk\/facegate\.js$/;

/** The routes each mode calls: the API (with a key) or the public demo tenant (no key). */
const API_PATHS = Object.freeze({
  livenessSession: '/v1/liveness/session',
  frames: (id) => `/v1/liveness/session/${encodeURIComponent(id)}/frames`,
  enroll: '/v1/enroll',
  verify: '/v1/verify',
  consent: '/v1/consent',
});
const DEMO_PATHS = Object.freeze({
  livenessSession: '/demo/liveness-session',
  frames: (id) => `/demo/liveness-session/${encodeURIComponent(id)}/frames`,
  enroll: '/demo/enroll',
  verify: '/demo/verify',
  consent: '/demo/consent',
  preflight: '/demo/preflight',
});

/** The phone's routes of a cross-device handoff: the token is the credential. */
function handoffPaths(token) {
  const base = `/v1/handoff/${encodeURIComponent(token)}`;
  return Object.freeze({
    livenessSession: `${base}/liveness`,
    frames: (id) => `${base}/liveness/${encodeURIComponent(id)}/frames`,
    // Verify or enroll, as the desktop asked: the phone completes the handoff.
    enroll: `${base}/complete`,
    verify: `${base}/complete`,
    consent: `${base}/consent`,
    scan: `${base}/scan`,
    decline: `${base}/decline`,
  });
}

/** The header the desktop's secret travels in to the status route. */
const HANDOFF_SECRET_HEADER = 'x-handoff-secret';
/** How often watchHandoff() polls when the socket is unavailable. */
const HANDOFF_POLL_MS = 2000;
const FINAL_HANDOFF_STATUSES = new Set(['completed', 'declined', 'expired']);

const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Where the API lives when nobody says: the server that served this module
 * (`…/v1/sdk/facegate.js` → `…`), else the page's own origin ('').
 */
function defaultBaseUrl() {
  try {
    const url = new URL(import.meta.url);
    if ((url.protocol === 'https:' || url.protocol === 'http:') && SDK_PATH.test(url.pathname)) {
      return url.origin + url.pathname.replace(SDK_PATH, '');
    }
  } catch {
    // not a URL we understand: fall through
  }
  return '';
}

/** localStorage if the browser lets us use it (private modes and sandboxed frames may not). */
function defaultStorage() {
  try {
    const storage = globalThis.localStorage;
    if (!storage) return null;
    const probe = '__facegate_probe__';
    storage.setItem(probe, probe);
    storage.removeItem(probe);
    return storage;
  } catch {
    return null;
  }
}

/** Strips a `data:image/...;base64,` prefix: the API takes bare base64. */
function bareBase64(image) {
  if (typeof image !== 'string') return image;
  const comma = image.startsWith('data:') ? image.indexOf(',') : -1;
  return comma >= 0 ? image.slice(comma + 1) : image;
}

function resolveConfig(config) {
  const demo = config?.demo === true;
  const handoff = typeof config?.handoff === 'string' && config.handoff !== '' ? config.handoff : null;
  if (!demo && !handoff && (!config || typeof config.apiKey !== 'string' || config.apiKey === '')) {
    throw new InvalidApiKey('FaceGateClient needs an apiKey (fg_live_… or fg_test_…)', { code: 'MISSING_API_KEY' });
  }
  if (config.deviceFingerprint != null && !FINGERPRINT_PATTERN.test(config.deviceFingerprint)) {
    throw new FaceGateError('deviceFingerprint must be a hex SHA-256 (64 characters)', { code: 'INVALID_CONFIG' });
  }
  return Object.freeze({
    apiKey: demo || handoff ? null : config.apiKey,
    demo,
    handoff,
    baseUrl: String(config.baseUrl ?? defaultBaseUrl()).replace(/\/+$/, ''),
    confidenceThreshold: config.confidenceThreshold ?? 95,
    challengeTimeout: config.challengeTimeout ?? 30000,
    provider: config.provider ?? null,
    providerConfig: Object.freeze({ ...(config.providerConfig ?? {}) }),
    deviceFingerprint: config.deviceFingerprint ? config.deviceFingerprint.toLowerCase() : null,
    // The SDK's own telemetry (POST /v1/signals); never in demo or handoff mode.
    signals: config.signals !== false && !demo && !handoff,
  });
}

export class FaceGateClient {
  #config;
  #fetch;
  #sleep;
  #storage;
  #random;
  #now;
  #backoffMs;
  #maxRetryWaitMs;
  #listeners = new Set();
  #reported = new WeakSet();
  #paths;
  #sendBeacon;
  #signals = [];
  #signalTimer = null;
  #verifies = 0;
  #signalsFingerprintValue = null;
  #signalsFingerprintPromise = null;

  /**
   * @param config  the spec's FaceGateConfig (plus `deviceFingerprint`), or
   *                `{ demo: true, baseUrl }` for the server's public demo tenant (no API key),
   *                or `{ handoff: token, baseUrl }` on the phone of a cross-device handoff
   *                (no API key: verify and enroll complete the handoff)
   * @param options injectables and retry tuning: `{ fetch, sleep, storage, random, now, backoffMs, maxRetryWaitMs, sendBeacon }`
   */
  constructor(config, options = {}) {
    this.#config = resolveConfig(config);
    this.#paths = this.#config.handoff ? handoffPaths(this.#config.handoff) : this.#config.demo ? DEMO_PATHS : API_PATHS;
    // Calling an unbound window.fetch throws "Illegal invocation"; go through globalThis.
    this.#fetch = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.#sleep = options.sleep ?? realSleep;
    this.#storage = options.storage === undefined ? defaultStorage() : options.storage;
    this.#random = options.random ?? Math.random;
    this.#now = options.now ?? Date.now;
    this.#backoffMs = options.backoffMs ?? 250;
    // A lockout's Retry-After is minutes long: waiting that out silently would
    // freeze the UI, so longer waits surface as an error (with `retryAfter`).
    this.#maxRetryWaitMs = options.maxRetryWaitMs ?? 10000;
    this.#sendBeacon = options.sendBeacon !== undefined
      ? options.sendBeacon
      : typeof globalThis.navigator?.sendBeacon === 'function'
        ? (url, data) => globalThis.navigator.sendBeacon(url, data)
        : null;
    // A page going away takes its pending signals with it, by beacon.
    if (this.#config.signals) watchPageExit(this);
  }

  /** The resolved configuration (frozen). */
  get config() {
    return this.#config;
  }

  // --- the spec's methods -------------------------------------------------

  /** POST /v1/match: 1:N match of one image, no liveness. */
  match({ image }) {
    if (this.#config.demo) return this.#notInDemo('match');
    return this.#call('POST', '/v1/match', { image: bareBase64(image) });
  }

  /**
   * POST /v1/liveness/session (demo: /demo/liveness-session): a challenge
   * (local engine) or AWS credentials. `mode: 'active'` asks for an active
   * challenge whatever the tenant's mode (a step-up needs one).
   */
  createLivenessSession({ mode } = {}) {
    return this.#call('POST', this.#paths.livenessSession, mode ? { mode } : undefined);
  }

  /**
   * POST /v1/verify (demo: /demo/verify): keeps the server's device id and
   * emits `verified` once a token is issued. `pin` when the server asked for
   * one (PIN_REQUIRED, WRONG_PIN_CODE with `attemptsRemaining`, or a step-up
   * of type `pin`); `stepUpFor` with a second, active liveness session to
   * finish a step-up of type `liveness_active` (the first answer's `step_up_id`).
   * A step-up answer has `matched: true`, `risk.step_up_required: true` and no token.
   */
  async verify({ livenessSessionId, pin, stepUpFor }) {
    const body = { liveness_session_id: livenessSessionId };
    if (pin !== undefined && pin !== null) body.pin = String(pin);
    if (stepUpFor) body.step_up_for = stepUpFor;
    // A fresh login's first verify is an attempt, the ones after it until a
    // match are retries; a PIN or step-up finishing a login is neither.
    const followUp = body.pin !== undefined || body.step_up_for !== undefined;
    const attempt = followUp ? this.#verifies : ++this.#verifies;
    const report = (outcome) => {
      if (!followUp) this.signal(attempt === 1 ? 'attempt' : 'retry', { attempt_number: attempt, outcome });
    };
    let result;
    try {
      result = await this.#call('POST', this.#paths.verify, body);
    } catch (error) {
      report(error?.code ?? 'ERROR');
      throw error;
    }
    report(result?.matched ? 'matched' : 'no_match');
    if (result?.matched && result.verification_token) this.#verifies = 0;
    if (result && typeof result.device_id === 'string') this.#storeDeviceId(result.device_id);
    if (result && result.matched && result.verification_token) this.#emit('verified', result);
    return result;
  }

  /**
   * Queues a telemetry signal for POST /v1/signals (our SDK sends its own:
   * `attempt`, `retry`, `request_retry`, and the widget's `camera_error`).
   * Batched: sent when 20 are waiting, 5 s after the first, or when the page
   * is hidden or left, by `navigator.sendBeacon` (the client key rides in the
   * body, as a beacon cannot set headers). A no-op with `signals: false`, in
   * demo and handoff mode, and for a malformed type.
   */
  signal(type, data = {}) {
    if (!this.#config.signals || !SIGNAL_TYPE_PATTERN.test(String(type))) return;
    let payload = data !== null && typeof data === 'object' && !Array.isArray(data) ? data : {};
    try {
      if (JSON.stringify(payload).length > SIGNAL_DATA_BYTES) payload = { truncated: true };
    } catch {
      payload = { unserializable: true };
    }
    // Named now, so the page-exit flush can beacon at once (no await).
    this.#signalsFingerprint();
    this.#signals.push({
      signal_id: randomUuid(this.#random),
      source: 'sdk-js',
      type: String(type),
      timestamp: this.#now(),
      data: payload,
    });
    if (this.#signals.length >= SIGNAL_BATCH) {
      this.flushSignals();
    } else if (this.#signalTimer === null) {
      this.#signalTimer = setTimeout(() => this.flushSignals(), SIGNAL_FLUSH_MS);
      this.#signalTimer?.unref?.();
    }
  }

  /**
   * Sends the queued signals now. Resolves with those sent (null when none,
   * or when they could not be): a beacon is fire-and-forget, and signals
   * are telemetry, never worth failing a login for.
   */
  flushSignals() {
    clearTimeout(this.#signalTimer);
    this.#signalTimer = null;
    if (this.#signals.length === 0) return Promise.resolve(null);
    const batch = this.#signals.splice(0, this.#signals.length);
    // Named already (the usual case): sent before this returns, as a page
    // being left will not wait for a promise.
    if (this.#signalsFingerprintValue) return this.#sendSignals(batch, this.#signalsFingerprintValue);
    return this.#signalsFingerprint().then((fingerprint) => (fingerprint ? this.#sendSignals(batch, fingerprint) : null));
  }

  #sendSignals(batch, fingerprint) {
    const url = this.#config.baseUrl + '/v1/signals';
    const body = { device_fingerprint: fingerprint, signals: batch };
    try {
      if (this.#sendBeacon && CLIENT_KEY_PATTERN.test(this.#config.apiKey ?? '')) {
        // text/plain: a simple request, no preflight a beacon could not answer.
        const payload = JSON.stringify({ ...body, api_key: this.#config.apiKey });
        const blob = new Blob([payload], { type: 'text/plain;charset=UTF-8' });
        if (this.#sendBeacon(url, blob)) return Promise.resolve(batch);
      }
      const sent = this.#fetch(url, {
        method: 'POST',
        keepalive: true,
        headers: this.#headers(true),
        body: JSON.stringify(body),
      });
      return Promise.resolve(sent).then(() => batch, () => null);
    } catch {
      return Promise.resolve(null);
    }
  }

  /** The device as signals name it, computed once: the configured fingerprint, else a hash of the device id (or of a random id kept for this). */
  #signalsFingerprint() {
    if (this.#signalsFingerprintValue) return Promise.resolve(this.#signalsFingerprintValue);
    this.#signalsFingerprintPromise ??= this.#deriveSignalsFingerprint().then((value) => {
      this.#signalsFingerprintValue = value;
      return value;
    });
    return this.#signalsFingerprintPromise;
  }

  async #deriveSignalsFingerprint() {
    if (this.#config.deviceFingerprint) return this.#config.deviceFingerprint;
    const subtle = globalThis.crypto?.subtle;
    if (!subtle) return null;
    let id = this.#deviceId();
    if (!id) {
      try {
        id = this.#storage?.getItem(SIGNALS_ID_KEY) ?? null;
        if (!id) {
          id = randomUuid(this.#random);
          this.#storage?.setItem(SIGNALS_ID_KEY, id);
        }
      } catch {
        id = id ?? randomUuid(this.#random);
      }
    }
    try {
      const digest = await subtle.digest('SHA-256', new TextEncoder().encode(`facegate-signals:${id}`));
      return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    } catch {
      return null;
    }
  }

  /**
   * POST /v1/verify with `session_id` (continuous re-verification): a fresh
   * live check renews the session: the same `session_id`, new tokens. The
   * session's current `refreshToken` proves the caller holds it (it is spent;
   * keep the new one). Another face is 403 `REVERIFY_FACE_MISMATCH` and ends
   * the session.
   */
  async reverify({ sessionId, livenessSessionId, refreshToken }) {
    if (this.#config.demo) return this.#notInDemo('reverify');
    const body = { liveness_session_id: livenessSessionId, session_id: sessionId, refresh_token: refreshToken };
    const result = await this.#call('POST', this.#paths.verify, body);
    if (result && result.matched) this.#emit('reverified', result);
    return result;
  }

  /** POST /v1/session: exchanges a verification token for a (provider) session. */
  async createSession(verificationToken) {
    if (this.#config.demo) return this.#notInDemo('createSession');
    const body = { verification_token: verificationToken };
    if (this.#config.provider) body.provider = this.#config.provider;
    const session = await this.#call('POST', '/v1/session', body);
    this.#emit('session_created', session);
    return session;
  }

  /** POST /v1/enroll (demo: /demo/enroll), from a completed liveness session or an image. */
  enroll(params) {
    return this.#call('POST', this.#paths.enroll, enrollBody(params));
  }

  /** GET /v1/health. An `unhealthy` server answers 503 with a status body: returned, not thrown. */
  health() {
    const unhealthy = (status, body) => status === 503 && typeof body?.status === 'string';
    return this.#call('GET', '/v1/health', undefined, { accept: unhealthy });
  }

  /**
   * Subscribes to events: `on(listener)` gets every event, `on(type, handler)`
   * one type. Handlers receive `{ type, data }`. Returns the unsubscribe function.
   */
  on(typeOrListener, handler) {
    const entry = typeof typeOrListener === 'function'
      ? { type: null, handler: typeOrListener }
      : { type: typeOrListener, handler };
    if (typeof entry.handler !== 'function') throw new TypeError('on() needs a handler function');
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** Emits an event to the subscribers (runLiveness reports `camera_ready` and camera errors through it). */
  emit(type, data) {
    this.#emit(type, data);
  }

  // --- local-engine additions -------------------------------------------

  /** POST /v1/liveness/session/:id/frames (demo: /demo/liveness-session/:id/frames): the frames, with the challenge's nonce. */
  uploadFrames(sessionId, { nonce, frames }) {
    const body = {
      nonce,
      frames: frames.map((frame) => ({ image: bareBase64(frame.image), timestamp_ms: Math.round(frame.timestamp_ms) })),
    };
    return this.#call('POST', this.#paths.frames(sessionId), body);
  }

  /** POST /v1/session/refresh: spends a refresh token for a new token pair. */
  refresh(refreshToken) {
    if (this.#config.demo) return this.#notInDemo('refresh');
    return this.#call('POST', '/v1/session/refresh', { refresh_token: refreshToken });
  }

  /** POST /v1/consent (demo: /demo/consent): records the user's biometric consent; its `consent_id` goes to enroll. */
  recordConsent({ consentVersion, consentTextHash, userId }) {
    const body = { consent_version: consentVersion, consent_text_hash: consentTextHash };
    if (userId != null) body.user_id = userId;
    return this.#call('POST', this.#paths.consent, body);
  }

  /**
   * GET /v1/consent/versions: the consent texts (and hashes) to show. In demo
   * mode, the one version the demo tenant uses, from preflight().
   */
  async consentVersions() {
    if (!this.#config.demo) return this.#call('GET', '/v1/consent/versions');
    const consent = (await this.preflight()).consent;
    if (!consent) return { versions: [] };
    return {
      versions: [{ consent_version: consent.consent_version, text: consent.consent_text, consent_text_hash: consent.consent_text_hash }],
    };
  }

  /**
   * GET /demo/preflight (demo mode only): whether the demo can run (`ready`;
   * a server without a face engine answers 503 `ready: false`, returned, not
   * thrown), its liveness mode, PIN policy, consent text, data lifetime and
   * the origins allowed to embed it.
   */
  preflight() {
    if (!this.#config.demo) {
      return Promise.reject(new FaceGateError('preflight() is the demo tenant\'s; construct the client with { demo: true }', { code: 'DEMO_ONLY' }));
    }
    const notReady = (status, body) => status === 503 && body !== null && typeof body === 'object' && body.ready === false;
    return this.#call('GET', this.#paths.preflight, undefined, { accept: notReady });
  }

  // --- cross-device handoff ------------------------------------------------

  /**
   * POST /v1/handoff (the desktop): `{ handoff_token, verify_url, expires_at,
   * ws_url, desktop_secret, match_code, qr_svg }`. Show `qr_svg` and
   * `match_code`; keep `desktop_secret` to yourself (status and socket need it).
   * `enroll` (enroll mode): who to enroll, e.g. `{ name }`.
   */
  createHandoff({ mode = 'verify', enroll } = {}) {
    if (this.#config.demo || this.#config.handoff) return this.#notInDemo('createHandoff');
    const body = { mode };
    if (enroll) body.enroll = enroll;
    return this.#call('POST', '/v1/handoff', body);
  }

  /** GET /v1/handoff/:token/status with the desktop's secret; 410 → HandoffExpired. */
  handoffStatus({ handoff_token: token, desktop_secret: secret }) {
    if (this.#config.demo || this.#config.handoff) return this.#notInDemo('handoffStatus');
    return this.#call('GET', `/v1/handoff/${encodeURIComponent(token)}/status`, undefined, { headers: { [HANDOFF_SECRET_HEADER]: secret } });
  }

  /**
   * Follows a handoff until it is final: over its WebSocket (`ws_url`, the
   * secret sent as the first message), else by polling the status. Calls
   * `onStatus(status)` on each change; resolves with the final status
   * (`completed`: `session_data` holds the verify answer and its tokens,
   * handed over once). An expired handoff rejects with HandoffExpired.
   * `signal` (an AbortSignal) stops it.
   */
  watchHandoff(started, { onStatus = () => {}, signal, WebSocket: Socket = globalThis.WebSocket } = {}) {
    return new Promise((resolve, reject) => {
      let last = null;
      let done = false;
      let socket = null;
      let timer = null;
      const finish = (fn, value) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        try { socket?.close(); } catch { /* already closed */ }
        fn(value);
      };
      const seen = (status) => {
        if (done || !status || typeof status.status !== 'string') return;
        if (status.code && !status.status) return;
        if (status.status !== last?.status) {
          last = status;
          try { onStatus(status); } catch { /* the caller's handler must not stop the watch */ }
        }
        if (status.status === 'expired') finish(reject, new HandoffExpired('Handoff session expired', { code: 'HANDOFF_EXPIRED', status: 410 }));
        else if (FINAL_HANDOFF_STATUSES.has(status.status)) finish(resolve, status);
      };
      const poll = async () => {
        if (done) return;
        try {
          seen(await this.handoffStatus(started));
        } catch (error) {
          if (error instanceof HandoffExpired || error?.status === 401 || error?.status === 404) return finish(reject, error);
        }
        if (!done) timer = setTimeout(poll, HANDOFF_POLL_MS);
      };
      signal?.addEventListener?.('abort', () => finish(reject, signal.reason ?? new FaceGateError('The handoff watch was aborted', { code: 'ABORTED' })));
      if (typeof Socket !== 'function' || !started.ws_url) return void poll();
      try {
        socket = new Socket(started.ws_url);
      } catch {
        return void poll();
      }
      let opened = false;
      socket.onopen = () => {
        opened = true;
        socket.send(JSON.stringify({ desktop_secret: started.desktop_secret }));
      };
      socket.onmessage = (event) => {
        let status = null;
        try { status = JSON.parse(event.data); } catch { return; }
        if (status && status.code && !status.status) return finish(reject, errorFromResponse(409, status, null));
        seen(status);
      };
      // A socket that fails or closes early: poll instead (the status route holds the same truth).
      socket.onclose = (event) => {
        if (done) return;
        if (event?.code === 4401) return finish(reject, new ApiError('Invalid desktop secret', { code: 'INVALID_HANDOFF_SECRET', status: 401 }));
        socket = null;
        void poll();
      };
      socket.onerror = () => {
        if (!opened && socket) {
          const failed = socket;
          socket = null;
          try { failed.close(); } catch { /* already closed */ }
          void poll();
        }
      };
    });
  }

  /** POST /v1/handoff/:token/scan (the phone): who asked, shown before the camera starts. */
  scanHandoff() {
    if (!this.#config.handoff) return this.#notInDemo('scanHandoff');
    return this.#call('POST', this.#paths.scan);
  }

  /** POST /v1/handoff/:token/decline (the phone): the user did not ask for this. */
  declineHandoff() {
    if (!this.#config.handoff) return this.#notInDemo('declineHandoff');
    return this.#call('POST', this.#paths.decline);
  }

  /** A rejected call: the demo tenant has no such route. */
  #notInDemo(method) {
    const error = new FaceGateError(`${method}() is not available in demo mode`, { code: 'NOT_AVAILABLE_IN_DEMO' });
    this.#emit('error', error);
    return Promise.reject(error);
  }

  // --- HTTP -----------------------------------------------------------------

  /** One API call with retries; every failure is also reported as an `error` event. */
  async #call(method, path, body, options) {
    try {
      return await this.#withRetries(method, () => this.#send(method, path, body, options));
    } catch (error) {
      this.#emit('error', error);
      throw error;
    }
  }

  /** GET: 3 attempts, mutations: 2, and only for failures that may pass on their own. */
  async #withRetries(method, attempt) {
    const attempts = method === 'GET' ? 3 : 2;
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof FaceGateError) || !error.retryable || n >= attempts) throw error;
        const waitMs = error.retryAfter != null ? error.retryAfter * 1000 : this.#backoff(n);
        if (waitMs > this.#maxRetryWaitMs) throw error;
        this.signal('request_retry', { method, attempt_number: n + 1, code: error.code });
        await this.#sleep(waitMs);
      }
    }
  }

  /** 250 ms × 2^(n-1), scaled by 0.5–1.5 so clients that failed together do not retry together. */
  #backoff(n) {
    return Math.round(this.#backoffMs * 2 ** (n - 1) * (0.5 + this.#random()));
  }

  async #send(method, path, body, { accept, headers } = {}) {
    let response;
    try {
      response = await this.#fetch(this.#config.baseUrl + path, {
        method,
        headers: { ...this.#headers(body !== undefined), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new NetworkError(`Network request to ${path} failed`, { cause });
    }
    const payload = await readJson(response);
    if (response.ok || accept?.(response.status, payload)) {
      if (payload === INVALID_JSON) {
        throw new ApiError(`The server's answer to ${path} is not JSON`, { code: 'INVALID_RESPONSE', status: response.status });
      }
      return payload;
    }
    const retryAfter = parseRetryAfter(response.headers?.get?.('retry-after'), this.#now());
    throw errorFromResponse(response.status, payload === INVALID_JSON ? null : payload, retryAfter);
  }

  #headers(hasBody) {
    const headers = { accept: 'application/json' };
    if (this.#config.apiKey) headers.authorization = `Bearer ${this.#config.apiKey}`;
    if (hasBody) headers['content-type'] = 'application/json';
    const deviceId = this.#deviceId();
    if (deviceId) headers['x-device-id'] = deviceId;
    if (this.#config.deviceFingerprint) headers['x-device-fingerprint'] = this.#config.deviceFingerprint;
    return headers;
  }

  // --- device id and events ----------------------------------------------------

  #deviceId() {
    try {
      const id = this.#storage?.getItem(DEVICE_ID_KEY);
      return id && DEVICE_ID_PATTERN.test(id) ? id : null;
    } catch {
      return null;
    }
  }

  #storeDeviceId(id) {
    if (!DEVICE_ID_PATTERN.test(id)) return;
    try {
      this.#storage?.setItem(DEVICE_ID_KEY, id);
    } catch {
      // storage full or blocked: the server derives a device id per session instead
    }
  }

  #emit(type, data) {
    // An error passes through several layers (a call inside runLiveness): report it once.
    if (type === 'error' && data !== null && typeof data === 'object') {
      if (this.#reported.has(data)) return;
      this.#reported.add(data);
    }
    const event = { type, data };
    for (const { type: wanted, handler } of [...this.#listeners]) {
      if (wanted !== null && wanted !== type) continue;
      try {
        handler(event);
      } catch (error) {
        // A faulty listener must not break the login flow; surface it like an uncaught error.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }
}

const INVALID_JSON = Symbol('invalid JSON');

/** A v4 UUID: the browser's own when it has one, else from `random`. */
function randomUuid(random) {
  if (typeof globalThis.crypto?.randomUUID === 'function') return globalThis.crypto.randomUUID();
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = '4';
  hex[16] = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The body as JSON: null when empty, INVALID_JSON when it is not JSON (a proxy's HTML page). */
async function readJson(response) {
  let text;
  try {
    text = await response.text();
  } catch {
    return INVALID_JSON;
  }
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return INVALID_JSON;
  }
}

/** The spec's camelCase enroll params → the server's snake_case body. */
function enrollBody(params) {
  const body = {
    name: params.name,
    role: params.role ?? 'user',
    consent_id: params.consentId,
    liveness_session_id: params.livenessSessionId,
    face_image: params.image === undefined ? undefined : bareBase64(params.image),
    external_id: params.externalId,
    email: params.email,
    phone: params.phone,
    enrolled_with_glasses: params.enrolledWithGlasses,
    metadata: params.metadata,
    // FACEIO's: any JSON (≤ 16 KB), handed back by verify.
    payload: params.payload,
    pin: params.pin === undefined || params.pin === null ? undefined : String(params.pin),
  };
  return Object.fromEntries(Object.entries(body).filter(([, value]) => value !== undefined));
}

// ---------------------------------------------------------------------------
// Camera
// ---------------------------------------------------------------------------

/** getUserMedia's DOMException (by name) → FaceGuard camera error code. */
const CAMERA_CODES = {
  NotAllowedError: 'camera_permission_denied',
  PermissionDeniedError: 'camera_permission_denied', // pre-standard Chrome
  NotFoundError: 'camera_unavailable',
  DevicesNotFoundError: 'camera_unavailable', // pre-standard Chrome
  NotReadableError: 'camera_in_use',
  TrackStartError: 'camera_in_use', // pre-standard Chrome
  AbortError: 'camera_in_use',
  OverconstrainedError: 'camera_constraints',
  ConstraintNotSatisfiedError: 'camera_constraints', // pre-standard Chrome
  // FaceGuard: "page not served over HTTPS, or iframe missing allow="camera" (SecurityError)".
  SecurityError: 'camera_insecure_context',
};

const CAMERA_MESSAGES = {
  camera_permission_denied: 'Camera access was denied; allow it in the browser or device settings',
  camera_unavailable: 'No camera was found on this device',
  camera_in_use: 'The camera is in use by another app or tab',
  camera_constraints: 'The camera does not support the requested resolution or facing mode',
  camera_insecure_context: 'The camera needs HTTPS (and allow="camera" on an iframe)',
  camera_unknown: 'The camera could not be started',
};

/** Maps a getUserMedia failure to the typed error the SDK throws. */
export function cameraErrorFrom(error) {
  if (error instanceof CameraError) return error;
  const code = CAMERA_CODES[error?.name] ?? 'camera_unknown';
  const options = { cause: error };
  if (code === 'camera_permission_denied') return new CameraPermissionDenied(CAMERA_MESSAGES[code], options);
  if (code === 'camera_unavailable') return new CameraUnavailable(CAMERA_MESSAGES[code], options);
  return new CameraError(CAMERA_MESSAGES[code], { ...options, code });
}

/** "front"/"back" in a device label → facing mode (labels are all browsers give). */
function inferFacing(label) {
  if (/front|user|facetime|selfie/i.test(label)) return 'user';
  if (/back|rear|environment|world/i.test(label)) return 'environment';
  return 'unknown';
}

// The server refuses frames closer than 20 ms; keep a margin.
const MIN_FRAME_GAP_MS = 25;
const HAVE_CURRENT_DATA = 2;

/** A captured JPEG frame: `image` is bare base64, ready for the API. */
class CapturedFrame {
  constructor(image, timestampMs, width, height) {
    this.image = image;
    this.timestamp_ms = timestampMs;
    this.width = width;
    this.height = height;
  }

  /** The spec's `imageData`: the same JPEG as a data: URL. */
  get imageData() {
    return `data:image/jpeg;base64,${this.image}`;
  }

  /** The spec's `timestamp` (ms). */
  get timestamp() {
    return this.timestamp_ms;
  }
}

export class Camera {
  #mediaDevices;
  #secureContext;
  #document;
  #now;
  #sleep;
  #maxWidth;
  #quality;
  #stream = null;
  #video = null;
  #canvas = null;

  /**
   * @param options `{ maxWidth = 640, quality = 0.85 }`, plus injectables for
   * tests: `{ mediaDevices, isSecureContext, document, now, sleep }`.
   */
  constructor(options = {}) {
    this.#mediaDevices = 'mediaDevices' in options ? options.mediaDevices : globalThis.navigator?.mediaDevices;
    this.#secureContext = options.isSecureContext ?? globalThis.isSecureContext;
    this.#document = options.document ?? globalThis.document;
    // A monotonic clock: the server requires strictly increasing timestamps.
    this.#now = options.now ?? (() => globalThis.performance.timeOrigin + globalThis.performance.now());
    this.#sleep = options.sleep ?? realSleep;
    // 640 px keeps a 30-frame upload well under the server's 6 MB body limit.
    this.#maxWidth = options.maxWidth ?? 640;
    this.#quality = options.quality ?? 0.85;
  }

  /** Whether this browser has the MediaDevices API. */
  static isAvailable() {
    return typeof globalThis.navigator?.mediaDevices?.getUserMedia === 'function';
  }

  /** Video inputs, with their facing inferred from the label (labels appear once permission is granted). */
  static async listDevices() {
    const mediaDevices = globalThis.navigator?.mediaDevices;
    if (!mediaDevices?.enumerateDevices) return [];
    const devices = await mediaDevices.enumerateDevices();
    return devices
      .filter((device) => device.kind === 'videoinput')
      .map((device) => ({
        deviceId: device.deviceId,
        groupId: device.groupId,
        label: device.label,
        facing: inferFacing(device.label),
      }));
  }

  /** Asks for permission and starts the stream: a device id, or video track constraints. */
  async open(deviceIdOrConstraints) {
    if (!this.#mediaDevices?.getUserMedia) {
      if (this.#secureContext === false) throw cameraErrorFrom({ name: 'SecurityError' });
      throw new CameraUnavailable('This browser has no camera API');
    }
    this.close();
    const video = typeof deviceIdOrConstraints === 'string'
      ? { deviceId: { exact: deviceIdOrConstraints } }
      : { facingMode: 'user', ...(deviceIdOrConstraints ?? {}) };
    const constraints = { audio: false, video: { width: { ideal: 640 }, height: { ideal: 480 }, ...video } };
    try {
      this.#stream = await this.#mediaDevices.getUserMedia(constraints);
    } catch (error) {
      throw cameraErrorFrom(error);
    }
    if (this.#video) this.#bind(this.#video);
    return this.#stream;
  }

  /** Renders the stream in a <video>. Mirror the preview with CSS if you like; frames stay unmirrored. */
  attachToVideo(video) {
    this.#video = video;
    if (this.#stream && video) this.#bind(video);
  }

  #bind(video) {
    video.muted = true;
    video.playsInline = true; // iOS would otherwise go fullscreen
    video.autoplay = true;
    video.srcObject = this.#stream;
    video.play?.()?.catch?.(() => {
      // autoplay refused: the <video> stays paused, isReady tells the caller
    });
  }

  /** Grabs one JPEG frame, exactly as the camera sees it (not mirrored). */
  captureFrame() {
    const video = this.#video;
    if (!this.isReady) throw new CameraError('The camera is not ready: open it and attach a playing <video>', { code: 'camera_not_ready' });
    const scale = Math.min(1, this.#maxWidth / video.videoWidth);
    const width = Math.round(video.videoWidth * scale);
    const height = Math.round(video.videoHeight * scale);
    this.#canvas ??= this.#document.createElement('canvas');
    const canvas = this.#canvas;
    canvas.width = width;
    canvas.height = height;
    // No mirroring transform here: the server reads head turns in the camera's own orientation.
    canvas.getContext('2d').drawImage(video, 0, 0, width, height);
    const dataUrl = canvas.toDataURL('image/jpeg', this.#quality);
    return new CapturedFrame(bareBase64(dataUrl), Math.round(this.#now()), width, height);
  }

  /** `count` frames, `intervalMs` apart (at least 25 ms, the server's minimum gap with a margin). */
  async captureFrames(count, intervalMs) {
    const gap = Math.max(intervalMs ?? 0, MIN_FRAME_GAP_MS);
    const frames = [];
    for (let i = 0; i < count; i++) {
      if (i > 0) await this.#sleep(gap);
      frames.push(this.captureFrame());
    }
    return frames;
  }

  /** Stops the tracks and releases the camera. */
  close() {
    this.#stream?.getTracks().forEach((track) => track.stop());
    this.#stream = null;
    if (this.#video) this.#video.srcObject = null;
  }

  get stream() {
    return this.#stream;
  }

  /** A live stream in an attached <video> that has a frame to show. */
  get isReady() {
    const stream = this.#stream;
    const video = this.#video;
    if (!stream || stream.active === false || !video) return false;
    return video.readyState >= HAVE_CURRENT_DATA && video.videoWidth > 0;
  }
}

// ---------------------------------------------------------------------------
// Liveness with the local engine
// ---------------------------------------------------------------------------

const READY_POLL_MS = 50;

/**
 * How many frames to capture: passive, a burst of `min_frames`; active, one
 * frontal frame then an equal share of `max_frames` per action (at most
 * `framesPerStep`, so each action is filmed for about a second).
 */
export function planFrames(challenge, framesPerStep = 10) {
  const min = challenge.min_frames ?? 3;
  const max = challenge.max_frames ?? 30;
  const actions = challenge.actions ?? [];
  if (challenge.mode === 'passive' || actions.length === 0) {
    return { burst: Math.min(Math.max(min, 1), max), perStep: 0 };
  }
  const fair = Math.floor((max - 1) / actions.length);
  const needed = Math.ceil((min - 1) / actions.length);
  return { burst: 0, perStep: Math.max(1, needed, Math.min(framesPerStep, fair)) };
}

/**
 * Runs the server's liveness challenge with `camera` (opened and attached)
 * and uploads the frames. Returns `{ sessionId, isLive, confidence }`; a
 * session that is not live is a result, not an error (verify would answer 403).
 *
 * options: `onChallenge(challenge, session)` before capture (may be async, not
 * timed), `onStep(action, index)` as each action is prompted (may be async),
 * `frameIntervalMs` (120), `framesPerStep` (10), `session` (one already created),
 * `timeoutMs` (the client's `challengeTimeout`), `signal` (an AbortSignal:
 * stops the capture and rejects with its reason), `sleep`.
 */
export async function runLiveness(client, camera, options = {}) {
  const session = options.session ?? await client.createLivenessSession();
  if (!session.challenge && ('credentials' in session || 'region' in session)) {
    // A provider-run check (Rekognition): no frames are uploaded here.
    const error = new ProviderLivenessRequired(session);
    client.emit?.('error', error);
    throw error;
  }
  const challenge = session.challenge ?? {};
  await options.onChallenge?.(challenge, session);
  const timeoutMs = options.timeoutMs ?? client.config?.challengeTimeout ?? 30000;
  try {
    const frames = await withTimeout(timeoutMs, options.signal, (run) => captureChallenge(client, camera, challenge, options, run));
    const outcome = await client.uploadFrames(session.session_id, { nonce: challenge.nonce, frames });
    return { sessionId: outcome.session_id ?? session.session_id, isLive: Boolean(outcome.is_live), confidence: outcome.confidence };
  } catch (error) {
    // An abort is the caller's own doing, not an error to report.
    if (!options.signal?.aborted) client.emit?.('error', error);
    throw error;
  }
}

/**
 * Races `task` against a timer and `signal`; on expiry or abort `run.cancelled`
 * tells the task to stop capturing.
 */
function withTimeout(ms, signal, task) {
  const run = { cancelled: false };
  let timer;
  let onAbort;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => {
      run.cancelled = true;
      reject(new LivenessTimeout(`The liveness challenge was not completed within ${ms} ms`));
    }, ms);
    onAbort = () => {
      run.cancelled = true;
      reject(signal.reason ?? new DOMException('The liveness challenge was aborted', 'AbortError'));
    };
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([task(run), expired]).finally(() => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  });
}

async function captureChallenge(client, camera, challenge, options, run) {
  const sleep = options.sleep ?? realSleep;
  const interval = Math.max(options.frameIntervalMs ?? 120, MIN_FRAME_GAP_MS);
  const plan = planFrames(challenge, options.framesPerStep);
  for (;;) {
    if (run.cancelled) return [];
    if (camera.isReady) break;
    await sleep(READY_POLL_MS);
  }
  client.emit?.('camera_ready', { stream: camera.stream });

  // Frames go up exactly as captured, not mirrored: "turn_left" is the user's
  // left, which moves the nose towards the right edge of the camera's image.
  if (plan.burst > 0) return usableFrames(await camera.captureFrames(plan.burst, interval), challenge);

  const frames = [camera.captureFrame()]; // frontal, eyes open: the reference frame
  const actions = challenge.actions ?? [];
  for (let index = 0; index < actions.length; index++) {
    if (run.cancelled) return [];
    await options.onStep?.(actions[index], index);
    // Also keeps this burst clear of the previous frame (the server wants ≥ 20 ms).
    await sleep(interval);
    frames.push(...await camera.captureFrames(plan.perStep, interval));
  }
  return usableFrames(frames, challenge);
}

/**
 * Drops frames the server would count as a failed check (towards a lockout):
 * one too close to the previous one, or an exact repeat (a frozen video looks
 * like a replayed still). Too few left means the camera stalled.
 */
function usableFrames(frames, challenge) {
  const seen = new Set();
  const kept = [];
  for (const frame of frames) {
    const previous = kept[kept.length - 1];
    if (previous && frame.timestamp_ms - previous.timestamp_ms < MIN_FRAME_GAP_MS) continue;
    if (seen.has(frame.image)) continue;
    seen.add(frame.image);
    kept.push(frame);
  }
  const min = challenge.min_frames ?? 1;
  if (kept.length < min) {
    throw new CameraError(`The camera delivered ${kept.length} distinct frames, ${min} are needed`, { code: 'camera_stalled' });
  }
  return kept.slice(0, challenge.max_frames ?? kept.length);
}
