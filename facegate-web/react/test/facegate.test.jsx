// <FaceGate />, useFaceGate and useCamera in jsdom, bundled and run once per
// React major (build.mjs --tests). The real SDK client talks to a routed
// fetch; the camera is the widget tests' fake, or the SDK's real Camera over
// fake media devices where opening and releasing is the point.
import './dom.js';

import { after, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StrictMode, version } from 'react';
import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';

import { Camera, ERROR_CODES, FaceGate, FaceGateClient, WidgetError, stylesheet, useCamera, useFaceGate } from '../src/index.js';
import { API_KEY, BASE_URL, CONSENT, PACE, USER, allStopped, apiRoutes, fakeCamera, fakeMediaDevices, livenessSession, reply, routedClient } from './support.js';

const REACT = `${REACT_UNDER_TEST} (${version})`;
afterEach(cleanup);
after(() => globalThis.window.close());

/**
 * Starts the hook's ceremony inside act(). Not `await act(async …)`: in an
 * ES module bundle React's act falls back to a MessageChannel, whose port
 * would keep node's test process alive.
 */
function startIn(record) {
  act(() => {
    record.gate.start();
  });
}

/** Records what the hook reported on every render. */
function Probe({ record, ...options }) {
  const gate = useFaceGate(options);
  record.push(gate.status);
  record.gate = gate;
  return <video ref={gate.videoRef} />;
}

const seen = (record) => record.filter((status, i) => status !== record[i - 1]);

describe(`<FaceGate /> with React ${REACT}`, () => {
  test('authenticate: camera, challenge, verify → onVerified with the user, camera released', async () => {
    const { client, routed } = routedClient();
    const camera = fakeCamera();
    const verified = [];
    const errors = [];
    render(<FaceGate client={client} createCamera={() => camera} pace={PACE} onVerified={(r) => verified.push(r)} onError={(e) => errors.push(e)} />);
    const section = screen.getByRole('region', { name: 'Log in with your face' });
    assert.equal(section.dataset.status, 'idle');
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(section.dataset.status, 'done'));
    assert.deepEqual(errors, []);
    assert.equal(verified.length, 1);
    assert.deepEqual(verified[0].user, USER);
    assert.equal(verified[0].verification_token, 'vt_1');
    assert.equal(camera.state.opened, 1);
    assert.ok(camera.state.closed >= 1 && !camera.state.streaming, 'the camera is off once the frames are taken');
    assert.deepEqual(routed.of('POST /v1/verify')[0].body.liveness_session_id, 'liv_1');
    assert.equal(routed.of('POST /v1/session').length, 0, 'no session without onSession');
    assert.equal(screen.getByRole('heading').textContent, 'Welcome back');
  });

  test('the hook walks idle → camera → challenge → verifying → done', async () => {
    // Each step waits for the test to let it go on.
    const held = {};
    const hold = (name, answer) => () => new Promise((resolve) => { held[name] = () => resolve(answer); });
    const routes = apiRoutes();
    const { client } = routedClient({
      ...routes,
      'POST /v1/liveness/session': hold('session', routes['POST /v1/liveness/session']),
      'POST /v1/verify': hold('verify', routes['POST /v1/verify']),
    });
    const record = [];
    render(<Probe record={record} client={client} createCamera={() => fakeCamera()} pace={PACE} />);
    assert.equal(record.gate.status, 'idle');
    startIn(record);
    await waitFor(() => assert.equal(record.gate.status, 'camera'));
    await waitFor(() => assert.ok(held.session));
    act(() => held.session());
    await waitFor(() => assert.ok(held.verify));
    assert.ok(seen(record).includes('challenge'));
    assert.equal(record.gate.status, 'verifying');
    act(() => held.verify());
    await waitFor(() => assert.equal(record.gate.status, 'done'));
    assert.deepEqual(seen(record), ['idle', 'camera', 'challenge', 'verifying', 'done']);
    assert.equal(record.gate.result.user.id, 'usr_1');
    // reset() goes back to idle.
    act(() => record.gate.reset());
    assert.equal(record.gate.status, 'idle');
  });

  test('enroll: the consent text, then liveness, consent recorded, enroll → onEnrolled', async () => {
    const { client, routed } = routedClient();
    const enrolled = [];
    render(<FaceGate mode="enroll" client={client} payload={{ plan: 'pro' }} name="Ada" createCamera={() => fakeCamera()} pace={PACE} onEnrolled={(r) => enrolled.push(r)} />);
    await screen.findByText(CONSENT.consent_text);
    assert.equal(routed.of('POST /v1/consent').length, 0, 'nothing recorded before the user agrees');
    fireEvent.click(screen.getByRole('button', { name: 'I agree' }));
    await waitFor(() => assert.equal(enrolled.length, 1));
    assert.equal(enrolled[0].user_id, 'usr_1');
    assert.deepEqual(routed.of('POST /v1/consent')[0].body, { consent_version: 'v1', consent_text_hash: CONSENT.consent_text_hash });
    const body = routed.of('POST /v1/enroll')[0].body;
    assert.equal(body.consent_id, 'con_1');
    assert.equal(body.liveness_session_id, 'liv_1');
    assert.deepEqual(body.payload, { plan: 'pro' });
    assert.equal(body.name, 'Ada');
    // The consent was recorded after the capture, before the enrollment.
    const order = routed.calls.map((c) => c.route).filter((r) => r !== 'GET /v1/consent/versions');
    assert.deepEqual(order, ['POST /v1/liveness/session', 'POST /v1/liveness/session/:id/frames', 'POST /v1/consent', 'POST /v1/enroll']);
  });

  test('provider + onSession: the verification token is exchanged for the provider\'s session', async () => {
    const routes = apiRoutes();
    const { routed } = routedClient(routes);
    const realFetch = globalThis.fetch;
    globalThis.fetch = routed.fetch; // the component builds its own client from apiKey
    try {
      const sessions = [];
      const order = [];
      render(<FaceGate apiKey={API_KEY} baseUrl={BASE_URL} provider="supabase" createCamera={() => fakeCamera()} pace={PACE}
        onVerified={() => order.push('verified')} onSession={(s) => { order.push('session'); sessions.push(s); }} />);
      fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
      await waitFor(() => assert.equal(sessions.length, 1));
      assert.deepEqual(order, ['verified', 'session']);
      assert.deepEqual(routed.of('POST /v1/session')[0].body, { verification_token: 'vt_1', provider: 'supabase' });
      assert.equal(routed.of('POST /v1/session')[0].headers.Authorization ?? routed.of('POST /v1/session')[0].headers.authorization, `Bearer ${API_KEY}`);
      assert.deepEqual(sessions[0].provider_session, { provider: 'supabase', access_token: 'sb_1' });
      assert.equal(sessions[0].token, 'jwt_1');
      // Every request went to baseUrl.
      assert.ok(routed.calls.length > 3);
      for (const call of routed.calls) assert.ok(String(call.url).startsWith(`${BASE_URL}/v1/`), call.url);
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  test('camera refused → onError PERMISSION_REFUSED / camera_permission_denied, the hint shown', async () => {
    const { client, routed } = routedClient();
    const media = fakeMediaDevices({ deny: true });
    const errors = [];
    render(<FaceGate client={client} createCamera={() => new Camera({ mediaDevices: media.mediaDevices })} pace={PACE} onError={(e) => errors.push(e)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(errors.length, 1));
    assert.ok(errors[0] instanceof WidgetError);
    assert.equal(errors[0].code, ERROR_CODES.PERMISSION_REFUSED);
    assert.equal(errors[0].cameraCode, 'camera_permission_denied');
    assert.equal(routed.calls.length, 0, 'no liveness session without a camera');
    assert.match(screen.getByRole('alert').textContent, /Allow camera access/);
    // Focus moves to the outcome's heading (an effect after the commit:
    // React 19 may run it after onError's waitFor has returned).
    await waitFor(() => assert.equal(document.activeElement, screen.getByRole('heading')));
  });

  const failures = [
    ['a session that is not live', { 'POST /v1/liveness/session/:id/frames': reply(200, { session_id: 'liv_1', is_live: false, confidence: 12 }) }, 'PAD_ATTACK', null],
    ['no match', { 'POST /v1/verify': reply(200, { matched: false, confidence: 41, verification_token: null, user: null, risk: null }) }, 'UNRECOGNIZED_FACE', null],
    ['429 RATE_LIMITED', { 'POST /v1/verify': reply(429, { error: 'slow down', code: 'RATE_LIMITED' }, { 'retry-after': '120' }) }, 'TOO_MANY_REQUESTS', 'RATE_LIMITED'],
    ['403 RISK_BLOCKED', { 'POST /v1/verify': reply(403, { error: 'blocked', code: 'RISK_BLOCKED' }) }, 'UNAUTHORIZED', 'RISK_BLOCKED'],
    ['a network failure', { 'POST /v1/liveness/session': new TypeError('fetch failed') }, 'NETWORK_IO', null],
  ];
  for (const [what, overrides, code, serverCode] of failures) {
    test(`errors: ${what} → ${code}`, async () => {
      const { client } = routedClient(apiRoutes(overrides));
      const camera = fakeCamera();
      const errors = [];
      render(<FaceGate client={client} createCamera={() => camera} pace={PACE} onError={(e) => errors.push(e)} onVerified={() => assert.fail('not verified')} />);
      fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
      await waitFor(() => assert.equal(errors.length, 1));
      assert.equal(errors[0].code, code);
      assert.equal(errors[0].serverCode, serverCode);
      assert.ok(!camera.state.streaming, 'the camera is released on error');
      assert.equal(screen.getByRole('region').dataset.status, 'error');
      // Try again runs a new ceremony.
      fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
      await waitFor(() => assert.equal(errors.length, 2));
    });
  }

  test('a PIN when the server asks: the form, then verify again with the PIN', async () => {
    const pinRequired = reply(400, { error: 'PIN needed', code: 'PIN_REQUIRED' });
    const routes = apiRoutes();
    const { client, routed } = routedClient({ ...routes, 'POST /v1/verify': [pinRequired, routes['POST /v1/verify']] });
    const verified = [];
    render(<FaceGate client={client} createCamera={() => fakeCamera()} pace={PACE} onVerified={(r) => verified.push(r)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    const input = await screen.findByLabelText('PIN code');
    assert.equal(document.activeElement, input, 'the PIN field takes the focus');
    fireEvent.change(input, { target: { value: '12' } });
    fireEvent.click(screen.getByRole('button', { name: 'Continue' }));
    await screen.findByText('Use 4 to 16 digits.');
    fireEvent.change(screen.getByLabelText('PIN code'), { target: { value: '4821' } });
    fireEvent.click(screen.getByRole('button', { name: 'Continue' }));
    await waitFor(() => assert.equal(verified.length, 1));
    const bodies = routed.of('POST /v1/verify').map((c) => c.body);
    assert.equal(bodies.length, 2, 'the invalid PIN never reached the server');
    assert.equal(bodies[0].pin, undefined);
    assert.equal(bodies[1].pin, '4821');
    assert.equal(bodies[1].liveness_session_id, 'liv_1', 'the same live session');
  });

  test('cancel during the challenge → CANCELED, camera released', async () => {
    const { client } = routedClient({ ...apiRoutes(), 'POST /v1/liveness/session/:id/frames': () => new Promise(() => {}) });
    const camera = fakeCamera({ hangCapture: true });
    const errors = [];
    render(<FaceGate client={client} createCamera={() => camera} pace={PACE} onError={(e) => errors.push(e)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(screen.getByRole('region').dataset.status, 'challenge'));
    assert.ok(camera.state.streaming);
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    await waitFor(() => assert.equal(errors.length, 1));
    assert.equal(errors[0].code, 'CANCELED');
    assert.ok(!camera.state.streaming);
  });

  test('strict mode + autoStart: the camera is opened once, one ceremony runs, unmount releases it', async () => {
    const { client, routed } = routedClient();
    const media = fakeMediaDevices();
    const errors = [];
    const { unmount } = render(
      <StrictMode>
        <FaceGate client={client} autoStart createCamera={() => new Camera({ mediaDevices: media.mediaDevices })} pace={PACE} onError={(e) => errors.push(e)} />
      </StrictMode>,
    );

    // jsdom's <video> never plays: the ceremony waits for frames, mid-challenge.
    await waitFor(() => assert.equal(screen.getByRole('region').dataset.status, 'challenge'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(media.state.calls, 1, 'getUserMedia once');
    assert.equal(routed.of('POST /v1/liveness/session').length, 1, 'one liveness session');
    assert.equal(media.state.tracks[0].readyState, 'live');
    unmount();
    await waitFor(() => assert.ok(allStopped(media.state), 'every track stopped'));
    assert.deepEqual(errors, [], 'an unmount is not an error');
  });

  test('unmount while the browser asks for permission: what it grants is stopped', async () => {
    const { client } = routedClient();
    const media = fakeMediaDevices({ hold: true });
    const { unmount } = render(<FaceGate client={client} autoStart createCamera={() => new Camera({ mediaDevices: media.mediaDevices })} pace={PACE} />);
    await waitFor(() => assert.equal(media.state.calls, 1));
    unmount();
    await new Promise((resolve) => setTimeout(resolve, 5));
    media.grant();
    await waitFor(() => assert.ok(allStopped(media.state)));
  });

  test('without a client or an apiKey: onError UNAUTHORIZED, nothing thrown at render', async () => {
    const errors = [];
    render(<FaceGate onError={(e) => errors.push(e)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(errors.length, 1));
    assert.equal(errors[0].code, 'UNAUTHORIZED');
  });

  test('a server key as apiKey: refused before anything is sent', async () => {
    const routes = apiRoutes();
    const { routed } = routedClient(routes);
    const realFetch = globalThis.fetch;
    globalThis.fetch = routed.fetch;
    try {
      const errors = [];
      render(<FaceGate apiKey="fg_live_abcdefabcdefabcdefabcdefabcd" baseUrl={BASE_URL} onError={(e) => errors.push(e)} />);
      fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
      await waitFor(() => assert.equal(errors.length, 1));
      assert.equal(errors[0].code, 'UNAUTHORIZED');
      assert.match(errors[0].message, /client key/);
      assert.doesNotMatch(errors[0].message, /fg_live_abcdef/, 'the key is not repeated');
      assert.equal(routed.calls.length, 0);
    } finally {
      globalThis.fetch = realFetch;
    }
  });

  test('an active challenge: each action announced in the live region, numbered, then the answer awaited', async () => {
    const challenge = { mode: 'active', actions: ['turn_left', 'blink'], nonce: 'n-1', min_frames: 3, max_frames: 10 };
    const { client, routed } = routedClient(apiRoutes({ 'POST /v1/liveness/session': reply(200, livenessSession('liv_1', challenge)) }));
    const verified = [];
    render(<FaceGate client={client} createCamera={() => fakeCamera()} pace={{ ...PACE, introMs: 20, stepMs: 20 }} onVerified={(r) => verified.push(r)} />);
    const region = screen.getByRole('status');
    const announced = [];
    const observer = new MutationObserver(() => {
      if (announced.at(-1) !== region.textContent) announced.push(region.textContent);
    });
    observer.observe(region, { childList: true, characterData: true, subtree: true });
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(verified.length, 1));
    observer.disconnect();
    assert.deepEqual(
      announced.filter((text) => text.startsWith('Turn') || text.startsWith('Blink') || text.startsWith('Center')),
      ['Center your face in the oval', 'Turn your head to the left (Step 1 of 2)', 'Blink your eyes (Step 2 of 2)'],
    );
    assert.equal(routed.of('POST /v1/liveness/session/:id/frames').length, 1);
  });

  test('provider with a client of another provider: refused, not silently ignored', async () => {
    const { client, routed } = routedClient();
    const errors = [];
    render(<FaceGate client={client} provider="supabase" createCamera={() => fakeCamera()} pace={PACE}
      onSession={() => assert.fail('no session')} onError={(e) => errors.push(e)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(errors.length, 1));
    assert.equal(errors[0].code, 'UNAUTHORIZED');
    assert.match(errors[0].message, /new FaceGateClient\(\{ provider \}\)/);
    assert.equal(routed.calls.length, 0);
    cleanup();

    // The same provider on both: the client's session is the one asked for.
    const same = routedClient(undefined, { provider: 'supabase' });
    const sessions = [];
    render(<FaceGate client={same.client} provider="supabase" createCamera={() => fakeCamera()} pace={PACE}
      onSession={(s) => sessions.push(s)} onError={(e) => assert.fail(e.message)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(sessions.length, 1));
    assert.equal(same.routed.of('POST /v1/session')[0].body.provider, 'supabase');
  });

  test('no Cancel while the sign-in is committed; cancel() refuses; the answer is kept', async () => {
    const routes = apiRoutes();
    let answer;
    const { client } = routedClient({ ...routes, 'POST /v1/verify': () => new Promise((resolve) => { answer = () => resolve(routes['POST /v1/verify']); }) });
    const record = [];
    const verified = [];
    render(<Probe record={record} client={client} createCamera={() => fakeCamera()} pace={PACE} onVerified={(r) => verified.push(r)} />);
    startIn(record);
    await waitFor(() => assert.ok(answer));
    await waitFor(() => assert.equal(record.gate.committing, true));
    let refused;
    act(() => {
      refused = record.gate.cancel();
    });
    assert.equal(refused, false);
    act(() => answer());
    await waitFor(() => assert.equal(record.gate.status, 'done'));
    assert.equal(verified.length, 1);
    assert.equal(record.gate.committing, false);
  });

  test('the session exchange fails: onError only (no onVerified before it), the camera off', async () => {
    const { client } = routedClient({ ...apiRoutes(), 'POST /v1/session': reply(501, { error: 'no such provider', code: 'PROVIDER_NOT_IMPLEMENTED' }) });
    const calls = [];
    render(<FaceGate client={client} createCamera={() => fakeCamera()} pace={PACE}
      onVerified={() => calls.push('verified')} onSession={() => calls.push('session')} onError={(e) => calls.push(e.serverCode)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(calls.length, 1));
    assert.deepEqual(calls, ['PROVIDER_NOT_IMPLEMENTED']);
  });

  test('a host callback that throws is reported, not turned into a failed login', async () => {
    const { client } = routedClient();
    const errors = [];
    const reported = [];
    const original = globalThis.reportError;
    globalThis.reportError = (error) => reported.push(error);
    try {
      const record = [];
      render(<Probe record={record} client={client} createCamera={() => fakeCamera()} pace={PACE} onVerified={() => { throw new Error('host bug'); }} onError={(e) => errors.push(e)} />);
      startIn(record);
      await waitFor(() => assert.equal(record.gate.status, 'done'));
      assert.deepEqual(errors, []);
      assert.equal(reported[0]?.message, 'host bug');
    } finally {
      globalThis.reportError = original;
    }
  });

  test('enroll: start() before the terms were shown → TERMS_NOT_ACCEPTED, nothing recorded', async () => {
    let release;
    const { client, routed } = routedClient({ ...apiRoutes(), 'GET /v1/consent/versions': () => new Promise((resolve) => { release = () => resolve(reply(200, { versions: [{ ...CONSENT, text: CONSENT.consent_text }] })); }) });
    const record = [];
    const errors = [];
    render(<Probe record={record} mode="enroll" client={client} createCamera={() => fakeCamera()} pace={PACE} onError={(e) => errors.push(e)} />);
    startIn(record);
    await waitFor(() => assert.equal(errors[0]?.code, 'TERMS_NOT_ACCEPTED'));
    assert.equal(routed.of('POST /v1/liveness/session').length, 0);
    act(() => release());
    await waitFor(() => assert.equal(record.gate.consent?.consent_version, 'v1'));
  });

  test('enroll without a client or key: the reason shown and reported, not "Preparing…" forever', async () => {
    const errors = [];
    render(<FaceGate mode="enroll" onError={(e) => errors.push(e)} />);
    assert.match(screen.getByRole('alert').textContent, /client. or an .apiKey/);
    assert.equal(errors[0]?.code, 'UNAUTHORIZED');
  });

  test('cancel, then Try again: the new ceremony completes and the cancelled one stays silent', async () => {
    const routes = apiRoutes();
    let lateSession;
    const { client, routed } = routedClient({
      ...routes,
      // The first liveness session answers only after the cancel.
      'POST /v1/liveness/session': [() => new Promise((resolve) => { lateSession = () => resolve(routes['POST /v1/liveness/session']); }), routes['POST /v1/liveness/session']],
    });
    const cameras = [];
    const errors = [];
    const verified = [];
    render(<FaceGate client={client} createCamera={() => { const c = fakeCamera(); cameras.push(c); return c; }} pace={PACE} onError={(e) => errors.push(e)} onVerified={(r) => verified.push(r)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.ok(lateSession));
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    assert.deepEqual(errors.map((e) => e.code), ['CANCELED']);
    assert.equal(screen.getByRole('region').dataset.status, 'error');
    fireEvent.click(screen.getByRole('button', { name: 'Try again' }));
    await waitFor(() => assert.equal(verified.length, 1));
    lateSession();
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.deepEqual(errors.map((e) => e.code), ['CANCELED'], 'the first run said nothing more');
    assert.equal(screen.getByRole('region').dataset.status, 'done');
    assert.equal(cameras.length, 2);
    assert.ok(cameras.every((c) => !c.state.streaming));
    assert.equal(routed.of('POST /v1/verify').length, 1, 'the cancelled run never verified');
  });

  test('a verify that never answers ends in TIMEOUT (Cancel is hidden while it runs)', async () => {
    const { client } = routedClient({ ...apiRoutes(), 'POST /v1/verify': () => new Promise(() => {}) });
    const errors = [];
    render(<FaceGate client={client} createCamera={() => fakeCamera()} pace={PACE} replyTimeoutMs={60} onError={(e) => errors.push(e)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await waitFor(() => assert.equal(screen.getByRole('region').getAttribute('aria-busy'), 'true'));
    await waitFor(() => assert.equal(screen.getByRole('region').dataset.status, 'verifying'));
    assert.equal(screen.queryByRole('button', { name: 'Cancel' }), null);
    await waitFor(() => assert.equal(errors.length, 1));
    assert.equal(errors[0].code, 'TIMEOUT');
  });

  /** A client whose handoff answers from the test: the phone scans, then completes with `final`. */
  function handoffClient(final) {
    const { client, routed } = routedClient();
    const seen = { created: [], watched: 0 };
    client.createHandoff = async (params) => {
      seen.created.push(params);
      return { handoff_token: 'hof_1', desktop_secret: 'sec', qr_svg: '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', match_code: '4821', expires_at: '2030-01-01T00:05:00Z' };
    };
    let release;
    client.watchHandoff = async (started, { onStatus }) => {
      seen.watched++;
      onStatus({ status: 'scanned' });
      await new Promise((resolve) => { release = resolve; });
      return final;
    };
    return { client, routed, seen, complete: () => release() };
  }

  test('handoff: the QR code as an image (never markup), the match code, the phone\'s progress, then onVerified', async () => {
    const verify = { matched: true, confidence: 99, verification_token: 'vt_phone', refresh_token: 'rt', session_id: 'ses_p', user: USER, risk: null };
    const { client, seen, complete } = handoffClient({ status: 'completed', session_data: verify });
    const verified = [];
    render(<FaceGate client={client} handoff onVerified={(r) => verified.push(r)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    const qr = await screen.findByRole('img', { name: /QR code/ });
    assert.match(qr.getAttribute('src'), /^data:image\/svg\+xml;base64,/);
    assert.equal(document.querySelector('.facegate svg, .facegate script'), null, 'the SVG is not in the page');
    assert.ok(screen.getByText('4821'));
    await waitFor(() => assert.match(screen.getByRole('status').textContent, /Opened on your phone/));
    assert.deepEqual(seen.created, [{ mode: 'verify', enroll: undefined }]);
    complete();
    await waitFor(() => assert.equal(verified.length, 1));
    assert.equal(verified[0].verification_token, 'vt_phone');
  });

  test('no camera: the error offers the phone, and the handoff enrolls there', async () => {
    const { client, seen, complete } = handoffClient({ status: 'completed', user_id: 'usr_9', session_data: { enrollments: [] } });
    const media = { mediaDevices: { getUserMedia: async () => { throw Object.assign(new Error('none'), { name: 'NotFoundError' }); } } };
    const enrolled = [];
    const errors = [];
    render(<FaceGate mode="enroll" client={client} name="Ada" createCamera={() => new Camera(media)} pace={PACE} onEnrolled={(r) => enrolled.push(r)} onError={(e) => errors.push(e)} />);
    fireEvent.click(await screen.findByRole('button', { name: 'I agree' }));
    await waitFor(() => assert.equal(errors[0]?.cameraCode, 'camera_unavailable'));
    fireEvent.click(screen.getByRole('button', { name: 'Use my phone' }));
    await screen.findByRole('img', { name: /QR code/ });
    assert.deepEqual(seen.created, [{ mode: 'enroll', enroll: { name: 'Ada' } }]);
    complete();
    await waitFor(() => assert.equal(enrolled.length, 1));
    assert.equal(enrolled[0].user_id, 'usr_9');
  });

  test('handoff declined on the phone → CANCELED', async () => {
    const { client, complete } = handoffClient({ status: 'declined' });
    const errors = [];
    render(<FaceGate client={client} handoff onError={(e) => errors.push(e)} />);
    fireEvent.click(screen.getByRole('button', { name: 'Log in with my face' }));
    await screen.findByRole('img', { name: /QR code/ });
    complete();
    await waitFor(() => assert.equal(errors.length, 1));
    assert.equal(errors[0].code, 'CANCELED');
    assert.equal(errors[0].serverCode, 'HANDOFF_DECLINED');
  });

  test('theming: one stylesheet of custom properties, zero specificity; style and className pass through; unstyled adds none', () => {
    const { client } = routedClient();
    document.getElementById('facegate-react-styles')?.remove();
    render(<><FaceGate client={client} unstyled /></>);
    assert.equal(document.getElementById('facegate-react-styles'), null);
    cleanup();
    render(<><FaceGate client={client} className="mine" style={{ '--facegate-accent': 'rgb(1, 2, 3)' }} /><FaceGate client={client} /></>);
    assert.equal(document.querySelectorAll('#facegate-react-styles').length, 1);
    assert.equal(document.getElementById('facegate-react-styles').textContent, stylesheet);
    assert.match(stylesheet, /--facegate-accent:/);
    assert.doesNotMatch(stylesheet.replace(/:where\([^)]*\)/g, '').replace(/@media[^{]*\{/g, ''), /\.facegate/, 'every selector inside :where()');
    const [mine] = screen.getAllByRole('region');
    assert.ok(mine.classList.contains('facegate') && mine.classList.contains('mine'));
    assert.equal(mine.style.getPropertyValue('--facegate-accent'), 'rgb(1, 2, 3)');
  });

  test('locale: French strings, and the prompts in a polite live region', () => {
    const { client } = routedClient();
    render(<FaceGate client={client} locale="fr-CA" />);
    const section = screen.getByRole('region');
    assert.equal(section.getAttribute('lang'), 'fr');
    assert.ok(screen.getByRole('button', { name: 'Me connecter avec mon visage' }));
    const live = screen.getByRole('status');
    assert.equal(live.getAttribute('aria-live'), 'polite');
  });
});

describe(`useCamera with React ${REACT}`, () => {
  function Preview({ active, record }) {
    const cam = useCamera({ active, createCamera: () => new Camera({ mediaDevices: record.media.mediaDevices }) });
    record.last = cam;
    return <video ref={cam.videoRef} data-testid="preview" />;
  }

  test('active in strict mode: opened once, attached, released when inactive and on unmount', async () => {
    const record = { media: fakeMediaDevices() };
    const { rerender, unmount } = render(<StrictMode><Preview active record={record} /></StrictMode>);
    await waitFor(() => assert.equal(record.last.status, 'on'));
    assert.equal(record.media.state.calls, 1);
    assert.ok(screen.getByTestId('preview').srcObject, 'the stream is on the <video>');
    rerender(<StrictMode><Preview active={false} record={record} /></StrictMode>);
    await waitFor(() => assert.equal(record.last.status, 'off'));
    assert.ok(allStopped(record.media.state));
    rerender(<StrictMode><Preview active record={record} /></StrictMode>);
    await waitFor(() => assert.equal(record.last.status, 'on'));
    assert.equal(record.media.state.calls, 2);
    unmount();
    await waitFor(() => assert.ok(allStopped(record.media.state)));
  });

  test('refused: status error with the SDK\'s CameraPermissionDenied', async () => {
    const record = { media: fakeMediaDevices({ deny: true }) };
    render(<Preview active record={record} />);
    await waitFor(() => assert.equal(record.last.status, 'error'));
    assert.equal(record.last.error.code, 'camera_permission_denied');
    assert.equal(record.last.error.name, 'CameraPermissionDenied');
  });
});

test('the package re-exports the SDK', () => {
  assert.equal(typeof FaceGateClient, 'function');
  assert.ok(Object.isFrozen(ERROR_CODES));
});
