// Types of facegate.js, the browser SDK of the self-hosted FaceGate server
// (served at /v1/sdk/facegate.js and /v1/sdk/facegate.d.ts).

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

export type SessionProviderName = 'supabase' | 'auth0' | 'firebase' | 'jwt';

export interface FaceGateConfig {
  /** Required, unless `demo` is true. fg_live_… or fg_test_…. */
  apiKey?: string;
  /**
   * The server's public demo tenant: no API key, the `/demo/*` routes
   * (createLivenessSession, uploadFrames, enroll, verify, recordConsent) plus
   * preflight(). match, createSession and refresh are not available.
   */
  demo?: boolean;
  /**
   * On the phone of a cross-device handoff: the handoff's token (no API key).
   * createLivenessSession, uploadFrames and recordConsent use the handoff's
   * routes; verify and enroll complete it (the desktop gets the result).
   */
  handoff?: string;
  /**
   * Where the FaceGate router is mounted; a trailing slash is stripped.
   * Default: the server that served this module, else the page's origin ('').
   */
  baseUrl?: string;
  /** Face match confidence threshold (0–100). Default 95. */
  confidenceThreshold?: number;
  /** Liveness challenge timeout in ms. Default 30000. */
  challengeTimeout?: number;
  /** Provider for createSession(); null sends none (the server's default, jwt). */
  provider?: SessionProviderName | null;
  /** Provider-specific config, kept client-side. */
  providerConfig?: Record<string, unknown>;
  /** Hex SHA-256 (64 characters) sent as x-device-fingerprint: binds issued tokens to this device. */
  deviceFingerprint?: string | null;
  /**
   * The SDK's own telemetry to POST /v1/signals (attempts, retries, camera
   * errors), batched and sent by navigator.sendBeacon. Default true; never
   * in demo or handoff mode.
   */
  signals?: boolean;
}

/** One telemetry signal, as POST /v1/signals takes it. */
export interface ClientSignal {
  signal_id: string;
  source: string;
  type: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
  data: Record<string, unknown>;
}

export interface ResolvedFaceGateConfig {
  /** null in demo mode. */
  readonly apiKey: string | null;
  readonly demo: boolean;
  readonly baseUrl: string;
  readonly confidenceThreshold: number;
  readonly challengeTimeout: number;
  readonly provider: SessionProviderName | null;
  readonly providerConfig: Readonly<Record<string, unknown>>;
  readonly deviceFingerprint: string | null;
  /** Whether the SDK sends its own signals. */
  readonly signals: boolean;
}

/** The subset of Web Storage the client uses (localStorage by default). */
export interface DeviceStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** Injectables and retry tuning, mainly for tests. */
export interface FaceGateClientOptions {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** null: do not persist the device id. */
  storage?: DeviceStorage | null;
  /** For the backoff jitter; returns [0, 1). */
  random?: () => number;
  /** Wall clock in ms, for HTTP-date Retry-After values. */
  now?: () => number;
  /** First retry delay before jitter. Default 250 ms (then ×2 per attempt, ×0.5–1.5 jitter). */
  backoffMs?: number;
  /** A longer Retry-After (a lockout) is thrown instead of waited out. Default 10000 ms. */
  maxRetryWaitMs?: number;
  /** How signals are beaconed; null sends them with fetch (keepalive). Default navigator.sendBeacon. */
  sendBeacon?: ((url: string, data: Blob) => boolean) | null;
}

// ---------------------------------------------------------------------------
// Results (the server's JSON, snake_case)
// ---------------------------------------------------------------------------

export interface MatchedUser {
  id: string;
  name: string;
  role: string;
  metadata: Record<string, unknown>;
}

export interface MatchResult {
  matched: boolean;
  /** 0–100. */
  confidence: number;
  user: MatchedUser | null;
}

export type LivenessMode = 'active' | 'passive';
export type LivenessAction = 'turn_left' | 'turn_right' | 'look_up' | 'look_down' | 'blink';

export interface LivenessChallenge {
  mode: LivenessMode;
  /** In this order; empty in passive mode. Directions are the user's own. */
  actions: LivenessAction[];
  /** Echo it with the frames. */
  nonce: string;
  min_frames: number;
  max_frames: number;
}

export interface LivenessSession {
  session_id: string;
  /** AWS credentials with the Rekognition engine; null with the local engine. */
  credentials: Record<string, string> | null;
  region: string | null;
  /** The local engine's challenge; absent when the engine runs the check itself (Rekognition). */
  challenge?: LivenessChallenge;
  /** ISO 8601; a session lives 3 minutes. */
  expires_at: string;
}

export interface LivenessFrame {
  /** Base64 JPEG or PNG (a data: URL prefix is stripped), as the camera saw it: not mirrored. */
  image: string;
  /** Client clock in ms; must increase by at least 20 ms per frame. */
  timestamp_ms: number;
}

export interface UploadFramesParams {
  nonce: string;
  frames: LivenessFrame[];
}

export interface LivenessOutcome {
  session_id: string;
  is_live: boolean;
  /** 0–100. */
  confidence: number;
}

/** One named contribution to a risk score (docs/risk.md lists the codes). */
export interface RiskFactor {
  code: string;
  weight: number;
  /** 0–1. */
  value: number;
}

export interface RiskAssessment {
  /** 0 (no risk) to 1. */
  score: number;
  level: 'low' | 'medium' | 'high';
  factors: RiskFactor[];
  /** true: no token yet; pass the step-up first. */
  step_up_required: boolean;
  /** `pin`: resend verify with the PIN and the same liveness session; `liveness_active`: a second, active check with `stepUpFor`. */
  step_up_type: 'pin' | 'liveness_active' | null;
  /** `shadow`: scored and reported, nothing enforced. */
  mode: 'enforce' | 'shadow';
  /** What enforcing the tenant's rules does with this score. */
  decision: 'allow' | 'step_up' | 'block';
}

export interface VerifyParams {
  livenessSessionId: string;
  /** 4–16 digits, when the server asked for one (PIN_REQUIRED, WRONG_PIN_CODE, a `pin` step-up); the same liveness session is reused. */
  pin?: string;
  /** A step-up's `step_up_id`, with a second, active liveness session. */
  stepUpFor?: string;
}

export interface ReverifyParams {
  /** The open session to renew. */
  sessionId: string;
  /** A fresh, live liveness session of the session's user. */
  livenessSessionId: string;
  /** The session's current refresh token: proof of holding it (spent; the answer carries the next). */
  refreshToken: string;
}

export interface VerifyResult {
  matched: boolean;
  confidence: number;
  verification_token: string | null;
  refresh_token: string | null;
  session_id: string | null;
  /** Persisted to localStorage ('facegate.device_id') and sent as x-device-id from then on. */
  device_id: string;
  user: MatchedUser | null;
  risk: RiskAssessment | null;
  re_enrollment_required: boolean;
  /** The enrollment payload of the matched user, or null. */
  payload: unknown;
  /** A `liveness_active` step-up's id, to send as `stepUpFor`. */
  step_up_id?: string | null;
}

export interface FaceGateSession {
  token: string;
  refresh_token: string;
  /** Seconds. */
  expires_in: number;
  user: MatchedUser;
  provider_session: Record<string, unknown> | null;
}

export interface RefreshResult {
  verification_token: string;
  refresh_token: string;
  expires_in: number;
  session_id: string;
}

export interface EnrollParams {
  /** A completed, live liveness session (one of this and image). */
  livenessSessionId?: string;
  /** Base64 face image (one of this and livenessSessionId); a data: URL prefix is stripped. */
  image?: string;
  name: string;
  /** Default 'user'. */
  role?: string;
  externalId?: string;
  email?: string;
  phone?: string;
  /** From recordConsent(); the server requires it. */
  consentId?: string;
  enrolledWithGlasses?: boolean;
  metadata?: Record<string, unknown>;
  /** FACEIO's payload: any JSON up to 16 KB, handed back by verify. */
  payload?: unknown;
  /** 4–16 digits: required when the tenant's PIN mode is `always` (400 PIN_REQUIRED otherwise). */
  pin?: string | number;
}

export interface Enrollment {
  faceId: string;
  angle: string;
  confidence: number;
  enrolled_with_glasses: boolean;
  created_at: string;
}

export interface EnrollResult {
  user_id: string;
  enrollments: Enrollment[];
  /** Age and gender estimated from the enrolled face. */
  details?: { age: number | null; gender: string | null };
}

/** GET /demo/preflight. */
export interface DemoPreflight {
  /** false (with a 503) when the server has no face engine. */
  ready: boolean;
  face_engine: string;
  liveness: { mode: LivenessMode; actions: LivenessAction[] };
  pin: { mode: 'off' | 'when_ambiguous' | 'always'; unique: boolean };
  consent: { consent_version: string; consent_text: string; consent_text_hash: string };
  /** Demo users are deleted after this many hours. */
  data_ttl_hours: number;
  /** Origins allowed to embed the demo page in an iframe (close messages go only to them). */
  embed_origins: string[];
}

export interface HealthCheck {
  status: 'ok' | 'error';
  latencyMs: number;
}

export interface HealthStatus {
  status: 'healthy' | 'degraded' | 'unhealthy';
  checks: Record<string, HealthCheck>;
  provider: string | null;
  version: string;
  uptime_seconds: number;
}

export interface RecordConsentParams {
  consentVersion: string;
  /** Lower-case hex SHA-256 of the consent text, from consentVersions(). */
  consentTextHash: string;
  userId?: string;
}

export interface ConsentRecord {
  consent_id: string;
  consented_at: string;
}

export interface ConsentVersion {
  consent_version: string;
  text: string;
  consent_text_hash: string;
}

export interface ConsentVersions {
  versions: ConsentVersion[];
}

// ---------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------

export interface FaceGateEventMap {
  /** After a verify that issued a token. */
  verified: VerifyResult;
  /** After reverify() renewed a session. */
  reverified: VerifyResult;
  /** After createSession(). */
  session_created: FaceGateSession;
  /** runLiveness found the camera ready. */
  camera_ready: { stream: MediaStream | null };
  /** Any error a client method or runLiveness throws (once per error). */
  error: FaceGateError;
}

export type FaceGateEventType = keyof FaceGateEventMap;

export type FaceGateEvent = {
  [K in FaceGateEventType]: { type: K; data: FaceGateEventMap[K] };
}[FaceGateEventType];

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

export declare class FaceGateClient {
  /** Throws InvalidApiKey (MISSING_API_KEY) without an apiKey (unless demo: true). */
  constructor(config: FaceGateConfig, options?: FaceGateClientOptions);

  /** The resolved configuration, frozen. */
  readonly config: ResolvedFaceGateConfig;

  /** POST /v1/match. */
  match(params: { image: string }): Promise<MatchResult>;
  /** POST /v1/liveness/session; `mode: 'active'` asks for an active challenge (a step-up needs one). */
  createLivenessSession(params?: { mode?: 'active' | 'passive' }): Promise<LivenessSession>;
  /** POST /v1/verify; persists device_id, emits `verified` once a token is issued. */
  verify(params: VerifyParams): Promise<VerifyResult>;
  /** POST /v1/verify with session_id: renews an open session (same id, new tokens); emits `reverified`. */
  reverify(params: ReverifyParams): Promise<VerifyResult>;
  /** POST /v1/session (with config.provider when set); emits `session_created`. */
  createSession(verificationToken: string): Promise<FaceGateSession>;
  /** POST /v1/enroll. */
  enroll(params: EnrollParams): Promise<EnrollResult>;
  /** Queues a telemetry signal (batched; see FaceGateConfig.signals). */
  signal(type: string, data?: Record<string, unknown>): void;
  /** Sends the queued signals now; resolves with those sent, or null. */
  flushSignals(): Promise<ClientSignal[] | null>;
  /** GET /v1/health; an unhealthy server (503) is returned, not thrown. */
  health(): Promise<HealthStatus>;

  /** Every event. Returns the unsubscribe function. */
  on(listener: (event: FaceGateEvent) => void): () => void;
  /** One type of event. Returns the unsubscribe function. */
  on<K extends FaceGateEventType>(
    type: K,
    handler: (event: { type: K; data: FaceGateEventMap[K] }) => void,
  ): () => void;
  /** Emits an event to the subscribers. */
  emit<K extends FaceGateEventType>(type: K, data: FaceGateEventMap[K]): void;

  /** POST /v1/liveness/session/:id/frames (local engine). */
  uploadFrames(sessionId: string, params: UploadFramesParams): Promise<LivenessOutcome>;
  /** POST /v1/session/refresh: a spent token presented again revokes the session. */
  refresh(refreshToken: string): Promise<RefreshResult>;
  /** POST /v1/consent. */
  recordConsent(params: RecordConsentParams): Promise<ConsentRecord>;
  /** GET /v1/consent/versions; in demo mode, the demo tenant's version from preflight(). */
  consentVersions(): Promise<ConsentVersions>;
  /** GET /demo/preflight (demo mode only; rejects with DEMO_ONLY otherwise). A 503 `ready: false` is returned. */
  preflight(): Promise<DemoPreflight>;

  // --- cross-device handoff (docs/handoff.md) ---
  /** POST /v1/handoff (the desktop). Keep `desktop_secret` to yourself. */
  createHandoff(params?: { mode?: 'verify' | 'enroll'; enroll?: Record<string, unknown> }): Promise<HandoffStarted>;
  /** GET /v1/handoff/:token/status with the desktop's secret; 410 rejects with HandoffExpired. */
  handoffStatus(started: Pick<HandoffStarted, 'handoff_token' | 'desktop_secret'>): Promise<HandoffStatus>;
  /**
   * Follows a handoff until it is final, over its WebSocket (polling when it
   * cannot open); resolves with the final status (`completed`: `session_data`
   * holds the verify answer and its tokens, handed over once), rejects with
   * HandoffExpired once expired.
   */
  watchHandoff(
    started: HandoffStarted,
    options?: { onStatus?: (status: HandoffStatus) => void; signal?: AbortSignal; WebSocket?: typeof WebSocket },
  ): Promise<HandoffStatus>;
  /** POST /v1/handoff/:token/scan (the phone, handoff mode): who asked, before the camera starts. */
  scanHandoff(): Promise<HandoffScan>;
  /** POST /v1/handoff/:token/decline (the phone, handoff mode). */
  declineHandoff(): Promise<{ status: 'declined'; matched: false }>;
}

export interface HandoffStarted {
  handoff_token: string;
  verify_url: string;
  expires_at: string;
  ws_url: string;
  desktop_secret: string;
  match_code: string;
  mode: 'verify' | 'enroll';
  /** The QR code of verify_url, an SVG document. */
  qr_svg: string;
}

export interface HandoffStatus {
  status: 'pending' | 'scanned' | 'completed' | 'declined' | 'expired';
  mode: 'verify' | 'enroll';
  user_id: string | null;
  /** Completed: the verify answer (tokens on the first look only, then `collected: true`) or the enroll answer. */
  session_data: (Record<string, unknown> & { collected?: boolean }) | null;
  match_code: string;
  expires_at: string;
}

export interface HandoffScan {
  mode: 'verify' | 'enroll';
  match_code: string;
  requested_at: string;
  expires_at: string;
  desktop: { browser: string | null; os: string | null; origin: string | null; same_network: boolean | null };
  consent: { consent_version: string; consent_text: string; consent_text_hash: string } | null;
  enroll_name: string | null;
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

export interface FaceGateErrorOptions {
  code?: string;
  retryable?: boolean;
  status?: number | null;
  details?: unknown;
  retryAfter?: number | null;
  cause?: unknown;
  /** ApiError only: the server's attempts_remaining. */
  attemptsRemaining?: number | null;
}

export interface ValidationIssue {
  path: string;
  message: string;
}

export declare class FaceGateError extends Error {
  constructor(message: string, options?: FaceGateErrorOptions);
  /**
   * The server's SCREAMING_CODE, a FaceGuard camera code, or the SDK's own
   * (NETWORK_ERROR, LIVENESS_TIMEOUT, NOT_AVAILABLE_IN_DEMO, DEMO_ONLY, …).
   */
  readonly code: string;
  /** Whether the same call may succeed later. */
  readonly retryable: boolean;
  /** HTTP status, or null when no response was received. */
  readonly status: number | null;
  /** The server's `details` (validation issues), or null. */
  readonly details: ValidationIssue[] | null;
  /** Seconds from the server's Retry-After, or null. */
  readonly retryAfter: number | null;
}

export type CameraErrorCode =
  | 'camera_permission_denied'
  | 'camera_unavailable'
  | 'camera_in_use'
  | 'camera_constraints'
  | 'camera_insecure_context'
  | 'camera_unknown'
  /** captureFrame() before a <video> is attached and playing. */
  | 'camera_not_ready'
  /** Too few distinct frames (a frozen video). */
  | 'camera_stalled';

export declare class CameraError extends FaceGateError {
  readonly code: CameraErrorCode;
}
export declare class CameraPermissionDenied extends CameraError {
  constructor(message?: string, options?: FaceGateErrorOptions);
}
export declare class CameraUnavailable extends CameraError {
  constructor(message?: string, options?: FaceGateErrorOptions);
}
/** The server's engine runs liveness itself (Rekognition): capture with AWS's FaceLivenessDetector, then `verify()`. */
export declare class ProviderLivenessRequired extends FaceGateError {
  constructor(session: LivenessSession, options?: FaceGateErrorOptions);
  readonly code: 'PROVIDER_LIVENESS_REQUIRED';
  /** The server's answer: `session_id`, `credentials`, `region` for AWS's component. */
  session: LivenessSession;
}
export declare class LivenessTimeout extends FaceGateError {
  constructor(message?: string, options?: FaceGateErrorOptions);
}
export declare class VerificationFailed extends FaceGateError {
  constructor(message?: string, options?: FaceGateErrorOptions);
}
/** The server answered with an error. */
export declare class ApiError extends FaceGateError {
  /** The server's `attempts_remaining` (WRONG_PIN_CODE: 2, 1, 0), else null. */
  readonly attemptsRemaining: number | null;
}
/** 401 MISSING_API_KEY / INVALID_API_KEY. */
export declare class InvalidApiKey extends ApiError {}
/** 403 LIVENESS_FAILED. */
export declare class LivenessFailed extends ApiError {}
/** 410. */
export declare class HandoffExpired extends ApiError {}
/** 403 RISK_BLOCKED. */
export declare class RiskBlocked extends ApiError {}
/** 403 RE_ENROLLMENT_REQUIRED: re-enroll from the same live session. */
export declare class ReEnrollmentRequired extends ApiError {}
/** 401 REVERIFY_REQUIRED: call reverify(). */
export declare class ReverifyRequired extends ApiError {
  /** The guard's `max_age` (seconds), when known. */
  readonly maxAge: number | null;
}
/** RFC 9470's challenge on a guarded route's 401: `{ maxAge }`, or null for any other answer. */
export declare function reverifyChallenge(response: Response): { maxAge: number | null } | null;
/** fetch failed; always retryable. */
export declare class NetworkError extends FaceGateError {
  constructor(message?: string, options?: FaceGateErrorOptions);
}

/** Maps a getUserMedia failure (a DOMException, by name) to the SDK's camera error. */
export declare function cameraErrorFrom(error: unknown): CameraError;

// ---------------------------------------------------------------------------
// Camera
// ---------------------------------------------------------------------------

export interface CameraDevice {
  deviceId: string;
  groupId: string;
  label: string;
  /** Inferred from the label. */
  facing: 'user' | 'environment' | 'unknown';
}

export interface CapturedFrame {
  /** Base64 JPEG without a data: prefix, as the camera saw it (not mirrored). */
  readonly image: string;
  /** Monotonic client clock, ms. */
  readonly timestamp_ms: number;
  readonly width: number;
  readonly height: number;
  /** The spec's name: the same JPEG as a data: URL. */
  readonly imageData: string;
  /** The spec's name for timestamp_ms. */
  readonly timestamp: number;
}

export interface CameraOptions {
  /** Frames are scaled down to this width. Default 640. */
  maxWidth?: number;
  /** JPEG quality 0–1. Default 0.85. */
  quality?: number;
  // Injectables for tests:
  mediaDevices?: MediaDevices | null;
  isSecureContext?: boolean;
  document?: Document;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export declare class Camera {
  constructor(options?: CameraOptions);
  /** Whether the MediaDevices API is present. */
  static isAvailable(): boolean;
  /** Video inputs with inferred facing. */
  static listDevices(): Promise<CameraDevice[]>;
  /** Requests permission and starts the stream. Throws CameraPermissionDenied / CameraUnavailable / CameraError. */
  open(deviceIdOrConstraints?: string | MediaTrackConstraints): Promise<MediaStream>;
  /** Binds the stream to a <video> (muted, inline) for preview and capture. */
  attachToVideo(video: HTMLVideoElement): void;
  /** One JPEG frame; throws CameraError('camera_not_ready') before the video plays. */
  captureFrame(): CapturedFrame;
  /** `count` frames at least max(intervalMs, 25) ms apart. */
  captureFrames(count: number, intervalMs: number): Promise<CapturedFrame[]>;
  /** Stops the tracks. */
  close(): void;
  readonly stream: MediaStream | null;
  readonly isReady: boolean;
}

// ---------------------------------------------------------------------------
// Liveness
// ---------------------------------------------------------------------------

/** What runLiveness needs of a camera (Camera, or a test double). */
export interface LivenessCamera {
  readonly isReady: boolean;
  readonly stream?: MediaStream | null;
  captureFrame(): LivenessFrame;
  captureFrames(count: number, intervalMs: number): Promise<LivenessFrame[]>;
}

export interface RunLivenessOptions {
  /** Before capture starts; may be async (e.g. an intro screen), not counted in the timeout. */
  onChallenge?: (challenge: LivenessChallenge, session: LivenessSession) => void | Promise<void>;
  /** As each action is prompted; may be async. */
  onStep?: (action: LivenessAction, index: number) => void | Promise<void>;
  /** Gap between frames. Default 120 ms (minimum 25). */
  frameIntervalMs?: number;
  /** Frames per action at most (within max_frames). Default 10. */
  framesPerStep?: number;
  /** Use this session instead of creating one. */
  session?: LivenessSession;
  /** Default: client.config.challengeTimeout. */
  timeoutMs?: number;
  /** Stops the capture (a page or component going away); runLiveness rejects with the signal's reason. */
  signal?: AbortSignal;
  sleep?: (ms: number) => Promise<void>;
}

export interface LivenessRunResult {
  sessionId: string;
  isLive: boolean;
  confidence: number;
}

/**
 * Creates a liveness session (unless given one), runs its challenge with the
 * camera, uploads the frames with the nonce. Throws LivenessTimeout after the
 * timeout; a session that is not live is returned with isLive false.
 */
export declare function runLiveness(
  client: Pick<FaceGateClient, 'createLivenessSession' | 'uploadFrames' | 'config'> & Partial<Pick<FaceGateClient, 'emit'>>,
  camera: LivenessCamera,
  options?: RunLivenessOptions,
): Promise<LivenessRunResult>;

/** How many frames runLiveness captures: a passive burst, or frames per action. */
export declare function planFrames(
  challenge: Partial<LivenessChallenge>,
  framesPerStep?: number,
): { burst: number; perStep: number };

/** Whether `key` is a client (browser) key, `fg_live_pub_…` or `fg_test_pub_…`: the only kind a page may hold. */
export declare function isClientKey(key: unknown): boolean;
