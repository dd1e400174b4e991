// facegate-widget.js: FACEIO's developer experience on a self-hosted FaceGate
// server. One zero-dependency ES module beside facegate.js (the server serves
// both at /v1/sdk/), no build step.
//
//   const widget = new FaceGateWidget(new FaceGateClient({ apiKey }));
//   const { facialId, details } = await widget.enroll({ payload: { email } });
//   const { facialId, payload } = await widget.authenticate();
//
// The file has two parts: the operation logic (error mapping, consent, PIN
// retries, timeouts, iframe close messages), which runs in node with injected
// fakes, and WidgetView, the DOM (a shadow root with its own CSS).

import { Camera, CameraError, FaceGateError, HandoffExpired, LivenessTimeout, NetworkError, ProviderLivenessRequired, runLiveness } from './facegate.js';

// ---------------------------------------------------------------------------
// Error codes
// ---------------------------------------------------------------------------

const CODE_NAMES = [
  'PERMISSION_REFUSED',
  'TERMS_NOT_ACCEPTED',
  'SESSION_IN_PROGRESS',
  'FACE_DUPLICATION',
  'TIMEOUT',
  'NO_FACES_DETECTED',
  'UNRECOGNIZED_FACE',
  'MANY_FACES',
  'PAD_ATTACK',
  'UNIQUE_PIN_REQUIRED',
  'FACE_MISMATCH',
  'WRONG_PIN_CODE',
  'NETWORK_IO',
  'PROCESSING_ERR',
  'UNAUTHORIZED',
  'UI_NOT_READY',
  'TOO_MANY_REQUESTS',
  'MINORS_NOT_ALLOWED',
  // FaceGate's addition: the user closed the widget (Esc, ×) or restartSession() ended the operation.
  'CANCELED',
  // FACEIO's, kept so a FACEIO switch keeps working; FaceGate never raises them
  // (origins are the server's CORS and embed settings, there are no country rules).
  'EMPTY_ORIGIN',
  'FORBIDDDEN_ORIGIN',
  'FORBIDDDEN_COUNTRY',
];

/** Every code a widget operation can reject with, FACEIO's names: `{ NAME: 'NAME' }`, frozen. */
export const ERROR_CODES = Object.freeze(Object.fromEntries(CODE_NAMES.map((name) => [name, name])));

const DESCRIPTIONS = {
  PERMISSION_REFUSED: 'Access to the camera stream was denied or failed',
  TERMS_NOT_ACCEPTED: 'The user did not accept the terms',
  SESSION_IN_PROGRESS: 'Another enroll() or authenticate() is in progress',
  FACE_DUPLICATION: 'This face is already enrolled',
  TIMEOUT: 'The operation timed out',
  NO_FACES_DETECTED: 'No face was detected',
  UNRECOGNIZED_FACE: 'The face was not recognized',
  MANY_FACES: 'More than one face was detected',
  PAD_ATTACK: 'The liveness check failed (presentation attack suspected)',
  UNIQUE_PIN_REQUIRED: 'The PIN code must be unique',
  FACE_MISMATCH: 'The faces captured during enrollment do not match',
  WRONG_PIN_CODE: 'Wrong PIN code',
  NETWORK_IO: 'The server could not be reached',
  PROCESSING_ERR: 'The server could not process the request',
  UNAUTHORIZED: 'This application or user is not allowed to do this',
  UI_NOT_READY: 'The widget could not be displayed',
  TOO_MANY_REQUESTS: 'Too many requests; retry later',
  MINORS_NOT_ALLOWED: 'Minors are not allowed to enroll',
  CANCELED: 'The user canceled',
};

/**
 * What a widget operation rejects with: `code` is one of ERROR_CODES;
 * `cameraCode` the FaceGuard camera code when the camera failed; `serverCode`
 * the server's own code when the server refused.
 */
export class WidgetError extends FaceGateError {
  constructor(code, message = DESCRIPTIONS[code] ?? code, options = {}) {
    super(message, {
      code,
      retryable: options.retryable ?? false,
      status: options.status ?? null,
      details: options.details ?? null,
      retryAfter: options.retryAfter ?? null,
      cause: options.cause,
    });
    this.cameraCode = options.cameraCode ?? null;
    this.serverCode = options.serverCode ?? null;
    this.attemptsRemaining = options.attemptsRemaining ?? null;
    /** The match or liveness confidence (0–100) when the face was refused, else null. */
    this.confidence = options.confidence ?? null;
  }
}

/** The server's SCREAMING_CODE → FACEIO's code. */
const SERVER_CODES = {
  NO_FACE_DETECTED: 'NO_FACES_DETECTED',
  MANY_FACES: 'MANY_FACES',
  USER_ALREADY_ENROLLED: 'FACE_DUPLICATION',
  MINORS_NOT_ALLOWED: 'MINORS_NOT_ALLOWED',
  LIVENESS_FAILED: 'PAD_ATTACK',
  WRONG_PIN_CODE: 'WRONG_PIN_CODE',
  // Only reaches the mapper when the widget gave up asking.
  PIN_REQUIRED: 'WRONG_PIN_CODE',
  UNIQUE_PIN_REQUIRED: 'UNIQUE_PIN_REQUIRED',
  FACE_MISMATCH: 'FACE_MISMATCH',
  FORBIDDEN_ORIGIN: 'FORBIDDDEN_ORIGIN',
  EMPTY_ORIGIN: 'EMPTY_ORIGIN',
  INSUFFICIENT_SCOPE: 'UNAUTHORIZED',
  INVALID_API_KEY: 'UNAUTHORIZED',
  MISSING_API_KEY: 'UNAUTHORIZED',
  TENANT_SUSPENDED: 'UNAUTHORIZED',
  USER_SUSPENDED: 'UNAUTHORIZED',
  USER_LOCKED: 'UNAUTHORIZED',
  RATE_LIMITED: 'TOO_MANY_REQUESTS',
  TOO_MANY_ATTEMPTS: 'TOO_MANY_REQUESTS',
  LIVENESS_SESSION_EXPIRED: 'TIMEOUT',
  // The tenant's risk, rotation and re-verification rules.
  RISK_BLOCKED: 'UNAUTHORIZED',
  RE_ENROLLMENT_REQUIRED: 'UNAUTHORIZED',
  REVERIFY_REQUIRED: 'UNAUTHORIZED',
  REVERIFY_FACE_MISMATCH: 'UNRECOGNIZED_FACE',
  STEP_UP_FAILED: 'UNRECOGNIZED_FACE',
  STEP_UP_EXPIRED: 'TIMEOUT',
  SESSION_NOT_FOUND: 'UNAUTHORIZED',
};

/** The camera failed mid-capture (no usable video), rather than failing to start. */
const CAPTURE_CAMERA_CODES = new Set(['camera_not_ready', 'camera_stalled']);

/**
 * Any error an operation met → the WidgetError it rejects with. `context.cameraReady`
 * tells a liveness timeout with no video (TIMEOUT) from one with video (NO_FACES_DETECTED).
 */
export function toWidgetError(error, context = {}) {
  if (error instanceof WidgetError) return error;
  if (error instanceof CameraError) {
    const code = CAPTURE_CAMERA_CODES.has(error.code) ? 'NO_FACES_DETECTED' : 'PERMISSION_REFUSED';
    return new WidgetError(code, error.message, { cameraCode: error.code, cause: error });
  }
  if (error instanceof ProviderLivenessRequired) {
    // Rekognition mode: the capture UI is AWS's FaceLivenessDetector, not this widget.
    return new WidgetError('UI_NOT_READY', error.message, { serverCode: error.code, details: { session: error.session }, cause: error });
  }
  if (error instanceof LivenessTimeout) {
    const code = context.cameraReady === false ? 'TIMEOUT' : 'NO_FACES_DETECTED';
    return new WidgetError(code, DESCRIPTIONS[code], { cause: error });
  }
  if (error instanceof NetworkError) {
    return new WidgetError('NETWORK_IO', error.message, { retryable: true, cause: error });
  }
  if (error instanceof FaceGateError) {
    const status = error.status;
    let code = SERVER_CODES[error.code];
    if (!code) {
      if (status === 429) code = 'TOO_MANY_REQUESTS';
      else if (status === 401 || status === 403) code = 'UNAUTHORIZED';
      else code = 'PROCESSING_ERR';
    }
    return new WidgetError(code, error.message, {
      serverCode: error.code,
      status,
      details: error.details,
      retryAfter: error.retryAfter,
      retryable: error.retryable,
      attemptsRemaining: error.attemptsRemaining ?? null,
      cause: error,
    });
  }
  return new WidgetError('PROCESSING_ERR', error?.message ?? String(error), { cause: error });
}

// ---------------------------------------------------------------------------
// Locales
// ---------------------------------------------------------------------------

const plural = (n, one, many) => (n === 1 ? one : many.replace('{n}', String(n)));

/** The widget's strings. Add a language by adding a key with the same shape. */
export const MESSAGES = {
  en: {
    title: { enroll: 'Enroll your face', authenticate: 'Log in with your face' },
    brand: 'Secured by FaceGate',
    cancel: 'Cancel',
    close: 'Close',
    loading: 'Preparing…',
    // For the React component's own buttons (@facegate/react).
    start: { enroll: 'Start', authenticate: 'Log in with my face' },
    retry: 'Try again',
    consent: {
      title: 'Use your face to sign in?',
      lead: 'To enroll, this site processes biometric data of your face. Please read and accept the terms below.',
      accept: 'I agree',
      decline: 'Decline',
    },
    camera: { title: 'Allow camera access', hint: 'Your browser will ask for permission to use the camera.' },
    prompts: {
      get_ready: 'Center your face in the oval',
      hold_still: 'Hold still…',
      keep_inside: 'Keep your face inside the oval, in good light.',
      turn_left: 'Turn your head to the left',
      turn_right: 'Turn your head to the right',
      look_up: 'Tilt your head up',
      look_down: 'Tilt your head down',
      blink: 'Blink your eyes',
      step: (n, total) => `Step ${n} of ${total}`,
    },
    processing: { enroll: 'Creating your face ID…', authenticate: 'Recognizing you…' },
    pin: {
      label: 'PIN code',
      submit: 'Continue',
      invalid: 'Use 4 to 16 digits.',
      choose: { title: 'Choose a PIN code', hint: '4 to 16 digits. You may be asked for it when you log in.' },
      unique: { title: 'This PIN code is taken', hint: 'Choose a different PIN code.' },
      required: { title: 'Enter your PIN code', hint: 'To confirm it is you.' },
      wrong: { title: 'Wrong PIN code', hint: (n) => plural(n, '1 attempt left.', '{n} attempts left.') },
    },
    success: {
      enroll: { title: 'Face enrolled', hint: 'You can now log in with your face.' },
      authenticate: { title: 'Welcome back', hint: 'Your identity is confirmed.' },
    },
    errors: {
      PERMISSION_REFUSED: ['Camera access is needed', 'Allow camera access for this site, then try again.'],
      TERMS_NOT_ACCEPTED: ['Terms not accepted', 'You can enroll later if you change your mind.'],
      SESSION_IN_PROGRESS: ['Already in progress', 'Finish the current step first.'],
      FACE_DUPLICATION: ['Already enrolled', 'This face is already enrolled. Log in instead.'],
      TIMEOUT: ['This took too long', 'Please try again.'],
      NO_FACES_DETECTED: ['No face detected', 'Make sure your face is well lit and inside the oval.'],
      UNRECOGNIZED_FACE: ['Face not recognized', 'Enroll first, or try again in better light.'],
      MANY_FACES: ['More than one face', 'Make sure you are alone in front of the camera.'],
      PAD_ATTACK: ['Liveness check failed', 'Look at the camera yourself and follow the prompts.'],
      UNIQUE_PIN_REQUIRED: ['PIN code taken', 'Choose a different PIN code.'],
      FACE_MISMATCH: ['Faces do not match', 'Please try again.'],
      WRONG_PIN_CODE: ['Wrong PIN code', 'No attempts left. Start again to retry.'],
      NETWORK_IO: ['Connection problem', 'Check your internet connection and try again.'],
      PROCESSING_ERR: ['Something went wrong', 'Please try again later.'],
      UNAUTHORIZED: ['Not allowed', 'Face login is not available for this account right now.'],
      FORBIDDDEN_ORIGIN: ['Not allowed here', 'Face login is not enabled for this website.'],
      EMPTY_ORIGIN: ['Not allowed here', 'Open this page from its website to use face login.'],
      UI_NOT_READY: ['Cannot display', 'The face login window could not be shown.'],
      TOO_MANY_REQUESTS: ['Too many attempts', 'Please wait a moment and try again.'],
      MINORS_NOT_ALLOWED: ['Enrollment not allowed', 'You must be an adult to enroll.'],
      CANCELED: ['Canceled', ''],
    },
    serverHints: {
      PROVIDER_LIVENESS_REQUIRED: 'This site checks liveness with AWS Face Liveness, which has its own capture screen; this window cannot show it.',
    },
    handoff: {
      title: 'Continue on your phone',
      scan: 'Scan this code with your phone’s camera, then follow the steps there.',
      qrAlt: 'QR code that opens this sign-in on your phone',
      code: 'Code',
      codeHint: 'Your phone will show this code: go on only if they match.',
      status: {
        pending: 'Waiting for your phone…',
        scanned: 'Opened on your phone. Finish there.',
        completed: 'Done on your phone.',
        declined: 'Declined on your phone.',
      },
      offer: { title: 'No camera here?', hint: 'Use your phone’s camera instead: scan a code and finish there.', accept: 'Use my phone' },
    },
    cameraHints: {
      camera_permission_denied: 'Allow camera access in your browser’s site settings, then try again.',
      camera_insecure_context: 'The camera only works on a secure (HTTPS) page.',
      camera_unavailable: 'No camera was found on this device.',
      camera_in_use: 'Another app or tab is using the camera. Close it and try again.',
      camera_constraints: 'This camera is not supported.',
      camera_unknown: 'The camera could not be started.',
      camera_not_ready: 'The camera stopped sending video.',
      camera_stalled: 'The camera video froze.',
    },
  },
  fr: {
    title: { enroll: 'Enregistrer votre visage', authenticate: 'Connexion par le visage' },
    brand: 'Sécurisé par FaceGate',
    cancel: 'Annuler',
    close: 'Fermer',
    loading: 'Préparation…',
    start: { enroll: 'Commencer', authenticate: 'Me connecter avec mon visage' },
    retry: 'Réessayer',
    consent: {
      title: 'Utiliser votre visage pour vous connecter ?',
      lead: 'Pour vous enregistrer, ce site traite des données biométriques de votre visage. Lisez et acceptez les conditions ci-dessous.',
      accept: 'J’accepte',
      decline: 'Refuser',
    },
    camera: { title: 'Autorisez la caméra', hint: 'Votre navigateur va vous demander l’accès à la caméra.' },
    prompts: {
      get_ready: 'Placez votre visage dans l’ovale',
      hold_still: 'Ne bougez plus…',
      keep_inside: 'Gardez votre visage dans l’ovale, bien éclairé.',
      turn_left: 'Tournez la tête vers la gauche',
      turn_right: 'Tournez la tête vers la droite',
      look_up: 'Levez la tête',
      look_down: 'Baissez la tête',
      blink: 'Clignez des yeux',
      step: (n, total) => `Étape ${n} sur ${total}`,
    },
    processing: { enroll: 'Création de votre identifiant facial…', authenticate: 'Reconnaissance en cours…' },
    pin: {
      label: 'Code PIN',
      submit: 'Continuer',
      invalid: 'Utilisez 4 à 16 chiffres.',
      choose: { title: 'Choisissez un code PIN', hint: '4 à 16 chiffres. Il pourra vous être demandé à la connexion.' },
      unique: { title: 'Ce code PIN est déjà pris', hint: 'Choisissez un autre code PIN.' },
      required: { title: 'Saisissez votre code PIN', hint: 'Pour confirmer qu’il s’agit bien de vous.' },
      wrong: { title: 'Code PIN incorrect', hint: (n) => plural(n, '1 essai restant.', '{n} essais restants.') },
    },
    success: {
      enroll: { title: 'Visage enregistré', hint: 'Vous pouvez maintenant vous connecter avec votre visage.' },
      authenticate: { title: 'Bienvenue', hint: 'Votre identité est confirmée.' },
    },
    errors: {
      PERMISSION_REFUSED: ['Accès à la caméra requis', 'Autorisez la caméra pour ce site, puis réessayez.'],
      TERMS_NOT_ACCEPTED: ['Conditions refusées', 'Vous pourrez vous enregistrer plus tard si vous changez d’avis.'],
      SESSION_IN_PROGRESS: ['Déjà en cours', 'Terminez d’abord l’étape en cours.'],
      FACE_DUPLICATION: ['Déjà enregistré', 'Ce visage est déjà enregistré. Connectez-vous plutôt.'],
      TIMEOUT: ['Délai dépassé', 'Veuillez réessayer.'],
      NO_FACES_DETECTED: ['Aucun visage détecté', 'Vérifiez que votre visage est bien éclairé et dans l’ovale.'],
      UNRECOGNIZED_FACE: ['Visage non reconnu', 'Enregistrez-vous d’abord, ou réessayez avec plus de lumière.'],
      MANY_FACES: ['Plusieurs visages', 'Assurez-vous d’être seul devant la caméra.'],
      PAD_ATTACK: ['Contrôle du vivant échoué', 'Regardez vous-même la caméra et suivez les instructions.'],
      UNIQUE_PIN_REQUIRED: ['Code PIN déjà pris', 'Choisissez un autre code PIN.'],
      FACE_MISMATCH: ['Les visages ne correspondent pas', 'Veuillez réessayer.'],
      WRONG_PIN_CODE: ['Code PIN incorrect', 'Plus aucun essai. Recommencez pour réessayer.'],
      NETWORK_IO: ['Problème de connexion', 'Vérifiez votre connexion internet et réessayez.'],
      PROCESSING_ERR: ['Une erreur est survenue', 'Veuillez réessayer plus tard.'],
      UNAUTHORIZED: ['Non autorisé', 'La connexion par le visage n’est pas disponible pour ce compte.'],
      FORBIDDDEN_ORIGIN: ['Non autorisé ici', 'La connexion par le visage n’est pas activée pour ce site.'],
      EMPTY_ORIGIN: ['Non autorisé ici', 'Ouvrez cette page depuis son site pour vous connecter par le visage.'],
      UI_NOT_READY: ['Affichage impossible', 'La fenêtre de connexion n’a pas pu s’afficher.'],
      TOO_MANY_REQUESTS: ['Trop de tentatives', 'Patientez un instant puis réessayez.'],
      MINORS_NOT_ALLOWED: ['Enregistrement refusé', 'Vous devez être majeur pour vous enregistrer.'],
      CANCELED: ['Annulé', ''],
    },
    serverHints: {
      PROVIDER_LIVENESS_REQUIRED: 'Ce site vérifie la présence avec AWS Face Liveness, qui a son propre écran de capture ; cette fenêtre ne peut pas l’afficher.',
    },
    handoff: {
      title: 'Continuer sur votre téléphone',
      scan: 'Scannez ce code avec l’appareil photo de votre téléphone, puis suivez les étapes.',
      qrAlt: 'Code QR qui ouvre cette connexion sur votre téléphone',
      code: 'Code',
      codeHint: 'Votre téléphone affichera ce code : ne continuez que s’ils sont identiques.',
      status: {
        pending: 'En attente de votre téléphone…',
        scanned: 'Ouvert sur votre téléphone. Terminez là-bas.',
        completed: 'Terminé sur votre téléphone.',
        declined: 'Refusé sur votre téléphone.',
      },
      offer: { title: 'Pas de caméra ici ?', hint: 'Utilisez plutôt l’appareil photo de votre téléphone : scannez un code et terminez là-bas.', accept: 'Utiliser mon téléphone' },
    },
    cameraHints: {
      camera_permission_denied: 'Autorisez la caméra dans les paramètres du site de votre navigateur, puis réessayez.',
      camera_insecure_context: 'La caméra ne fonctionne que sur une page sécurisée (HTTPS).',
      camera_unavailable: 'Aucune caméra n’a été trouvée sur cet appareil.',
      camera_in_use: 'Une autre application ou un autre onglet utilise la caméra. Fermez-le et réessayez.',
      camera_constraints: 'Cette caméra n’est pas prise en charge.',
      camera_unknown: 'La caméra n’a pas pu démarrer.',
      camera_not_ready: 'La caméra n’envoie plus d’image.',
      camera_stalled: 'La vidéo de la caméra s’est figée.',
    },
  },
};

/**
 * The language to show: `requested` ('en', 'fr-CA', …) if supported; with
 * 'auto' (or none), the first supported of the browser's `languages`; else 'en'.
 */
export function resolveLocale(requested, languages = []) {
  const candidates = !requested || requested === 'auto' ? languages : [requested];
  for (const tag of candidates ?? []) {
    const primary = String(tag).toLowerCase().split(/[-_]/)[0];
    if (Object.hasOwn(MESSAGES, primary)) return primary;
  }
  return 'en';
}

// ---------------------------------------------------------------------------
// Iframe mode: FaceGuard close messages to an allow-listed parent
// ---------------------------------------------------------------------------

/** `https://a.example/` → `https://a.example`; null for '*', 'null' and anything that is not an http(s) origin. */
function normalizeOrigin(value) {
  if (typeof value !== 'string' || value === '*' || value === 'null') return null;
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
    return url.origin;
  } catch {
    return null;
  }
}

/**
 * The targetOrigins to post a close message to: the parent's origin when it
 * is known and allow-listed (none when it is known and not allow-listed);
 * when unknown, each allow-listed origin (the browser delivers only to the
 * one that is the parent's). Never '*'.
 */
export function closeTargets(parentOrigins, parentOrigin) {
  const allowed = [...new Set((parentOrigins ?? []).map(normalizeOrigin).filter(Boolean))];
  if (parentOrigin == null || parentOrigin === '') return allowed;
  const parent = normalizeOrigin(parentOrigin);
  return parent && allowed.includes(parent) ? [parent] : [];
}

/** The embedding page's origin, when the browser tells: ancestorOrigins, else the referrer. */
export function parentOriginOf(win) {
  try {
    const ancestors = win?.location?.ancestorOrigins;
    if (ancestors && ancestors.length > 0) return ancestors[0];
  } catch {
    // cross-origin access refused: fall through
  }
  try {
    const referrer = win?.document?.referrer;
    if (referrer) return new URL(referrer).origin;
  } catch {
    // not a URL
  }
  return null;
}

/**
 * The FaceGuard close message for an operation's outcome: `approved`,
 * `rejected`, `canceled`, `no_base_photo` or `error` (`bypass_active` never:
 * FaceGate has no admin bypass).
 */
export function closeMessage(operation, outcome) {
  const base = { action: 'close', operation };
  if (outcome.result) {
    const { facialId, confidence, payload, verificationToken } = outcome.result;
    const message = { ...base, reason: 'approved', confidence: confidence ?? null, facialId };
    if (operation === 'authenticate') {
      message.payload = payload ?? null;
      message.verificationToken = verificationToken ?? null;
    }
    return message;
  }
  const error = outcome.error;
  if (error.code === 'CANCELED') return { ...base, reason: 'canceled' };
  if (error.code === 'UNRECOGNIZED_FACE') return { ...base, reason: 'rejected', confidence: error.confidence ?? 0 };
  // A 1:1 check against a user with no enrolled face (FaceGate identifies 1:N: an unknown face is `rejected`).
  if (error.serverCode === 'USER_NOT_FOUND') return { ...base, reason: 'no_base_photo' };
  return { ...base, reason: 'error', error: error.cameraCode ?? error.code, code: error.code };
}

// ---------------------------------------------------------------------------
// The operation runner
// ---------------------------------------------------------------------------

/** authenticate()'s result from a verify (or re-verify) answer with a token. */
function loginResult(verified) {
  return {
    facialId: verified.user?.id ?? null,
    payload: verified.payload ?? null,
    timestamp: new Date().toISOString(),
    confidence: verified.confidence,
    verificationToken: verified.verification_token ?? null,
    refreshToken: verified.refresh_token ?? null,
    sessionId: verified.session_id ?? null,
  };
}

/** FACEIO's defaults: seconds, except termsTimeout (minutes). */
export const DEFAULT_TIMEOUTS = Object.freeze({ permissionTimeout: 27, idleTimeout: 27, replyTimeout: 40, termsTimeout: 10 });

const PIN_PATTERN = /^[0-9]{4,16}$/;
/** How often the widget asks again for a PIN the server refused (unique PIN, PIN required). */
const MAX_PIN_PROMPTS = 5;
const MAX_PAYLOAD_BYTES = 16 * 1024;

/** Whether `pin` is what the server accepts: 4–16 ASCII digits. */
export function isValidPin(pin) {
  return typeof pin === 'string' && PIN_PATTERN.test(pin);
}

function timeoutsOf(params) {
  const seconds = (name) => {
    const value = params[name];
    return typeof value === 'number' && value > 0 ? value : DEFAULT_TIMEOUTS[name];
  };
  return {
    permissionMs: seconds('permissionTimeout') * 1000,
    idleMs: seconds('idleTimeout') * 1000,
    replyMs: seconds('replyTimeout') * 1000,
    termsMs: seconds('termsTimeout') * 60_000,
  };
}

/** One enroll() or authenticate(): its cancellation, timers and resources. */
class Operation {
  #timers;
  #reject;
  #cancelled;
  constructor(kind, timers) {
    this.kind = kind;
    this.#timers = timers;
    /** Set when the flow is over (done, failed or cancelled): late callbacks stop here. */
    this.ended = false;
    /** True while the final enroll/verify call is in flight: it cannot be undone, so it is not cancelled. */
    this.committing = false;
    this.camera = null;
    this.view = null;
    this.#cancelled = new Promise((_, reject) => {
      this.#reject = reject;
    });
    this.#cancelled.catch(() => {});
  }

  /** Ends the operation with `error` (CANCELED by default); false while committing. */
  cancel(error, { force = false } = {}) {
    if (this.ended || (this.committing && !force)) return false;
    this.#reject(error ?? new WidgetError('CANCELED'));
    this.end();
    return true;
  }

  /** Marks the flow over and stops the camera (idempotent). */
  end() {
    this.ended = true;
    this.release();
  }

  /** Stops the camera (idempotent). */
  release() {
    try {
      this.camera?.close();
    } catch {
      // already closed
    }
  }

  /** `promise`, unless the operation is cancelled first. */
  guard(promise) {
    return Promise.race([promise, this.#cancelled]);
  }

  /** `promise` within `ms`, else rejects with `onTimeout()`; cancellation wins too. */
  within(ms, promise, onTimeout) {
    let timer;
    const expired = new Promise((_, reject) => {
      timer = this.#timers.setTimeout(() => reject(onTimeout()), ms);
    });
    return Promise.race([promise, this.#cancelled, expired]).finally(() => this.#timers.clearTimeout(timer));
  }

  /** Throws if the operation ended (a late callback must not continue it). */
  check() {
    if (this.ended) throw new WidgetError('CANCELED');
  }
}

const realSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * FACEIO's widget over a FaceGateClient (an API key's, or `{ demo: true }`).
 *
 * options: `locale` ('auto'), `embed: { parentOrigins }` (iframe mode),
 * `container` (where the dialog mounts, document.body), `feedbackMs`
 * ({ success, error }: how long the outcome stays on screen), and for tests
 * `createView`, `createCamera`, `window`, `timers`, `sleep`, `pace`.
 */
export class FaceGateWidget {
  #client;
  #options;
  #op = null;
  #createView;
  #createCamera;
  #window;
  #timers;
  #sleep;
  #pace;

  constructor(client, options = {}) {
    if (!client || typeof client.createLivenessSession !== 'function') {
      throw new TypeError('FaceGateWidget needs a FaceGateClient');
    }
    this.#client = client;
    this.#options = options;
    this.#window = 'window' in options ? options.window : globalThis.window;
    this.#createView = options.createView ?? ((init) => new WidgetView({ ...init, document: this.#window?.document, container: options.container, feedbackMs: options.feedbackMs }));
    this.#createCamera = options.createCamera ?? (() => new Camera());
    this.#timers = options.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id) };
    this.#sleep = options.sleep ?? realSleep;
    // Pauses that let people read a prompt before the capture starts.
    this.#pace = { introMs: 1200, stepMs: 450, frameIntervalMs: 120, ...(options.pace ?? {}) };
  }

  /** FACEIO's enroll(): consent, liveness, enrollment (with a PIN when asked). */
  enroll(params = {}) {
    return this.#run('enroll', params ?? {});
  }

  /**
   * FACEIO's authenticate(): liveness, identification (with a PIN when
   * asked), and the step-up the tenant's risk rules may ask for (a PIN, or a
   * second, active check). `{ reverify: true, sessionId, refreshToken }`
   * re-verifies an open session instead (continuous re-verification): same
   * session, new tokens (the refresh token given is spent; keep the new one).
   */
  authenticate(params = {}) {
    return this.#run('authenticate', params ?? {});
  }

  /**
   * Ends the operation in progress (its promise rejects with CANCELED) so
   * enroll()/authenticate() can be called again. false while the server is
   * committing an enrollment or a login, which cannot be taken back.
   */
  restartSession() {
    const op = this.#op;
    if (!op) return true;
    if (!op.cancel(new WidgetError('CANCELED', 'restartSession() ended the operation'))) return false;
    op.view?.close();
    this.#op = null;
    return true;
  }

  /** FACEIO's error codes: `{ NAME: 'NAME' }`, frozen. */
  fetchAllErrorCodes() {
    return ERROR_CODES;
  }

  // --- one operation ------------------------------------------------------

  async #run(kind, params) {
    if (this.#op) throw new WidgetError('SESSION_IN_PROGRESS');
    const op = new Operation(kind, this.#timers);
    this.#op = op;
    const timeouts = timeoutsOf(params);
    const locale = resolveLocale(params.locale ?? this.#options.locale, this.#languages());
    let outcome;
    try {
      if (kind === 'enroll') checkPayload(params.payload);
      try {
        op.view = this.#createView({ operation: kind, locale, strings: MESSAGES[locale], onCancel: () => op.cancel() });
        op.view.open();
      } catch (cause) {
        throw new WidgetError('UI_NOT_READY', `The widget could not be displayed: ${cause?.message ?? cause}`, { cause });
      }
      const result = kind === 'enroll' ? await this.#enroll(op, params, timeouts) : await this.#authenticate(op, params, timeouts);
      outcome = { result };
    } catch (error) {
      outcome = { error: toWidgetError(error, { cameraReady: op.camera ? op.camera.isReady : undefined }) };
    }
    op.end();
    if (op.view) {
      // The outcome stays on screen a moment (the user may dismiss it sooner).
      try {
        if (outcome.result) await op.view.showSuccess();
        // The user's own choice (Esc, ×, Decline) needs no error screen.
        else if (!SILENT_CODES.has(outcome.error.code)) await op.view.showError(outcome.error);
      } catch {
        // a view failing to show the outcome must not change it
      }
      op.view.close();
    }
    if (this.#op === op) this.#op = null;
    this.#postClose(kind, outcome);
    if (outcome.error) throw outcome.error;
    if (kind === 'authenticate') return outcome.result;
    // FACEIO's enroll() result; the liveness confidence only goes to the iframe's parent.
    const { confidence: _liveness, ...enrolled } = outcome.result;
    return enrolled;
  }

  async #enroll(op, params, timeouts) {
    if (params.handoff === true) return this.#handoff(op, 'enroll', params, timeouts);
    const client = this.#client;
    const view = op.view;
    let consentId = params.consentId ?? null;
    let version = null;
    if (!consentId) {
      view.setState('loading');
      version = await op.within(timeouts.replyMs, this.#consentVersion(), replyTimeout);
      if (!params.userConsent) {
        const accepted = await op.within(timeouts.termsMs, view.askConsent({ text: version.text, version: version.consent_version }), () => new WidgetError('TERMS_NOT_ACCEPTED', 'The terms were not accepted in time'));
        if (!accepted) throw new WidgetError('TERMS_NOT_ACCEPTED');
      }
    }
    let live;
    try {
      live = await this.#liveness(op, timeouts);
    } catch (error) {
      if (!(await this.#offerHandoff(op, error, params))) throw error;
      return this.#handoff(op, 'enroll', params, timeouts);
    }
    if (!consentId) {
      // Recorded once the capture succeeded, so a cancelled enrollment leaves no consent behind.
      const record = await this.#reply(op, timeouts, () => client.recordConsent({ consentVersion: version.consent_version, consentTextHash: version.consent_text_hash }));
      consentId = record.consent_id;
    }
    let pin = params.pin == null ? undefined : String(params.pin);
    // askPin: a PIN chosen up front (a tenant in when_ambiguous mode only asks those who have one).
    if (pin === undefined && params.askPin) pin = await this.#askPin(op, timeouts, { reason: 'choose' });
    for (let asked = 0; ; ) {
      try {
        const enrolled = await this.#commit(op, timeouts, () => client.enroll({
          livenessSessionId: live.sessionId,
          consentId,
          payload: params.payload,
          pin,
          name: params.name ?? (client.config?.demo ? undefined : 'FaceGate user'),
          role: params.role,
        }));
        return {
          facialId: enrolled.user_id,
          timestamp: enrolled.enrollments?.[0]?.created_at ?? new Date().toISOString(),
          details: { age: enrolled.details?.age ?? null, gender: enrolled.details?.gender ?? null },
          confidence: live.confidence,
        };
      } catch (error) {
        const reason = { PIN_REQUIRED: 'choose', UNIQUE_PIN_REQUIRED: 'unique' }[error?.code];
        if (!reason || asked++ >= MAX_PIN_PROMPTS) throw error;
        pin = await this.#askPin(op, timeouts, { reason });
      }
    }
  }

  async #authenticate(op, params, timeouts) {
    const client = this.#client;
    if (params.reverify) {
      const given = (name) => typeof params[name] === 'string' && params[name] !== '';
      if (!given('sessionId') || !given('refreshToken')) {
        throw new WidgetError('PROCESSING_ERR', 'authenticate({ reverify: true }) needs the sessionId and refreshToken of the session to re-verify');
      }
      const live = await this.#liveness(op, timeouts);
      const renewed = await this.#commit(op, timeouts, () => client.reverify({ sessionId: params.sessionId, livenessSessionId: live.sessionId, refreshToken: params.refreshToken }));
      return loginResult(renewed);
    }
    if (params.handoff === true) return this.#handoff(op, 'verify', params, timeouts);
    let live;
    try {
      live = await this.#liveness(op, timeouts);
    } catch (error) {
      if (!(await this.#offerHandoff(op, error, params))) throw error;
      return this.#handoff(op, 'verify', params, timeouts);
    }
    let pin;
    let stepUpFor;
    for (let asked = 0; ; ) {
      let verified;
      try {
        verified = await this.#commit(op, timeouts, () => client.verify({ livenessSessionId: live.sessionId, pin, stepUpFor }));
      } catch (error) {
        if (error?.code === 'PIN_REQUIRED' && asked++ < MAX_PIN_PROMPTS) {
          pin = await this.#askPin(op, timeouts, { reason: 'required' });
          continue;
        }
        if (error?.code === 'WRONG_PIN_CODE') {
          const left = error.attemptsRemaining ?? 0;
          if (left > 0 && asked++ < MAX_PIN_PROMPTS) {
            pin = await this.#askPin(op, timeouts, { reason: 'wrong', attemptsRemaining: left });
            continue;
          }
          throw toWidgetError(error);
        }
        throw error;
      }
      // On a handoff's phone: the desktop gets the session, the phone only hears it is done.
      if (verified?.status === 'completed') return loginResult({ matched: true, confidence: null });
      if (!verified?.matched) {
        throw new WidgetError('UNRECOGNIZED_FACE', DESCRIPTIONS.UNRECOGNIZED_FACE, { confidence: verified?.confidence ?? 0 });
      }
      const stepUp = verified.risk?.step_up_required ? verified.risk.step_up_type : null;
      if (stepUp && !stepUpFor && asked++ < MAX_PIN_PROMPTS) {
        if (stepUp === 'pin') {
          // The same live session, with the user's PIN.
          pin = await this.#askPin(op, timeouts, { reason: 'required' });
          continue;
        }
        if (stepUp === 'liveness_active' && verified.step_up_id) {
          // A second, active check of the same person finishes the login.
          live = await this.#liveness(op, timeouts, { mode: 'active' });
          stepUpFor = verified.step_up_id;
          pin = undefined;
          continue;
        }
      }
      if (!verified.verification_token) {
        throw new WidgetError('UNAUTHORIZED', 'The sign-in needs a step-up this widget could not complete', { serverCode: 'STEP_UP_REQUIRED' });
      }
      return loginResult(verified);
    }
  }

  /**
   * Whether to go on with a handoff after the camera failed: only when this
   * device has no camera, the client can start one, and the user agrees.
   */
  async #offerHandoff(op, error, params) {
    const client = this.#client;
    const noCamera = error?.code === 'camera_unavailable' || error?.cameraCode === 'camera_unavailable';
    if (!noCamera || params.handoff === false || op.ended) return false;
    if (typeof client.createHandoff !== 'function' || client.config?.demo || client.config?.handoff) return false;
    op.release();
    return (await op.guard(op.view.offerHandoff())) === true;
  }

  /**
   * Cross-device handoff: a QR code and a match code here, the check on the
   * phone; this page gets the session (verify) or the enrollment, pushed
   * over the handoff's socket (polling if it cannot open).
   */
  async #handoff(op, mode, params, timeouts) {
    const client = this.#client;
    op.view.setState('loading');
    const enroll = mode === 'enroll'
      ? {
        name: params.name ?? 'FaceGate user',
        ...(params.role ? { role: params.role } : {}),
        ...(params.payload !== undefined ? { payload: params.payload } : {}),
      }
      : undefined;
    const started = await this.#reply(op, timeouts, () => client.createHandoff({ mode, enroll }));
    op.view.showHandoff({ qrSvg: started.qr_svg, matchCode: started.match_code });
    const stop = new AbortController();
    let final;
    try {
      final = await op.guard(client.watchHandoff(started, { signal: stop.signal, onStatus: (status) => op.view.handoffStatus(status.status) }));
    } catch (error) {
      stop.abort();
      if (error instanceof HandoffExpired) throw new WidgetError('TIMEOUT', 'The handoff expired before the phone finished', { serverCode: 'HANDOFF_EXPIRED', cause: error });
      throw error;
    }
    if (final.status === 'declined') throw new WidgetError('CANCELED', 'Declined on the phone', { serverCode: 'HANDOFF_DECLINED' });
    const data = final.session_data ?? {};
    if (mode === 'enroll') {
      return {
        facialId: final.user_id ?? data.user_id ?? null,
        timestamp: data.enrollments?.[0]?.created_at ?? new Date().toISOString(),
        details: { age: data.details?.age ?? null, gender: data.details?.gender ?? null },
        confidence: null,
      };
    }
    if (!data.verification_token) {
      // Another look (a second tab, a poll) took the session first.
      throw new WidgetError('UNAUTHORIZED', 'The handoff\'s session was already collected', { serverCode: 'HANDOFF_ALREADY_COMPLETED' });
    }
    client.emit?.('verified', data);
    return loginResult(data);
  }

  /** Camera, liveness session, challenge, upload; a session that is not live is PAD_ATTACK. */
  async #liveness(op, timeouts, { mode } = {}) {
    const client = this.#client;
    const view = op.view;
    view.setState('camera');
    const camera = this.#createCamera();
    op.camera = camera;
    view.attachCamera(camera);
    const opening = Promise.resolve().then(() => camera.open());
    // Permission granted after the timeout or a cancel: release the camera at once.
    opening.then(
      () => op.ended && camera.close(),
      (error) => {
        if (error instanceof CameraError) client.signal?.('camera_error', { code: error.code });
      },
    );
    await op.within(timeouts.permissionMs, opening, () => new WidgetError('PERMISSION_REFUSED', 'Camera permission was not granted in time'));
    op.check();

    const session = await this.#reply(op, timeouts, () => client.createLivenessSession(mode ? { mode } : undefined));
    if (!session.challenge && ('credentials' in session || 'region' in session)) {
      op.release();
      throw new ProviderLivenessRequired(session);
    }
    const challenge = session.challenge ?? {};
    const actions = challenge.mode === 'passive' ? [] : challenge.actions ?? [];
    view.setState('challenge', { actions });
    // Uploads run inside runLiveness: bound them by replyTimeout and stop them after a cancel.
    const timedClient = {
      config: client.config,
      emit: (type, data) => client.emit?.(type, data),
      createLivenessSession: () => this.#reply(op, timeouts, () => client.createLivenessSession(mode ? { mode } : undefined)),
      uploadFrames: (id, body) => {
        // Captured: show the last frame while the server judges it, and turn the camera off.
        view.setState('processing');
        op.release();
        return this.#reply(op, timeouts, () => client.uploadFrames(id, body));
      },
    };
    const run = runLiveness(timedClient, camera, {
      session,
      timeoutMs: timeouts.idleMs,
      frameIntervalMs: this.#pace.frameIntervalMs,
      sleep: this.#options.sleep,
      onChallenge: async () => {
        view.prompt(actions.length ? 'get_ready' : 'hold_still');
        await this.#sleep(this.#pace.introMs);
        op.check();
      },
      onStep: async (action, index) => {
        op.check();
        view.prompt(action, { index, total: actions.length });
        await this.#sleep(this.#pace.stepMs);
      },
    });
    const live = await op.guard(run);
    op.release();
    view.setState('processing');
    if (!live.isLive) {
      throw new WidgetError('PAD_ATTACK', DESCRIPTIONS.PAD_ATTACK, { confidence: live.confidence ?? 0 });
    }
    return live;
  }

  /** A server call within replyTimeout; refused once the operation ended. */
  #reply(op, timeouts, call) {
    op.check();
    return op.within(timeouts.replyMs, Promise.resolve().then(call), replyTimeout);
  }

  /** The final enroll/verify: not cancellable while in flight. */
  async #commit(op, timeouts, call) {
    op.committing = true;
    op.view.setState('processing');
    try {
      return await this.#reply(op, timeouts, call);
    } finally {
      op.committing = false;
    }
  }

  /** Asks for a PIN until it has 4–16 digits; null (cancel) ends the operation. */
  async #askPin(op, timeouts, { reason, attemptsRemaining = null }) {
    let invalid = false;
    for (;;) {
      const pin = await op.within(timeouts.termsMs, op.view.askPin({ reason, attemptsRemaining, invalid }), () => new WidgetError('TIMEOUT', 'No PIN code was entered in time'));
      if (pin == null) throw new WidgetError('CANCELED');
      if (isValidPin(String(pin))) {
        op.view.setState('processing');
        return String(pin);
      }
      invalid = true;
    }
  }

  /** The consent text to show and record: the demo's (preflight), else the server's newest version. */
  async #consentVersion() {
    const { versions = [] } = (await this.#client.consentVersions()) ?? {};
    const version = versions[versions.length - 1];
    if (!version) throw new WidgetError('PROCESSING_ERR', 'The server has no consent text to show', { serverCode: 'NO_CONSENT_VERSION' });
    return version;
  }

  #languages() {
    const nav = this.#options.navigator ?? this.#window?.navigator ?? globalThis.navigator;
    if (!nav) return [];
    return nav.languages?.length ? [...nav.languages] : nav.language ? [nav.language] : [];
  }

  #postClose(kind, outcome) {
    const embed = this.#options.embed;
    const win = this.#window;
    if (!embed || !win || !win.parent || win.parent === win) return;
    const message = closeMessage(kind, outcome);
    for (const origin of closeTargets(embed.parentOrigins, parentOriginOf(win))) {
      try {
        win.parent.postMessage(message, origin);
      } catch {
        // a parent that went away
      }
    }
  }
}

const SILENT_CODES = new Set(['CANCELED', 'TERMS_NOT_ACCEPTED']);

function replyTimeout() {
  return new WidgetError('TIMEOUT', 'The server did not answer in time');
}

function checkPayload(payload) {
  if (payload === undefined) return;
  let bytes;
  try {
    bytes = new TextEncoder().encode(JSON.stringify(payload)).length;
  } catch (cause) {
    throw new WidgetError('PROCESSING_ERR', 'The payload is not serializable JSON', { cause });
  }
  if (bytes > MAX_PAYLOAD_BYTES) {
    throw new WidgetError('PROCESSING_ERR', `The payload is ${bytes} bytes of JSON; at most ${MAX_PAYLOAD_BYTES} are allowed`, { serverCode: 'PAYLOAD_TOO_LARGE', status: 413 });
  }
}

// ---------------------------------------------------------------------------
// The view: a modal dialog in a shadow root
// ---------------------------------------------------------------------------

const STYLE = `
:host { all: initial; }
* { box-sizing: border-box; }
.backdrop {
  position: fixed; inset: 0; z-index: 2147483000; display: grid; place-items: center; padding: 16px;
  background: rgba(15, 17, 28, .55); backdrop-filter: blur(6px); -webkit-backdrop-filter: blur(6px);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: var(--fg); animation: fade .18s ease-out;
  --accent: #4f46e5; --accent-fg: #fff; --accent-soft: #eef2ff; --fg: #111827; --muted: #6b7280;
  --card: #fff; --line: #e5e7eb; --ok: #16a34a; --bad: #dc2626; --ring: rgba(79, 70, 229, .35);
}
@media (prefers-color-scheme: dark) {
  .backdrop { --fg: #f3f4f6; --muted: #9ca3af; --card: #171923; --line: #2d3142; --accent: #818cf8; --accent-fg: #0b0d16; --accent-soft: #23264a; }
}
.dialog {
  width: min(420px, 100%); max-height: calc(100vh - 32px); overflow: auto; background: var(--card);
  border-radius: 20px; box-shadow: 0 24px 64px rgba(0, 0, 0, .28), 0 2px 8px rgba(0, 0, 0, .08);
  padding: 18px 22px 16px; animation: rise .22s cubic-bezier(.2, .9, .3, 1.2); outline: none;
}
header { display: flex; align-items: center; justify-content: space-between; gap: 12px; }
.title { margin: 0; font-size: 17px; font-weight: 650; letter-spacing: -.01em; }
.icon-btn {
  width: 34px; height: 34px; border-radius: 50%; border: 0; background: transparent; color: var(--muted);
  display: grid; place-items: center; cursor: pointer; flex: none;
}
.icon-btn:hover { background: var(--accent-soft); color: var(--fg); }
button:focus-visible, input:focus-visible, .scroll:focus-visible { outline: 3px solid var(--ring); outline-offset: 2px; }
.body { margin-top: 14px; min-height: 220px; display: flex; flex-direction: column; }
.intro { text-align: center; display: flex; flex-direction: column; align-items: center; gap: 6px; }
.center { text-align: center; align-items: center; justify-content: center; flex: 1; display: flex; flex-direction: column; gap: 8px; }
h3 { margin: 4px 0 0; font-size: 19px; font-weight: 650; letter-spacing: -.01em; }
p { margin: 0; }
.muted { color: var(--muted); font-size: 14px; }
.scroll {
  margin: 12px 0; padding: 12px 14px; max-height: 180px; overflow: auto; border: 1px solid var(--line);
  border-radius: 12px; font-size: 13.5px; color: var(--muted); white-space: pre-wrap;
}
.actions { display: flex; gap: 10px; justify-content: flex-end; margin-top: 10px; }
.actions.full > * { flex: 1; }
.btn {
  font: inherit; font-weight: 600; border-radius: 12px; padding: 11px 18px; cursor: pointer; border: 1px solid var(--line);
  background: transparent; color: var(--fg); transition: transform .06s, background .15s;
}
.btn:active { transform: scale(.98); }
.btn.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg); }
.btn.primary:hover { filter: brightness(1.08); }
.stage {
  position: relative; width: 100%; aspect-ratio: 3 / 4; max-height: 52vh; margin: 0 auto; border-radius: 16px;
  overflow: hidden; background: #0b0d16;
}
.stage video { width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); display: block; }
.stage canvas.still { position: absolute; inset: 0; width: 100%; height: 100%; object-fit: cover; transform: scaleX(-1); display: none; }
.stage canvas.still.shown { display: block; }
/* Everything around the face oval dimmed (painted inside its own box: a shadow spilling over a video layer is not drawn), and the oval's outline. */
.halo { position: absolute; inset: 0; pointer-events: none; background: radial-gradient(34% 36% at 50% 46%, transparent 98.5%, rgba(11, 13, 22, .5) 100%); }
.stage svg.ring { position: absolute; inset: 0; width: 100%; height: 100%; pointer-events: none; overflow: visible; }
.oval { fill: none; stroke: rgba(255, 255, 255, .9); stroke-width: 2; vector-effect: non-scaling-stroke; }
.dialog[data-state="challenge"] .oval { stroke: var(--accent); stroke-width: 4; stroke-dasharray: 10 8; animation: dash 1.2s linear infinite; }
.dialog[data-state="processing"] .oval { stroke: var(--accent); stroke-width: 4; }
.cue {
  position: absolute; left: 50%; bottom: 14px; transform: translateX(-50%); display: flex; align-items: center; gap: 8px;
  padding: 8px 14px; border-radius: 999px; background: rgba(15, 17, 28, .72); color: #fff; font-weight: 600; font-size: 14px;
  white-space: nowrap; max-width: calc(100% - 24px); overflow: hidden; text-overflow: ellipsis;
}
.cue:empty { display: none; }
.cue svg { flex: none; }
.veil { position: absolute; inset: 0; display: none; place-items: center; background: rgba(15, 17, 28, .35); }
.dialog[data-state="processing"] .veil, .dialog[data-state="camera"] .veil { display: grid; }
.prompt { margin-top: 12px; text-align: center; color: var(--muted); font-size: 14px; min-height: 1.45em; }
.steps { display: flex; justify-content: center; gap: 6px; margin-top: 8px; padding: 0; list-style: none; }
.steps li { width: 22px; height: 5px; border-radius: 3px; background: var(--line); transition: background .2s; }
.steps li.done { background: var(--accent); }
.spinner { width: 40px; height: 40px; border-radius: 50%; border: 4px solid rgba(255, 255, 255, .3); border-top-color: #fff; animation: spin .8s linear infinite; }
.center .spinner { border-color: var(--line); border-top-color: var(--accent); }
.badge { width: 64px; height: 64px; border-radius: 50%; display: grid; place-items: center; margin-bottom: 4px; }
.badge.ok { background: color-mix(in srgb, var(--ok) 14%, transparent); color: var(--ok); animation: pop .3s ease-out; }
.badge.bad { background: color-mix(in srgb, var(--bad) 12%, transparent); color: var(--bad); }
.badge.info { background: var(--accent-soft); color: var(--accent); }
.handoff { gap: 6px; }
.qr { width: 220px; height: 220px; background: #fff; border-radius: 12px; padding: 6px; border: 1px solid var(--line); }
.match-code { font: 700 26px/1.2 ui-monospace, "SF Mono", Menlo, monospace; letter-spacing: .2em; color: var(--fg); }
.small { font-size: 13px; }
.handoff-status { font-weight: 600; }
form { display: flex; flex-direction: column; gap: 8px; flex: 1; justify-content: center; }
label { font-weight: 600; font-size: 14px; }
input[name="pin"] {
  font: inherit; font-size: 24px; letter-spacing: .4em; text-align: center; padding: 12px; border-radius: 12px;
  border: 1px solid var(--line); background: transparent; color: var(--fg); width: 100%;
}
input[name="pin"][aria-invalid="true"] { border-color: var(--bad); }
.error-text { color: var(--bad); font-size: 13.5px; min-height: 1.3em; }
footer { margin-top: 14px; display: flex; justify-content: center; align-items: center; gap: 6px; color: var(--muted); font-size: 12px; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
@keyframes spin { to { transform: rotate(360deg); } }
@keyframes dash { to { stroke-dashoffset: -18; } }
@keyframes fade { from { opacity: 0; } }
@keyframes rise { from { opacity: 0; transform: translateY(12px) scale(.98); } }
@keyframes pop { from { transform: scale(.6); } }
@media (prefers-reduced-motion: reduce) { * { animation: none !important; transition: none !important; } }
`;

const SVG_NS = 'http://www.w3.org/2000/svg';

/** Inline icons (24×24, stroke). Arrows follow the mirrored preview: the user's left is on screen left. */
const ICONS = {
  close: 'M6 6l12 12M18 6L6 18',
  check: 'M5 12.5l4.5 4.5L19 7.5',
  alert: 'M12 8v5M12 16.5v.5M12 3l9.5 17h-19z',
  lock: 'M7 11V8a5 5 0 0 1 10 0v3M5 11h14v10H5z',
  shield: 'M12 3l8 3v6c0 4.5-3.4 8.2-8 9-4.6-.8-8-4.5-8-9V6z',
  camera: 'M4 8h3l2-3h6l2 3h3v11H4zM12 16.5a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z',
  face: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM9 10v1M15 10v1M9 15c1.7 1.3 4.3 1.3 6 0',
  turn_left: 'M19 12H5M11 6l-6 6 6 6',
  turn_right: 'M5 12h14M13 6l6 6-6 6',
  look_up: 'M12 19V5M6 11l6-6 6 6',
  look_down: 'M12 5v14M6 13l6 6 6-6',
  blink: 'M2 12s4-6 10-6 10 6 10 6-4 6-10 6S2 12 2 12zM12 14.5a2.5 2.5 0 1 0 0-5 2.5 2.5 0 0 0 0 5z',
  hold_still: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM12 8v4l3 2',
  get_ready: 'M12 3a9 9 0 1 0 0 18 9 9 0 0 0 0-18zM9 10v1M15 10v1M9 15c1.7 1.3 4.3 1.3 6 0',
};

const FOCUSABLE = 'button:not([disabled]), input:not([disabled]), a[href], [tabindex="0"]';

/**
 * The DOM half: a `<facegate-widget>` element whose open shadow root holds
 * the dialog (`role="dialog"`, `aria-modal`, `data-state`). Stable selectors
 * for tests: `[data-action="accept|decline|cancel|close|submit-pin"]`,
 * `input[name="pin"]`.
 */
export class WidgetView {
  #doc;
  #container;
  #strings;
  #operation;
  #onCancel;
  #feedback;
  #host = null;
  #root = null;
  #dialog = null;
  #body = null;
  #status = null;
  #video = null;
  #cue = null;
  #still = null;
  #prompt = null;
  #steps = null;
  #state = null;
  #pending = null;
  #returnFocus = null;
  #closed = false;
  #handoffLine = null;
  #keydown = (event) => this.#onKeydown(event);
  #focusin = (event) => this.#onFocusin(event);

  constructor({ document, container, operation, locale, strings, onCancel, feedbackMs }) {
    if (!document?.createElement) throw new Error('no DOM to render the widget in');
    this.#doc = document;
    this.#container = container ?? document.body;
    this.#operation = operation;
    this.locale = locale;
    this.#strings = strings;
    this.#onCancel = onCancel;
    this.#feedback = { success: 1200, error: 3000, ...(feedbackMs ?? {}) };
  }

  /** Mounts the dialog and moves focus into it. */
  open() {
    const doc = this.#doc;
    if (!this.#container) throw new Error('no container to mount the widget in');
    this.#returnFocus = doc.activeElement;
    this.#host = doc.createElement('facegate-widget');
    this.#root = this.#host.attachShadow({ mode: 'open' });
    const style = doc.createElement('style');
    style.textContent = STYLE;
    const s = this.#strings;
    const titleId = 'fg-title';
    this.#dialog = this.#el('div', { class: 'dialog', role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, tabindex: '-1', lang: this.locale, 'data-state': 'loading', 'data-operation': this.#operation });
    const cancel = this.#el('button', { type: 'button', class: 'icon-btn', 'data-action': 'cancel', 'aria-label': s.cancel, title: s.cancel }, this.#icon('close', 20));
    cancel.addEventListener('click', () => this.#cancel());
    const header = this.#el('header', {}, this.#el('h2', { class: 'title', id: titleId }, s.title[this.#operation]), cancel);
    this.#body = this.#el('div', { class: 'body' });
    this.#status = this.#el('p', { class: 'sr-only', role: 'status', 'aria-live': 'polite' });
    const footer = this.#el('footer', {}, this.#icon('shield', 14), s.brand);
    this.#dialog.append(header, this.#body, this.#status, footer);
    const backdrop = this.#el('div', { class: 'backdrop' }, this.#dialog);
    // A click beside the dialog neither closes it nor takes the focus out of it.
    backdrop.addEventListener('mousedown', (event) => {
      if (event.target === backdrop) event.preventDefault();
    });
    this.#root.append(style, backdrop);
    // On the document, so Esc and Tab work even when a click moved focus out of the dialog.
    doc.addEventListener('keydown', this.#keydown, true);
    doc.addEventListener('focusin', this.#focusin, true);
    this.#container.append(this.#host);
    this.setState('loading');
    this.#dialog.focus();
  }

  /** loading · camera · challenge · processing (consent, pin, success and error have their own methods) */
  setState(state, info = {}) {
    if (this.#closed || !this.#dialog) return;
    const s = this.#strings;
    this.#state = state;
    this.#dialog.dataset.state = state;
    if (state === 'loading') {
      this.#replace(this.#el('div', { class: 'center' }, this.#el('div', { class: 'spinner' }), this.#el('p', { class: 'muted' }, s.loading)));
    } else if (state === 'camera') {
      this.#ensureStage();
      this.#setPrompt(s.camera.title, 'camera', s.camera.hint);
      this.#announce(`${s.camera.title}. ${s.camera.hint}`);
    } else if (state === 'challenge') {
      this.#ensureStage();
      this.#renderSteps(info.actions ?? []);
    } else if (state === 'processing') {
      const text = s.processing[this.#operation];
      if (this.#video) {
        this.#freeze();
        this.#setPrompt(text, null);
      } else this.#replace(this.#el('div', { class: 'center' }, this.#el('div', { class: 'spinner' }), this.#el('p', { class: 'muted' }, text)));
      this.#announce(text);
    }
    this.#focusFirst();
  }

  /** Binds the camera's stream to the preview (mirrored with CSS; frames stay unmirrored). */
  attachCamera(camera) {
    this.#ensureStage();
    camera.attachToVideo(this.#video);
  }

  /** The active challenge's prompt: get_ready, hold_still, or an action name. */
  prompt(key, { index, total } = {}) {
    if (this.#closed) return;
    const s = this.#strings.prompts;
    const text = s[key] ?? key;
    const step = index != null && total ? s.step(index + 1, total) : '';
    this.#setPrompt(text, key, step || s.keep_inside);
    if (index != null && this.#steps) {
      [...this.#steps.children].forEach((li, i) => li.classList.toggle('done', i <= index));
    }
    this.#announce(step ? `${step}: ${text}` : text);
  }

  /** The consent screen; resolves true (accept) or false (decline). */
  askConsent({ text }) {
    const s = this.#strings;
    this.#state = 'consent';
    this.#dialog.dataset.state = 'consent';
    const accept = this.#button(s.consent.accept, 'accept', true);
    const decline = this.#button(s.consent.decline, 'decline');
    const lead = this.#el('p', { class: 'muted', id: 'fg-consent-lead' }, s.consent.lead);
    const scroll = this.#el('div', { class: 'scroll', tabindex: '0', role: 'document', 'aria-label': s.consent.title }, text ?? '');
    this.#replace(
      this.#el('div', { class: 'intro' }, this.#el('div', { class: 'badge info' }, this.#icon('face', 30)), this.#el('h3', {}, s.consent.title), lead),
      scroll,
      this.#el('div', { class: 'actions full' }, decline, accept),
    );
    this.#dialog.setAttribute('aria-describedby', 'fg-consent-lead');
    this.#announce(s.consent.title);
    // The text first (screen readers read it), not the button that agrees.
    scroll.focus();
    return this.#wait((resolve) => {
      accept.addEventListener('click', () => resolve(true));
      decline.addEventListener('click', () => resolve(false));
    });
  }

  /** The PIN form; resolves the digits, or null when cancelled. */
  askPin({ reason, attemptsRemaining, invalid }) {
    const s = this.#strings;
    this.#state = 'pin';
    this.#dialog.dataset.state = 'pin';
    const copy = s.pin[reason] ?? s.pin.required;
    const hint = typeof copy.hint === 'function' ? copy.hint(attemptsRemaining ?? 0) : copy.hint;
    const input = this.#el('input', {
      name: 'pin', id: 'fg-pin', type: 'password', inputmode: 'numeric', autocomplete: reason === 'choose' || reason === 'unique' ? 'new-password' : 'current-password',
      pattern: '[0-9]{4,16}', minlength: '4', maxlength: '16', required: '', 'aria-describedby': 'fg-pin-hint fg-pin-error',
    });
    const error = this.#el('p', { class: 'error-text', id: 'fg-pin-error', 'aria-live': 'assertive' }, invalid ? s.pin.invalid : '');
    if (invalid || reason === 'wrong' || reason === 'unique') input.setAttribute('aria-invalid', 'true');
    const submit = this.#button(s.pin.submit, 'submit-pin', true);
    submit.type = 'submit';
    const form = this.#el('form', { novalidate: '' },
      this.#el('div', { class: 'center' }, this.#el('div', { class: reason === 'wrong' || reason === 'unique' ? 'badge bad' : 'badge info' }, this.#icon('lock', 28)), this.#el('h3', {}, copy.title), this.#el('p', { class: 'muted', id: 'fg-pin-hint' }, hint)),
      this.#el('label', { for: 'fg-pin', class: 'sr-only' }, s.pin.label),
      input,
      error,
      this.#el('div', { class: 'actions full' }, submit),
    );
    this.#replace(form);
    this.#announce(`${copy.title}. ${hint}`);
    input.focus();
    return this.#wait((resolve) => {
      form.addEventListener('submit', (event) => {
        event.preventDefault();
        const value = input.value.trim();
        if (!isValidPin(value)) {
          error.textContent = s.pin.invalid;
          input.setAttribute('aria-invalid', 'true');
          input.focus();
          return;
        }
        resolve(value);
      });
      input.addEventListener('input', () => {
        input.value = input.value.replace(/[^0-9]/g, '').slice(0, 16);
      });
    });
  }

  /** The handoff screen: the QR code (an image: the SVG is never parsed into the page), the match code, a live status. */
  showHandoff({ qrSvg, matchCode }) {
    const s = this.#strings.handoff;
    this.#state = 'handoff';
    this.#dialog.dataset.state = 'handoff';
    this.#dialog.querySelector('.title').textContent = s.title;
    const bytes = new TextEncoder().encode(qrSvg ?? '');
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    const qr = this.#el('img', { class: 'qr', alt: s.qrAlt, src: `data:image/svg+xml;base64,${btoa(binary)}`, width: '220', height: '220' });
    const code = this.#el('strong', { class: 'match-code', 'data-field': 'match-code', 'aria-label': `${s.code} ${String(matchCode).split('').join(' ')}` }, matchCode);
    this.#handoffLine = this.#el('p', { class: 'handoff-status', 'data-field': 'handoff-status' }, s.status.pending);
    this.#replace(
      this.#el('div', { class: 'center handoff' },
        this.#el('p', { class: 'muted' }, s.scan),
        qr,
        this.#el('p', { class: 'muted' }, `${s.code} `, code),
        this.#el('p', { class: 'muted small' }, s.codeHint),
        this.#handoffLine),
    );
    this.#announce(`${s.title}. ${s.scan} ${s.code} ${matchCode}. ${s.status.pending}`);
    this.#focusFirst(true);
  }

  /** The handoff's status as the phone moves it on. */
  handoffStatus(status) {
    const text = this.#strings.handoff.status[status];
    if (!text || !this.#handoffLine || this.#closed) return;
    this.#handoffLine.textContent = text;
    this.#handoffLine.dataset.status = status;
    this.#announce(text);
  }

  /** No camera here: offer the phone instead; resolves true (use it) or false. */
  offerHandoff() {
    const s = this.#strings.handoff.offer;
    this.#state = 'offer';
    this.#dialog.dataset.state = 'offer';
    const accept = this.#button(s.accept, 'handoff', true);
    const cancel = this.#button(this.#strings.cancel, 'decline');
    this.#replace(
      this.#el('div', { class: 'center' }, this.#el('div', { class: 'badge info' }, this.#icon('camera', 30)), this.#el('h3', {}, s.title), this.#el('p', { class: 'muted' }, s.hint)),
      this.#el('div', { class: 'actions full' }, cancel, accept),
    );
    this.#announce(`${s.title}. ${s.hint}`);
    accept.focus();
    return this.#wait((resolve) => {
      accept.addEventListener('click', () => resolve(true));
      cancel.addEventListener('click', () => resolve(false));
    });
  }

  /** The success screen, for a moment (or until dismissed). */
  showSuccess() {
    const s = this.#strings.success[this.#operation];
    return this.#outcome('success', 'ok', 'check', s.title, s.hint, this.#feedback.success);
  }

  /** The error screen, for a moment (or until dismissed). */
  showError(error) {
    const [title, hint] = this.#strings.errors[error.code] ?? this.#strings.errors.PROCESSING_ERR;
    const cameraHint = error.cameraCode ? this.#strings.cameraHints[error.cameraCode] : null;
    const serverHint = error.serverCode ? this.#strings.serverHints?.[error.serverCode] : null;
    return this.#outcome('error', 'bad', 'alert', title, serverHint ?? cameraHint ?? hint, this.#feedback.error);
  }

  /** Unmounts and gives focus back to where it was. */
  close() {
    if (this.#closed) return;
    this.#closed = true;
    this.#pending?.(null);
    this.#doc.removeEventListener('keydown', this.#keydown, true);
    this.#doc.removeEventListener('focusin', this.#focusin, true);
    this.#host?.remove();
    try {
      this.#returnFocus?.focus?.();
    } catch {
      // the element is gone
    }
  }

  // --- internals ---------------------------------------------------------------

  #outcome(state, tone, icon, title, hint, ms) {
    if (this.#closed) return Promise.resolve();
    this.#state = state;
    this.#dialog.dataset.state = state;
    const close = this.#button(this.#strings.close, 'close', state === 'error');
    this.#replace(
      this.#el('div', { class: 'center' }, this.#el('div', { class: `badge ${tone}` }, this.#icon(icon, 32)), this.#el('h3', {}, title), hint ? this.#el('p', { class: 'muted' }, hint) : ''),
      this.#el('div', { class: 'actions full' }, close),
    );
    this.#announce(hint ? `${title}. ${hint}` : title);
    close.focus();
    return this.#wait((resolve) => {
      const timer = setTimeout(() => resolve(), ms);
      close.addEventListener('click', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** The camera stage (video, oval, cue), kept while the state stays on it. */
  #ensureStage() {
    if (!this.#video) this.#renderStage();
  }

  #renderStage() {
    const video = this.#el('video', { autoplay: '', muted: '', playsinline: '', 'aria-hidden': 'true' });
    video.muted = true;
    // The last frame, shown (mirrored like the preview) once the camera is released.
    this.#still = this.#el('canvas', { class: 'still', 'aria-hidden': 'true' });
    const ring = this.#doc.createElementNS(SVG_NS, 'svg');
    ring.setAttribute('class', 'ring');
    ring.setAttribute('viewBox', '0 0 100 100');
    ring.setAttribute('preserveAspectRatio', 'none');
    ring.setAttribute('aria-hidden', 'true');
    const oval = this.#doc.createElementNS(SVG_NS, 'ellipse');
    for (const [name, value] of Object.entries({ class: 'oval', cx: '50', cy: '46', rx: '34', ry: '36' })) oval.setAttribute(name, value);
    ring.append(oval);
    this.#cue = this.#el('div', { class: 'cue', 'aria-hidden': 'true' });
    const veil = this.#el('div', { class: 'veil' }, this.#el('div', { class: 'spinner' }));
    const stage = this.#el('div', { class: 'stage' }, video, this.#still, this.#el('div', { class: 'halo' }), ring, this.#cue, veil);
    // The status region announces; this line is for the eyes only.
    this.#prompt = this.#el('p', { class: 'prompt', 'aria-hidden': 'true' });
    this.#steps = this.#el('ol', { class: 'steps', 'aria-hidden': 'true' });
    this.#replace(stage, this.#prompt, this.#steps);
    this.#video = video;
  }

  /** Copies the preview's current frame to the still canvas (before the camera is released). */
  #freeze() {
    const video = this.#video;
    const still = this.#still;
    if (!video || !still || still.classList.contains('shown') || !(video.videoWidth > 0)) return;
    try {
      still.width = video.videoWidth;
      still.height = video.videoHeight;
      still.getContext('2d').drawImage(video, 0, 0);
      still.classList.add('shown');
    } catch {
      // no 2D context: the stage stays dark
    }
  }

  #renderSteps(actions) {
    if (!this.#steps) return;
    this.#steps.replaceChildren(...actions.map(() => this.#el('li')));
  }

  /** The instruction on the video (with its icon), and a line of hint under it. */
  #setPrompt(text, icon, hint = '') {
    if (this.#prompt) this.#prompt.textContent = hint;
    if (this.#cue) {
      this.#cue.replaceChildren();
      if (icon && ICONS[icon]) this.#cue.append(this.#icon(icon, 18));
      if (text) this.#cue.append(text);
    }
  }

  #announce(text) {
    if (this.#status) this.#status.textContent = text;
  }

  #replace(...children) {
    this.#body.replaceChildren(...children.filter((c) => c !== ''));
    // Anything else replaced the stage: a later camera state builds a new one.
    if (this.#video && !this.#body.contains(this.#video)) {
      this.#video = null;
      this.#cue = null;
      this.#still = null;
      this.#prompt = null;
      this.#steps = null;
    }
  }

  /** A pending user choice, settled by the view (or by close: null). */
  #wait(setup) {
    return new Promise((resolve) => {
      const settle = (value) => {
        if (this.#pending !== settle) return;
        this.#pending = null;
        resolve(value);
      };
      this.#pending = settle;
      setup(settle);
    });
  }

  #cancel() {
    if (this.#state === 'success' || this.#state === 'error') {
      this.#pending?.(undefined);
      return;
    }
    // The operation ignores it while the server commits an enrollment or a login.
    this.#onCancel?.();
  }

  /** Focus that leaves the modal dialog (page elements behind it) comes back. */
  #onFocusin(event) {
    if (this.#closed || event.target === this.#host) return;
    this.#focusFirst(true);
  }

  #onKeydown(event) {
    if (event.key === 'Escape') {
      event.preventDefault();
      event.stopPropagation();
      this.#cancel();
      return;
    }
    if (event.key !== 'Tab') return;
    const focusables = [...this.#root.querySelectorAll(FOCUSABLE)].filter((el) => el.getClientRects().length > 0);
    if (focusables.length === 0) {
      event.preventDefault();
      this.#dialog.focus();
      return;
    }
    const first = focusables[0];
    const last = focusables[focusables.length - 1];
    // activeElement is null when focus is outside the dialog.
    const active = this.#root.activeElement;
    if (event.shiftKey && (active === first || !focusables.includes(active))) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && (active === last || !focusables.includes(active))) {
      event.preventDefault();
      first.focus();
    }
  }

  /** Keeps focus inside the dialog when the focused element was replaced (or, `force`, moved out). */
  #focusFirst(force = false) {
    const active = this.#root?.activeElement;
    if (!force && active && active !== this.#dialog) return;
    this.#root?.querySelector('[data-action="cancel"]')?.focus();
  }

  #button(label, action, primary = false) {
    return this.#el('button', { type: 'button', class: primary ? 'btn primary' : 'btn', 'data-action': action }, label);
  }

  #icon(name, size) {
    const svg = this.#doc.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('width', String(size));
    svg.setAttribute('height', String(size));
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('fill', 'none');
    svg.setAttribute('stroke', 'currentColor');
    svg.setAttribute('stroke-width', '2');
    svg.setAttribute('stroke-linecap', 'round');
    svg.setAttribute('stroke-linejoin', 'round');
    svg.setAttribute('aria-hidden', 'true');
    const path = this.#doc.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', ICONS[name]);
    svg.append(path);
    return svg;
  }

  #el(tag, attrs = {}, ...children) {
    const el = this.#doc.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
    // Text goes in as text nodes: server-provided strings (the consent text) are never parsed as HTML.
    el.append(...children.filter((c) => c != null && c !== ''));
    return el;
  }
}
