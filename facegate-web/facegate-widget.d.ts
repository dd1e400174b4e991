// Types of facegate-widget.js: FACEIO's widget on a self-hosted FaceGate server
// (served at /v1/sdk/facegate-widget.js and /v1/sdk/facegate-widget.d.ts).

import type { FaceGateClient, FaceGateError, LivenessAction, LivenessFrame } from './facegate.js';

// ---------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------

export type WidgetErrorCode =
  | 'PERMISSION_REFUSED'
  | 'TERMS_NOT_ACCEPTED'
  | 'SESSION_IN_PROGRESS'
  | 'FACE_DUPLICATION'
  | 'TIMEOUT'
  | 'NO_FACES_DETECTED'
  | 'UNRECOGNIZED_FACE'
  | 'MANY_FACES'
  | 'PAD_ATTACK'
  | 'UNIQUE_PIN_REQUIRED'
  | 'FACE_MISMATCH'
  | 'WRONG_PIN_CODE'
  | 'NETWORK_IO'
  | 'PROCESSING_ERR'
  | 'UNAUTHORIZED'
  | 'UI_NOT_READY'
  | 'TOO_MANY_REQUESTS'
  | 'MINORS_NOT_ALLOWED'
  /** FaceGate's addition: the user closed the widget, or restartSession() ended the operation. */
  | 'CANCELED'
  /** FACEIO's; never raised by FaceGate. */
  | 'EMPTY_ORIGIN'
  | 'FORBIDDDEN_ORIGIN'
  | 'FORBIDDDEN_COUNTRY';

export type ErrorCodes = { readonly [K in WidgetErrorCode]: K };

/** `{ NAME: 'NAME' }` for every code, frozen. */
export declare const ERROR_CODES: ErrorCodes;

export type CameraCode =
  | 'camera_permission_denied'
  | 'camera_unavailable'
  | 'camera_in_use'
  | 'camera_constraints'
  | 'camera_insecure_context'
  | 'camera_unknown'
  | 'camera_not_ready'
  | 'camera_stalled';

export interface WidgetErrorOptions {
  cameraCode?: CameraCode | null;
  serverCode?: string | null;
  attemptsRemaining?: number | null;
  confidence?: number | null;
  status?: number | null;
  details?: unknown;
  retryAfter?: number | null;
  retryable?: boolean;
  cause?: unknown;
}

/** What enroll() and authenticate() reject with. */
export declare class WidgetError extends FaceGateError {
  constructor(code: WidgetErrorCode, message?: string, options?: WidgetErrorOptions);
  readonly code: WidgetErrorCode;
  /** The FaceGuard camera code when the camera failed (PERMISSION_REFUSED, NO_FACES_DETECTED), else null. */
  readonly cameraCode: CameraCode | null;
  /** The server's SCREAMING_CODE when the server refused, else null. */
  readonly serverCode: string | null;
  /** WRONG_PIN_CODE: attempts left (0 when the widget gives up), else null. */
  readonly attemptsRemaining: number | null;
  /** UNRECOGNIZED_FACE: the match confidence; PAD_ATTACK: the liveness confidence; else null. */
  readonly confidence: number | null;
}

/** Any error → the WidgetError the widget would reject with. */
export declare function toWidgetError(error: unknown, context?: { cameraReady?: boolean }): WidgetError;

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

export interface OperationParams {
  /** 'auto' (the browser's languages), or a BCP 47 tag; unsupported → English. */
  locale?: string;
  /** Seconds to wait for camera permission. Default 27 → PERMISSION_REFUSED. */
  permissionTimeout?: number;
  /** Seconds for the liveness capture. Default 27 → NO_FACES_DETECTED (TIMEOUT when the camera never sent video). */
  idleTimeout?: number;
  /** Seconds to wait for each server answer. Default 40 → TIMEOUT. */
  replyTimeout?: number;
  /** Minutes to wait for the terms (and a PIN). Default 10 → TERMS_NOT_ACCEPTED (TIMEOUT for a PIN). */
  termsTimeout?: number;
}

export interface EnrollParams extends OperationParams {
  /** Cross-device handoff, as for authenticate(); `name` (and `role`, `payload`) go to the phone's enrollment. */
  handoff?: boolean;
  /** Any JSON up to 16 KB, handed back by authenticate(). */
  payload?: unknown;
  /** true: the host collected consent; the screen is skipped, the consent still recorded. */
  userConsent?: boolean;
  /** A consent the host recorded itself (client.recordConsent). */
  consentId?: string;
  /** The user's PIN (4–16 digits), when the host asked for it; otherwise the widget asks if the server requires one. */
  pin?: string;
  /**
   * Ask the user to choose a PIN before enrolling, even if the server does not
   * require one (a tenant in `when_ambiguous` mode asks only users who have a PIN).
   * Do not use it with a tenant whose PIN mode is `off` (the server refuses a PIN).
   */
  askPin?: boolean;
  /** The user's name on the server. Default: the demo's, or 'FaceGate user'. */
  name?: string;
  /** Default 'user'. */
  role?: string;
}

export interface EnrollUserInfo {
  /** The user id. */
  facialId: string;
  /** ISO 8601. */
  timestamp: string;
  details: { age: number | null; gender: string | null };
}

export interface AuthenticateUserData {
  facialId: string;
  /** The payload given at enrollment, or null. */
  payload: unknown;
  /** ISO 8601. */
  timestamp: string;
  /** FaceGate's addition: the match confidence (0–100). */
  confidence: number;
  /** FaceGate's addition: exchange it for a session (POST /v1/session) on your server. */
  verificationToken: string | null;
  /** FaceGate's additions: the session's refresh token and id (`sessionId` is what `reverify` renews). */
  refreshToken: string | null;
  sessionId: string | null;
}

export interface AuthenticateParams extends OperationParams {
  /**
   * Cross-device handoff: a QR code here, the check on the phone, the session
   * pushed back. Without it, the phone is offered when this device has no
   * camera; `false` turns the offer off.
   */
  handoff?: boolean;
  /** Re-verify the open session `sessionId` (continuous re-verification) instead of a new login. */
  reverify?: boolean;
  sessionId?: string;
  /** The session's current refresh token (spent by the re-verification; the result has the next). */
  refreshToken?: string;
}

// ---------------------------------------------------------------------------
// Iframe mode
// ---------------------------------------------------------------------------

export interface EmbedOptions {
  /** Origins allowed to receive close messages ('*' is ignored). */
  parentOrigins: string[];
}

/** FaceGuard close messages (`bypass_active` is never sent: FaceGate has no admin bypass). */
export type CloseMessage =
  | { action: 'close'; operation: 'enroll'; reason: 'approved'; confidence: number | null; facialId: string }
  | {
      action: 'close';
      operation: 'authenticate';
      reason: 'approved';
      confidence: number | null;
      facialId: string;
      payload: unknown;
      verificationToken: string | null;
    }
  | { action: 'close'; operation: 'enroll' | 'authenticate'; reason: 'rejected'; confidence: number }
  | { action: 'close'; operation: 'enroll' | 'authenticate'; reason: 'canceled' }
  | { action: 'close'; operation: 'enroll' | 'authenticate'; reason: 'no_base_photo' }
  | {
      action: 'close';
      operation: 'enroll' | 'authenticate';
      reason: 'error';
      /** The camera code when the camera failed, else the widget's code. */
      error: CameraCode | WidgetErrorCode;
      code: WidgetErrorCode;
    };

export declare function closeMessage(
  operation: 'enroll' | 'authenticate',
  outcome: { result: { facialId: string; confidence?: number; payload?: unknown; verificationToken?: string | null } } | { error: WidgetError },
): CloseMessage;

/** The targetOrigins for a close message: the allow-listed parent, or every allow-listed origin when the parent is unknown. Never '*'. */
export declare function closeTargets(parentOrigins: readonly string[] | undefined, parentOrigin: string | null | undefined): string[];

/** The embedding page's origin (location.ancestorOrigins, else document.referrer), or null. */
export declare function parentOriginOf(win: Window | null | undefined): string | null;

// ---------------------------------------------------------------------------
// Locales and helpers
// ---------------------------------------------------------------------------

export type Locale = 'en' | 'fr';

/** The widget's strings per language. */
export declare const MESSAGES: Record<Locale, Record<string, unknown>>;

/** The language to show: requested if supported; 'auto' → the first supported of `languages`; else 'en'. */
export declare function resolveLocale(requested: string | undefined, languages?: readonly string[]): Locale;

/** 4–16 ASCII digits. */
export declare function isValidPin(pin: unknown): boolean;

/** FACEIO's defaults (seconds; termsTimeout in minutes). */
export declare const DEFAULT_TIMEOUTS: Readonly<{ permissionTimeout: 27; idleTimeout: 27; replyTimeout: 40; termsTimeout: 10 }>;

// ---------------------------------------------------------------------------
// The widget
// ---------------------------------------------------------------------------

/** What the widget needs of a camera (Camera, or a test double). */
export interface WidgetCamera {
  open(): Promise<unknown>;
  close(): void;
  attachToVideo(video: HTMLVideoElement): void;
  readonly isReady: boolean;
  readonly stream?: MediaStream | null;
  captureFrame(): LivenessFrame;
  captureFrames(count: number, intervalMs: number): Promise<LivenessFrame[]>;
}

export type PinReason = 'choose' | 'unique' | 'required' | 'wrong';

/** The view the widget drives (WidgetView, or a test double). */
export interface WidgetViewLike {
  open(): void;
  setState(state: 'loading' | 'camera' | 'challenge' | 'processing', info?: { actions?: LivenessAction[] }): void;
  attachCamera(camera: WidgetCamera): void;
  prompt(key: 'get_ready' | 'hold_still' | LivenessAction, step?: { index: number; total: number }): void;
  askConsent(request: { text: string; version: string }): Promise<boolean>;
  /** Resolves the PIN, or null when the user closed the prompt. */
  askPin(request: { reason: PinReason; attemptsRemaining: number | null; invalid: boolean }): Promise<string | null>;
  showSuccess(): Promise<void>;
  showError(error: WidgetError): Promise<void>;
  close(): void;
}

export interface ViewInit {
  operation: 'enroll' | 'authenticate';
  locale: Locale;
  strings: Record<string, unknown>;
  /** The user cancelled (Esc, ×). */
  onCancel(): void;
}

export interface FaceGateWidgetOptions {
  /** Default locale for every operation ('auto'). */
  locale?: string;
  /** Iframe mode: post FaceGuard close messages to an allow-listed parent. */
  embed?: EmbedOptions;
  /** Where the dialog mounts. Default document.body. */
  container?: Element;
  /** How long the success and error screens stay (ms). Default { success: 1200, error: 3000 }. */
  feedbackMs?: { success?: number; error?: number };
  // Injectables (tests):
  createView?: (init: ViewInit) => WidgetViewLike;
  createCamera?: () => WidgetCamera;
  window?: Window | null;
  navigator?: { languages?: readonly string[]; language?: string };
  timers?: { setTimeout(fn: () => void, ms: number): unknown; clearTimeout(id: unknown): void };
  sleep?: (ms: number) => Promise<void>;
  /** Pauses (ms): introMs before capture, stepMs after each prompt, frameIntervalMs between frames. */
  pace?: { introMs?: number; stepMs?: number; frameIntervalMs?: number };
}

export declare class FaceGateWidget {
  /** `client`: an API key's FaceGateClient, or `new FaceGateClient({ demo: true })`. */
  constructor(client: FaceGateClient, options?: FaceGateWidgetOptions);
  /** Consent (unless userConsent), liveness, enrollment; asks for a PIN when the server requires one. */
  enroll(params?: EnrollParams): Promise<EnrollUserInfo>;
  /** Liveness, identification; asks for a PIN when the server requires one (3 tries). */
  authenticate(params?: AuthenticateParams): Promise<AuthenticateUserData>;
  /** Ends the operation in progress (CANCELED); false while the server is committing it. */
  restartSession(): boolean;
  fetchAllErrorCodes(): ErrorCodes;
}

/** The DOM view: a `<facegate-widget>` element with an open shadow root. */
export declare class WidgetView implements WidgetViewLike {
  constructor(init: ViewInit & { document: Document; container?: Element; feedbackMs?: { success?: number; error?: number } });
  readonly locale: Locale;
  open(): void;
  setState(state: 'loading' | 'camera' | 'challenge' | 'processing', info?: { actions?: LivenessAction[] }): void;
  attachCamera(camera: WidgetCamera): void;
  prompt(key: 'get_ready' | 'hold_still' | LivenessAction, step?: { index: number; total: number }): void;
  askConsent(request: { text: string; version: string }): Promise<boolean>;
  askPin(request: { reason: PinReason; attemptsRemaining: number | null; invalid: boolean }): Promise<string | null>;
  showSuccess(): Promise<void>;
  showError(error: WidgetError): Promise<void>;
  close(): void;
}
