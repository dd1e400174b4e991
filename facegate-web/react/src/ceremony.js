// The two ceremonies as plain async functions, free of React: what the widget
// does (facegate-widget.js), minus its dialog. useFaceGate drives them and
// turns their steps into state; the unit tests drive them with fakes.
//
// A ceremony talks to its UI through `ui`:
//   step(status, extra)    'camera' | 'challenge' | 'verifying' | 'pin' | 'handoff'
//   committing(bool)       an enroll, verify or session exchange is in flight (not cancellable)
//   prompt(key, info)      a prompt of MESSAGES[locale].prompts (turn_left, hold_still…)
//   askPin(request)        → the PIN the user typed, or null (cancel)
//   handoffStatus(status)  the phone's progress
// and stops, with a CANCELED error, as soon as `signal` aborts.

import { HandoffExpired, ProviderLivenessRequired, runLiveness } from '../../facegate.js';
import { WidgetError, isValidPin } from '../../facegate-widget.js';

/** How long an enroll, verify or session exchange may take (the widget's replyTimeout). */
const REPLY_TIMEOUT_MS = 40_000;

/** How often a ceremony asks again for a PIN the server refused. */
const MAX_PIN_PROMPTS = 5;

/** Pauses that let people read a prompt before the capture starts (ms). */
export const DEFAULT_PACE = Object.freeze({ introMs: 1200, stepMs: 450, frameIntervalMs: 120 });

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, unless the ceremony (`ctx.signal`) is cancelled first: then CANCELED. */
export function guard(ctx, promise) {
  const { signal } = ctx;
  if (signal.aborted) return Promise.reject(new WidgetError('CANCELED'));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new WidgetError('CANCELED'));
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve(promise).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * The call that enrolls or signs in: once sent it cannot be taken back, so
 * the UI offers no cancel while it runs (`ui.committing`).
 */
export async function commit(ctx, call) {
  check(ctx);
  ctx.ui.committing(true);
  let timer;
  // Not cancellable, so bounded: a server that never answers ends in TIMEOUT.
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new WidgetError('TIMEOUT', 'The server did not answer in time')), ctx.replyTimeoutMs ?? REPLY_TIMEOUT_MS);
  });
  try {
    return await guard(ctx, Promise.race([call(), expired]));
  } finally {
    clearTimeout(timer);
    ctx.ui.committing(false);
  }
}

function check(ctx) {
  if (ctx.signal.aborted) throw new WidgetError('CANCELED');
}

/** Asks until the answer has 4–16 digits; null (the user cancelled) ends the ceremony. */
async function askPin(ctx, request) {
  let invalid = false;
  for (;;) {
    check(ctx);
    const pin = await guard(ctx, ctx.ui.askPin({ ...request, invalid }));
    if (pin == null) throw new WidgetError('CANCELED');
    if (isValidPin(String(pin))) {
      ctx.ui.step('verifying');
      return String(pin);
    }
    invalid = true;
  }
}

/**
 * Camera, liveness session, challenge, upload. The camera is released as
 * soon as the frames are captured; a session that is not live is PAD_ATTACK.
 */
async function liveness(ctx, { mode } = {}) {
  const { client, ui, pace } = ctx;
  ui.step('camera');
  const camera = await guard(ctx, ctx.camera.open());
  const session = await guard(ctx, client.createLivenessSession(mode ? { mode } : undefined));
  if (!session.challenge && ('credentials' in session || 'region' in session)) {
    throw new ProviderLivenessRequired(session);
  }
  const challenge = session.challenge ?? {};
  const actions = challenge.mode === 'passive' ? [] : challenge.actions ?? [];
  ui.step('challenge', { actions });
  // runLiveness uploads through this: the camera goes off once the frames are taken.
  const uploading = {
    config: client.config,
    emit: (type, data) => client.emit?.(type, data),
    uploadFrames: (id, body) => {
      ctx.camera.close();
      ui.step('verifying');
      return guard(ctx, client.uploadFrames(id, body));
    },
  };
  const live = await guard(ctx, runLiveness(uploading, camera, {
    session,
    signal: ctx.signal,
    frameIntervalMs: pace.frameIntervalMs,
    onChallenge: async () => {
      ui.prompt(actions.length ? 'get_ready' : 'hold_still');
      await sleep(pace.introMs);
      check(ctx);
    },
    onStep: async (action, index) => {
      check(ctx);
      ui.prompt(action, { index, total: actions.length });
      await sleep(pace.stepMs);
    },
  }));
  ctx.camera.close();
  if (!live.isLive) throw new WidgetError('PAD_ATTACK', undefined, { confidence: live.confidence ?? 0 });
  return live;
}

/** The newest consent text the server asks users to accept. */
export async function latestConsent(client) {
  const { versions = [] } = (await client.consentVersions()) ?? {};
  const version = versions[versions.length - 1];
  if (!version) throw new WidgetError('PROCESSING_ERR', 'The server has no consent text to show', { serverCode: 'NO_CONSENT_VERSION' });
  return version;
}

/**
 * Enrollment: liveness, then the consent the user accepted (recorded only
 * once the capture succeeded), then enroll with a PIN when the server asks
 * for one. Returns the server's enroll answer (`user_id`, `enrollments`…).
 * `params.consent` is the version the user accepted; `params.consentId` one
 * the host recorded itself.
 */
export async function enroll(ctx, params = {}) {
  const { client } = ctx;
  if (params.handoff === true) return handoff(ctx, 'enroll', params);
  let consentId = params.consentId ?? null;
  const version = consentId ? null : params.consent ?? await guard(ctx, latestConsent(client));
  const live = await liveness(ctx);
  if (!consentId) {
    const record = await guard(ctx, client.recordConsent({ consentVersion: version.consent_version, consentTextHash: version.consent_text_hash }));
    consentId = record.consent_id;
  }
  let pin = params.pin == null ? undefined : String(params.pin);
  for (let asked = 0; ; ) {
    ctx.ui.step('verifying');
    try {
      return await commit(ctx, () => client.enroll({
        livenessSessionId: live.sessionId,
        consentId,
        payload: params.payload,
        pin,
        name: params.name ?? 'FaceGate user',
        role: params.role,
      }));
    } catch (error) {
      const reason = { PIN_REQUIRED: 'choose', UNIQUE_PIN_REQUIRED: 'unique' }[error?.code];
      if (!reason || asked++ >= MAX_PIN_PROMPTS) throw error;
      pin = await askPin(ctx, { reason });
    }
  }
}

/**
 * Sign-in: liveness, verify (with a PIN when asked), and the step-up the
 * tenant's risk rules may ask for (a PIN, or a second, active check).
 * Returns the server's verify answer with its `verification_token`.
 */
export async function authenticate(ctx, params = {}) {
  const { client } = ctx;
  if (params.handoff === true) return handoff(ctx, 'verify', params);
  let live = await liveness(ctx);
  let pin;
  let stepUpFor;
  for (let asked = 0; ; ) {
    ctx.ui.step('verifying');
    let verified;
    try {
      verified = await commit(ctx, () => client.verify({ livenessSessionId: live.sessionId, pin, stepUpFor }));
    } catch (error) {
      if (error?.code === 'PIN_REQUIRED' && asked++ < MAX_PIN_PROMPTS) {
        pin = await askPin(ctx, { reason: 'required' });
        continue;
      }
      const left = error?.attemptsRemaining ?? 0;
      if (error?.code === 'WRONG_PIN_CODE' && left > 0 && asked++ < MAX_PIN_PROMPTS) {
        pin = await askPin(ctx, { reason: 'wrong', attemptsRemaining: left });
        continue;
      }
      throw error;
    }
    if (!verified?.matched) {
      throw new WidgetError('UNRECOGNIZED_FACE', undefined, { confidence: verified?.confidence ?? 0 });
    }
    const stepUp = verified.risk?.step_up_required ? verified.risk.step_up_type : null;
    if (stepUp && !stepUpFor && asked++ < MAX_PIN_PROMPTS) {
      if (stepUp === 'pin') {
        pin = await askPin(ctx, { reason: 'required' });
        continue;
      }
      if (stepUp === 'liveness_active' && verified.step_up_id) {
        live = await liveness(ctx, { mode: 'active' });
        stepUpFor = verified.step_up_id;
        pin = undefined;
        continue;
      }
    }
    if (!verified.verification_token) {
      throw new WidgetError('UNAUTHORIZED', 'The sign-in needs a step-up this component could not complete', { serverCode: 'STEP_UP_REQUIRED' });
    }
    return verified;
  }
}

/**
 * Cross-device handoff: a QR code and a match code here, the ceremony on
 * the phone; the outcome comes back over the handoff's socket (or polling).
 */
export async function handoff(ctx, mode, params = {}) {
  const { client, ui } = ctx;
  ui.step('verifying');
  const enrollment = mode === 'enroll'
    ? {
      name: params.name ?? 'FaceGate user',
      ...(params.role ? { role: params.role } : {}),
      ...(params.payload !== undefined ? { payload: params.payload } : {}),
    }
    : undefined;
  const started = await guard(ctx, client.createHandoff({ mode, enroll: enrollment }));
  ui.step('handoff', { handoff: { qrSvg: started.qr_svg, matchCode: started.match_code, status: 'pending' } });
  const stop = new AbortController();
  let final;
  try {
    final = await guard(ctx, client.watchHandoff(started, { signal: stop.signal, onStatus: (status) => ui.handoffStatus(status.status) }));
  } catch (error) {
    if (error instanceof HandoffExpired) throw new WidgetError('TIMEOUT', 'The handoff expired before the phone finished', { serverCode: 'HANDOFF_EXPIRED', cause: error });
    throw error;
  } finally {
    stop.abort();
  }
  if (final.status === 'declined') throw new WidgetError('CANCELED', 'Declined on the phone', { serverCode: 'HANDOFF_DECLINED' });
  const data = final.session_data ?? {};
  if (mode === 'enroll') return { ...data, user_id: final.user_id ?? data.user_id ?? null };
  if (!data.verification_token) {
    throw new WidgetError('UNAUTHORIZED', 'The handoff\'s session was already collected', { serverCode: 'HANDOFF_ALREADY_COMPLETED' });
  }
  client.emit?.('verified', data);
  return data;
}
