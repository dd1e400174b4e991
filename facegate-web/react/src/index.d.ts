// Types of @facegate/react. The SDK's own types are in ./facegate.d.ts and
// ./facegate-widget.d.ts, shipped beside this file and re-exported.
import type { CSSProperties, ReactElement, RefCallback } from 'react';
import type {
  Camera,
  CameraError,
  ConsentVersion,
  EnrollResult,
  FaceGateClient,
  FaceGateSession,
  LivenessAction,
  SessionProviderName,
  VerifyResult,
} from './facegate.js';
import type { PinReason, WidgetError } from './facegate-widget.js';

export * from './facegate.js';
export { ERROR_CODES, MESSAGES, WidgetError, toWidgetError } from './facegate-widget.js';
export type { ErrorCodes, Locale, PinReason, WidgetErrorCode } from './facegate-widget.js';

/** Where a ceremony is. */
export type FaceGateStatus = 'idle' | 'camera' | 'challenge' | 'verifying' | 'pin' | 'handoff' | 'done' | 'error';

export type FaceGateMode = 'authenticate' | 'enroll';

/** Pauses that let people read a prompt before the capture starts (ms). */
export interface FaceGatePace {
  introMs?: number;
  stepMs?: number;
  frameIntervalMs?: number;
}

export interface UseFaceGateOptions {
  /** Default 'authenticate'. */
  mode?: FaceGateMode;
  /** A client of your own; else give `apiKey`. */
  client?: FaceGateClient;
  /** A client key (fg_test_pub_… / fg_live_pub_…): safe in a page. A server key is refused (UNAUTHORIZED) and never sent. */
  apiKey?: string;
  /** The server's address ('' = this page's origin). */
  baseUrl?: string;
  /** Tier 2: the session `onSession` receives carries this provider's tokens. With `client`, the client's own `provider` applies. */
  provider?: SessionProviderName;
  /**
   * authenticate: the face was recognized (the server's verify answer, with
   * `verification_token`, FaceGate's token for your guarded routes). Called
   * once the ceremony is over: after the session exchange when `onSession` is given.
   */
  onVerified?: (result: VerifyResult) => void;
  /** enroll: the server's enroll answer (`user_id`, `enrollments`). */
  onEnrolled?: (result: EnrollResult) => void;
  /** authenticate: when given, the verification token is exchanged (POST /v1/session) and the session handed here. */
  onSession?: (session: FaceGateSession) => void;
  /** Every failure, as a WidgetError: `code` one of ERROR_CODES, `cameraCode` (camera_permission_denied…), `serverCode`. */
  onError?: (error: WidgetError) => void;
  /** enroll: any JSON up to 16 KB, handed back by verify. */
  payload?: unknown;
  /** enroll: the user's display name (default 'FaceGate user'). */
  name?: string;
  /** enroll: the user's role. */
  role?: string;
  /** enroll: a PIN chosen up front (4–16 digits); otherwise asked when the server wants one. */
  pin?: string | number;
  /** enroll: a consent the host recorded itself (no consent screen). */
  consentId?: string;
  /** true: straight to the phone (cross-device handoff); false: never offer it. */
  handoff?: boolean;
  /**
   * Start on mount, without a click (strict-mode safe: the camera opens once):
   * authenticate, or enroll with `consentId` or `handoff` (no consent screen to show).
   */
  autoStart?: boolean;
  pace?: FaceGatePace;
  /** How long an enroll, verify or session exchange may take before TIMEOUT (ms, default 40 000). */
  replyTimeoutMs?: number;
  /** Tests: another Camera. */
  createCamera?: () => Camera;
}

export interface PinRequest {
  reason: PinReason;
  attemptsRemaining?: number | null;
  /** The last answer did not have 4–16 digits. */
  invalid: boolean;
}

export interface HandoffView {
  /** The server's QR code (SVG text: show it as an image, never as markup). */
  qrSvg: string;
  matchCode: string;
  status: 'pending' | 'scanned' | 'completed' | 'declined' | string;
}

export interface UseCameraOptions {
  /** true opens the camera; false (or unmounting) releases it. */
  active?: boolean;
  /** A device id, or video track constraints. */
  constraints?: string | MediaTrackConstraints;
  createCamera?: () => Camera;
}

export interface UseCameraResult {
  /** Put on a <video>. */
  videoRef: RefCallback<HTMLVideoElement>;
  status: 'off' | 'opening' | 'on' | 'error';
  error: CameraError | null;
  /** Idempotent: the camera being opened or already open. */
  open(): Promise<Camera>;
  /** Stops every track. */
  close(): void;
  camera: Camera | null;
}

export interface UseFaceGateResult {
  status: FaceGateStatus;
  mode: FaceGateMode;
  /** The prompt to show during the challenge. */
  prompt: { key: LivenessAction | 'get_ready' | 'hold_still'; index?: number; total?: number } | null;
  /** The challenge's actions (empty in passive mode). */
  actions: LivenessAction[];
  /** While status is 'pin'. */
  pin: PinRequest | null;
  /** While status is 'handoff'. */
  handoff: HandoffView | null;
  /** When done: the verify (authenticate) or enroll answer (after a handoff: the phone's, the same fields). */
  result: VerifyResult | EnrollResult | null;
  /** An enrollment, sign-in or session exchange is in flight: it cannot be cancelled. */
  committing: boolean;
  /** When done and `onSession` was given. */
  session: FaceGateSession | null;
  error: WidgetError | null;
  /** enroll: the consent text to show before start() (null while it loads). */
  consent: ConsentVersion | null;
  consentError: WidgetError | null;
  client: FaceGateClient | null;
  videoRef: RefCallback<HTMLVideoElement>;
  camera: UseCameraResult;
  /** Runs the ceremony (enroll: the user accepted `consent`; before it has loaded, TERMS_NOT_ACCEPTED). */
  start(): Promise<void>;
  /** The ceremony on the user's phone. */
  startHandoff(): Promise<void>;
  /** Ends the running ceremony with CANCELED; false when none runs, or while committing. */
  cancel(): boolean;
  /** Back to 'idle' after done or error. */
  reset(): void;
  /** The PIN the user typed (status 'pin'). */
  submitPin(pin: string): void;
}

export declare function useFaceGate(options?: UseFaceGateOptions): UseFaceGateResult;
export declare function useCamera(options?: UseCameraOptions): UseCameraResult;

export interface FaceGateProps extends UseFaceGateOptions {
  /** 'auto' (the browser's languages), 'en' or 'fr'. */
  locale?: string;
  className?: string;
  /** Theme with custom properties: { '--facegate-accent': '#0a7' }. */
  style?: CSSProperties & Record<`--facegate-${string}`, string | number>;
  /** Do not add the stylesheet (bring your own). */
  unstyled?: boolean;
}

export declare function FaceGate(props: FaceGateProps): ReactElement;

/** The stylesheet the component adds, for hosts that pass `unstyled` and add it themselves. */
export declare const stylesheet: string;
