import { useCallback, useEffect, useMemo, useReducer, useRef } from 'react';
import { FaceGateClient, isClientKey } from '../../facegate.js';
import { WidgetError, toWidgetError } from '../../facegate-widget.js';
import { DEFAULT_PACE, authenticate, commit, enroll, handoff, latestConsent } from './ceremony.js';
import { useCamera, useReleaseOnUnmount } from './useCamera.js';

const INITIAL = Object.freeze({
  status: 'idle',
  prompt: null,
  actions: [],
  pin: null,
  handoff: null,
  committing: false,
  result: null,
  session: null,
  error: null,
});

function reducer(state, action) {
  switch (action.type) {
    case 'start':
      return { ...INITIAL, status: 'camera' };
    case 'step': {
      const next = { ...state, status: action.status, pin: null };
      if (action.status === 'challenge') Object.assign(next, { actions: action.actions ?? [], prompt: null });
      if (action.status === 'handoff') next.handoff = action.handoff;
      if (action.status === 'pin') next.pin = action.pin;
      return next;
    }
    case 'prompt':
      return { ...state, prompt: { key: action.key, ...action.info } };
    case 'committing':
      return { ...state, committing: action.committing };
    case 'handoff-status':
      return state.handoff ? { ...state, handoff: { ...state.handoff, status: action.status } } : state;
    case 'done':
      return { ...state, status: 'done', prompt: null, pin: null, committing: false, result: action.result, session: action.session };
    case 'error':
      return { ...state, status: 'error', prompt: null, pin: null, committing: false, error: action.error };
    case 'reset':
      return INITIAL;
    default:
      return state;
  }
}

/** Calls a host callback; one that throws is reported like an event handler's error. */
function notify(callback, value) {
  try {
    callback?.(value);
  } catch (error) {
    if (typeof globalThis.reportError === 'function') globalThis.reportError(error);
    else setTimeout(() => { throw error; });
  }
}

/** The client of the props: the one given, else one for `apiKey` (a client key) and `baseUrl`. */
function useClient({ client, apiKey, baseUrl, provider }) {
  return useMemo(() => {
    if (client) {
      // The session's provider is the client's own setting (createSession
      // sends it): a different `provider` here would be silently ignored.
      if (provider && client.config?.provider !== provider) {
        return { client: null, problem: new WidgetError('UNAUTHORIZED', `\`provider="${provider}"\` differs from the client's own (${client.config?.provider ?? 'none'}): pass it to new FaceGateClient({ provider }) instead`) };
      }
      return { client, problem: null };
    }
    if (!apiKey) return { client: null, problem: new WidgetError('UNAUTHORIZED', 'FaceGate needs a `client` or an `apiKey` (a client key, fg_…_pub_…)') };
    // A page's key is public: a server key there is a leak, refused before it is ever sent.
    if (!isClientKey(apiKey)) {
      return { client: null, problem: new WidgetError('UNAUTHORIZED', '`apiKey` must be a client key (fg_live_pub_… or fg_test_pub_…): a server key must never reach a page') };
    }
    try {
      return { client: new FaceGateClient({ apiKey, baseUrl, provider: provider ?? undefined }), problem: null };
    } catch (cause) {
      return { client: null, problem: new WidgetError('UNAUTHORIZED', cause?.message ?? String(cause), { cause }) };
    }
  }, [client, apiKey, baseUrl, provider]);
}

/**
 * FaceGate's ceremony as state, for a UI you draw yourself (`<FaceGate />`
 * is this hook plus markup).
 *
 * status: 'idle' → 'camera' → 'challenge' → 'verifying' → 'done' | 'error',
 * with 'pin' (the server asked for the user's PIN: call submitPin) and
 * 'handoff' (a QR code for the phone) on the way when they apply.
 *
 * Options: `mode` ('authenticate' | 'enroll'), `client` or `apiKey` +
 * `baseUrl` (+ `provider`), `onVerified(verifyResult)`,
 * `onEnrolled(enrollResult)`, `onSession(session)` (authenticate: the
 * verification token is exchanged for a session, the provider's when one is
 * set), `onError(error)` (a WidgetError: `code` one of ERROR_CODES,
 * `cameraCode`, `serverCode`), `payload`, `name`, `role`, `pin`,
 * `consentId`, `handoff` (true: go straight to the phone), `autoStart`.
 */
export function useFaceGate(options = {}) {
  const { mode = 'authenticate', autoStart = false } = options;
  const { client, problem } = useClient(options);
  const [state, dispatch] = useReducer(reducer, INITIAL);
  const camera = useCamera({ createCamera: options.createCamera });
  const { open: openCamera, close: closeCamera } = camera;
  const latest = useRef(options);
  latest.current = options;
  const running = useRef(null);
  const pinAnswer = useRef(null);
  const consentRef = useRef(null);
  const [consentState, setConsent] = useReducer((_, next) => next, { version: null, error: null });

  // Enrollment shows the consent text before the camera opens.
  const needsConsent = mode === 'enroll' && !options.consentId && options.handoff !== true;
  useEffect(() => {
    consentRef.current = null;
    if (!needsConsent) return undefined;
    if (!client) {
      setConsent({ version: null, error: problem });
      notify(latest.current.onError, problem);
      return undefined;
    }
    setConsent({ version: null, error: null });
    let current = true;
    latestConsent(client).then(
      (version) => {
        if (!current) return;
        consentRef.current = version;
        setConsent({ version, error: null });
      },
      (error) => {
        if (!current) return;
        const failure = toWidgetError(error);
        setConsent({ version: null, error: failure });
        notify(latest.current.onError, failure);
      },
    );
    return () => {
      current = false;
    };
  }, [needsConsent, client, problem]);

  const fail = useCallback((error) => {
    dispatch({ type: 'error', error });
    notify(latest.current.onError, error);
  }, []);

  const committing = useRef(false);

  const run = useCallback(async (how) => {
    if (running.current) return;
    if (!client) {
      fail(problem);
      return;
    }
    // The hook's own UI must have shown the terms: start() on the consent screen is the user's yes.
    if (mode === 'enroll' && how !== 'handoff' && needsConsent && !consentRef.current) {
      fail(new WidgetError('TERMS_NOT_ACCEPTED', 'start() before the consent text was shown'));
      return;
    }
    const controller = new AbortController();
    const { signal } = controller;
    running.current = controller;
    dispatch({ type: 'start' });
    const live = () => !signal.aborted;
    const ui = {
      step: (status, extra = {}) => live() && dispatch({ type: 'step', status, ...extra }),
      prompt: (key, info = {}) => live() && dispatch({ type: 'prompt', key, info }),
      handoffStatus: (status) => live() && dispatch({ type: 'handoff-status', status }),
      committing: (value) => {
        // Only the current run's: a cancelled one's late commit must not lock the next out of cancel().
        if (running.current !== controller) return;
        committing.current = value;
        dispatch({ type: 'committing', committing: value });
      },
      askPin: (request) => new Promise((resolve) => {
        pinAnswer.current = resolve;
        dispatch({ type: 'step', status: 'pin', pin: request });
      }),
    };
    let opened = null;
    const cameraOf = { open: async () => (opened = await openCamera()), close: closeCamera };
    const ctx = { client, camera: cameraOf, ui, signal, pace: { ...DEFAULT_PACE, ...latest.current.pace }, replyTimeoutMs: latest.current.replyTimeoutMs };
    const params = { ...latest.current, consent: consentRef.current, handoff: how === 'handoff' ? true : latest.current.handoff };
    let outcome;
    try {
      if (mode === 'enroll') {
        const enrolled = how === 'handoff' ? await handoff(ctx, 'enroll', params) : await enroll(ctx, params);
        outcome = { result: enrolled, session: null };
      } else {
        const verified = how === 'handoff' ? await handoff(ctx, 'verify', params) : await authenticate(ctx, params);
        let session = null;
        if (latest.current.onSession) {
          ui.step('verifying');
          session = await commit(ctx, () => client.createSession(verified.verification_token));
        }
        outcome = { result: verified, session };
      }
    } catch (error) {
      outcome = { error: toWidgetError(error, { cameraReady: opened ? opened.isReady : undefined }) };
    }
    // Cancelled (cancel() reported it) or unmounted (nobody to tell): a run
    // that is no longer the current one touches nothing shared.
    if (running.current !== controller) return;
    running.current = null;
    committing.current = false;
    pinAnswer.current = null;
    closeCamera();
    if (outcome.error) {
      fail(outcome.error);
      return;
    }
    dispatch({ type: 'done', ...outcome });
    // The host's callbacks last, once the whole ceremony succeeded (one that
    // throws is the host's error, not a failed login).
    const callbacks = latest.current;
    if (mode === 'enroll') notify(callbacks.onEnrolled, outcome.result);
    else {
      notify(callbacks.onVerified, outcome.result);
      if (outcome.session) notify(callbacks.onSession, outcome.session);
    }
  }, [client, problem, mode, needsConsent, openCamera, closeCamera, fail]);

  const start = useCallback(() => run('camera'), [run]);
  const startHandoff = useCallback(() => run('handoff'), [run]);

  /** Ends the ceremony in progress: status 'error' with CANCELED (false while none runs). */
  const cancel = useCallback(() => {
    const controller = running.current;
    // An enrollment or sign-in in flight cannot be taken back.
    if (!controller || committing.current) return false;
    controller.abort();
    running.current = null;
    closeCamera();
    pinAnswer.current?.(null);
    fail(new WidgetError('CANCELED'));
    return true;
  }, [closeCamera, fail]);

  const reset = useCallback(() => {
    if (running.current) return;
    dispatch({ type: 'reset' });
  }, []);

  const submitPin = useCallback((pin) => {
    const answer = pinAnswer.current;
    pinAnswer.current = null;
    answer?.(pin);
  }, []);

  useEffect(() => {
    // Strict mode runs this twice on mount: `run` ignores the second call.
    if (autoStart && !needsConsent) start();
  }, []); // eslint-disable-line react-hooks/exhaustive-deps -- on mount only

  useReleaseOnUnmount(() => {
    running.current?.abort();
    running.current = null;
    committing.current = false;
    pinAnswer.current?.(null);
    // Hidden rather than gone (React 19's <Activity>): back to the start, not stuck mid-ceremony.
    dispatch({ type: 'reset' });
  });

  return {
    ...state,
    mode,
    client,
    consent: needsConsent ? consentState.version : null,
    consentError: needsConsent ? consentState.error : null,
    videoRef: camera.videoRef,
    camera,
    start,
    startHandoff,
    cancel,
    reset,
    submitPin,
  };
}
