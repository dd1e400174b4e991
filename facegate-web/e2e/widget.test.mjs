// The widget beyond the happy path, in real Chromium with a fake camera,
// against the axum example: the PIN forms (demo tenant in PIN mode `always`),
// iframe mode (the /demo page framed by another origin, FaceGuard's close
// message to the parent), and the dialog driven with the keyboard alone.
// Run with scripts/browser-tests.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { artifact, demoPreflight, explain, openDemo, runDemo, startServer, withBrowser } from './support.mjs';

const EMAIL = 'barack@example.com';
const PIN = '4821';
const WRONG_PIN = '1111';
const TIMEOUT = { timeout: 180_000 };

/** Polls `probe()` until it returns something truthy; fails with `what()` after `ms`. */
async function until(probe, what, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`${typeof what === 'function' ? await what() : what} (after ${ms} ms)`);
    await sleep(100);
  }
}

// ---------------------------------------------------------------------------
// 1. PIN: FACEGATE_DEMO_PIN=always
// ---------------------------------------------------------------------------

describe('PIN codes in the widget (demo tenant in PIN mode always)', { concurrency: false }, () => {
  let server;
  let enrolled;

  before(async () => {
    server = await startServer({ logName: 'server-pin.log', env: { FACEGATE_DEMO_PIN: 'always' } });
    const preflight = await demoPreflight(server.baseUrl);
    assert.equal(preflight.pin?.mode, 'always', `FACEGATE_DEMO_PIN=always, but the preflight says ${JSON.stringify(preflight.pin)}`);
  });

  after(async () => {
    await server?.stop();
  });

  test('enroll: the server answers PIN_REQUIRED, the widget asks for a PIN, the enrollment goes through', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, { operation: 'enroll', payload: EMAIL, pins: [PIN], shots: '5-pin-enroll' });
      const why = explain('enroll with a PIN', outcome, browser, server);
      assert.equal(outcome.status, 'ok', why);
      assert.equal(typeof outcome.body.facialId, 'string', why);
      assert.equal(outcome.pinPrompts.length, 1, `one PIN form expected\n${why}`);
      assert.equal(outcome.pinPrompts[0].title, 'Choose a PIN code', why);
      assert.ok(outcome.states.includes('pin'), why);
      // The first enroll was refused for want of a PIN, the second (same liveness session) went through.
      const enrolls = outcome.server.filter((answer) => answer.path.endsWith('/enroll'));
      assert.deepEqual(
        enrolls.map((answer) => [answer.status, answer.code ?? null]),
        [
          [400, 'PIN_REQUIRED'],
          [201, null],
        ],
        why,
      );
      enrolled = outcome.body;
    });
  });

  test('authenticate: a wrong PIN is asked again with the attempts left, the right one logs in', TIMEOUT, async () => {
    assert.ok(enrolled, 'the enrollment test failed, nobody to authenticate');
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, { operation: 'authenticate', pins: [WRONG_PIN, PIN], shots: '6-pin-authenticate' });
      const why = explain('authenticate with a wrong, then the right PIN', outcome, browser, server);
      assert.equal(outcome.status, 'ok', why);
      assert.equal(outcome.body.facialId, enrolled.facialId, why);
      assert.deepEqual(outcome.body.payload, { email: EMAIL }, why);
      assert.deepEqual(
        outcome.pinPrompts.map(({ title, hint }) => [title, hint]),
        [
          ['Enter your PIN code', 'To confirm it is you.'],
          ['Wrong PIN code', '2 attempts left.'],
        ],
        why,
      );
      const verifies = outcome.server.filter((answer) => answer.path.endsWith('/verify'));
      assert.deepEqual(
        verifies.map((answer) => [answer.status, answer.code ?? null, answer.attempts_remaining ?? null]),
        [
          [401, 'PIN_REQUIRED', null],
          [401, 'WRONG_PIN_CODE', 2],
          [200, null, null],
        ],
        why,
      );
    });
  });

  test('authenticate: three wrong PINs end in WRONG_PIN_CODE', TIMEOUT, async () => {
    assert.ok(enrolled, 'the enrollment test failed, nobody to authenticate');
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const outcome = await runDemo(browser, {
        operation: 'authenticate',
        pins: [WRONG_PIN, WRONG_PIN, WRONG_PIN],
        shots: '7-pin-three-wrong',
      });
      const why = explain('authenticate with three wrong PINs', outcome, browser, server);
      assert.equal(outcome.status, 'error', why);
      assert.equal(outcome.body.code, 'WRONG_PIN_CODE', why);
      assert.deepEqual(
        outcome.pinPrompts.map(({ hint }) => hint),
        ['To confirm it is you.', '2 attempts left.', '1 attempt left.'],
        why,
      );
      const verifies = outcome.server.filter((answer) => answer.path.endsWith('/verify'));
      assert.deepEqual(
        verifies.map((answer) => [answer.status, answer.code ?? null, answer.attempts_remaining ?? null]),
        [
          [401, 'PIN_REQUIRED', null],
          [401, 'WRONG_PIN_CODE', 2],
          [401, 'WRONG_PIN_CODE', 1],
          [401, 'WRONG_PIN_CODE', 0],
        ],
        why,
      );
    });
  });
});

// ---------------------------------------------------------------------------
// 2. Iframe mode: /demo?embed=1 framed by another origin
// ---------------------------------------------------------------------------

/**
 * The embedding site's page: the demo in an iframe, and every `message` it
 * receives, kept in `window.received` and shown on the page.
 */
function parentPage(src) {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop (parent page)</title>
<style>
  body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: #fef3c7; color: #1c1917; display: flex; gap: 16px; padding: 16px; }
  iframe { width: 520px; height: 760px; border: 2px dashed #b45309; background: #fff; flex: none; }
  pre { flex: 1; margin: 0; padding: 12px; background: #1c1917; color: #fde68a; white-space: pre-wrap; overflow-wrap: anywhere; }
</style></head>
<body>
<iframe id="facegate" src="${src}" allow="camera"></iframe>
<div style="flex: 1; display: flex; flex-direction: column; gap: 8px; min-width: 0">
  <h1 style="margin: 0; font-size: 20px">Parent page on <span id="origin"></span></h1>
  <pre id="log">messages received: none yet</pre>
</div>
<script>
  document.getElementById('origin').textContent = location.origin;
  window.received = [];
  addEventListener('message', (event) => {
    window.received.push({ origin: event.origin, data: event.data });
    document.getElementById('log').textContent = 'messages received:\\n' + JSON.stringify(window.received, null, 2);
  });
</script>
</body></html>`;
}

/**
 * The embedding site: `GET /shop?src=<url>` is parentPage(src), on
 * http://localhost:<port>, another origin than the server's
 * http://127.0.0.1:<port>. A real server, not page.route: Chromium's local
 * network access checks take a page they did not see come from a loopback
 * address for a public one, and block its iframe of 127.0.0.1
 * (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS). Returns `{ origin, close() }`.
 */
async function serveParent() {
  const site = http.createServer((request, response) => {
    const url = new URL(request.url, 'http://localhost');
    if (url.pathname !== '/shop') {
      response.writeHead(url.pathname === '/favicon.ico' ? 204 : 404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(parentPage(url.searchParams.get('src')));
  });
  await new Promise((resolve, reject) => {
    site.once('error', reject);
    site.listen(0, '127.0.0.1', resolve);
  });
  return {
    origin: `http://localhost:${site.address().port}`,
    close: () => new Promise((resolve) => site.close(resolve)),
  };
}

/** Opens the parent's /shop with the demo framed in embed mode; returns the iframe's URL. */
async function openParent(page, { parent, baseUrl, op }) {
  const src = `${baseUrl}/demo?embed=1&op=${op}`;
  const response = await page.goto(`${parent.origin}/shop?src=${encodeURIComponent(src)}`);
  assert.equal(response?.status(), 200, `GET ${parent.origin}/shop`);
  return src;
}

/** The demo page's frame (it has `#try`), or null: none, or blocked (Chromium's error page). */
async function demoFrame(page, baseUrl) {
  for (const frame of page.frames()) {
    if (frame === page.mainFrame() || !frame.url().startsWith(baseUrl)) continue;
    const loaded = await frame.evaluate(() => Boolean(document.querySelector('#try'))).catch(() => false);
    if (loaded) return frame;
  }
  return null;
}

/** The widget's state inside `frame`, or null when it is not open. */
function frameWidgetState(frame) {
  return frame
    .evaluate(() => document.querySelector('facegate-widget')?.shadowRoot?.querySelector('[data-state]')?.getAttribute('data-state') ?? null)
    .catch(() => null);
}

describe('iframe mode: the demo framed by another origin', { concurrency: false }, () => {
  let server;
  let parent;
  let other;
  let parentOrigin;
  let enrolled;

  before(async () => {
    // localhost, not a made-up host: the framed page must be a secure
    // context for the camera, so its parent must be one too.
    parent = await serveParent();
    other = await serveParent();
    parentOrigin = parent.origin;
    server = await startServer({ logName: 'server-embed.log', env: { FACEGATE_CORS_ORIGINS: parentOrigin } });
    const preflight = await demoPreflight(server.baseUrl);
    assert.deepEqual(preflight.embed_origins, [parentOrigin], `FACEGATE_CORS_ORIGINS=${parentOrigin}: ${JSON.stringify(preflight)}`);
    const response = await fetch(`${server.baseUrl}/demo`);
    assert.equal(response.headers.get('content-security-policy'), `frame-ancestors 'self' ${parentOrigin}`);
  });

  after(async () => {
    await server?.stop();
    await parent?.close();
    await other?.close();
  });

  test('an allowed parent gets { action: close, reason: approved, confidence } from the server origin', TIMEOUT, async () => {
    // Obama enrolls on the demo page itself first, in a browser of his own:
    // a fake camera replays its video from the first frame, and the server
    // refuses a live frame it has seen in another ceremony.
    await withBrowser({ camera: 'obama' }, async (browser) => {
      await openDemo(browser.page, server.baseUrl);
      const enrollment = await runDemo(browser, { operation: 'enroll', payload: EMAIL, shots: '8-embed-enroll' });
      assert.equal(enrollment.status, 'ok', explain('enroll before the iframe test', enrollment, browser, server));
      enrolled = enrollment.body;
    });
    await withBrowser({ camera: 'obama' }, async (browser) => {
      const { page } = browser;
      const src = await openParent(page, { parent, baseUrl: server.baseUrl, op: 'authenticate' });
      const frame = await until(() => demoFrame(page, server.baseUrl), () => `the demo never loaded in the iframe (${src})\n${browser.messages.join('\n')}`);
      const states = [];
      let widgetShot = null;
      const received = await until(
        async () => {
          const state = await frameWidgetState(frame);
          if (state && states[states.length - 1] !== state) states.push(state);
          if (!widgetShot && (state === 'challenge' || state === 'processing')) {
            widgetShot = artifact('8-embed-parent-widget.png');
            await page.screenshot({ path: widgetShot });
          }
          const messages = await page.evaluate(() => window.received);
          return messages.length > 0 ? messages : null;
        },
        async () => `the parent received no message; widget states in the iframe ${JSON.stringify(states)}\n${browser.messages.join('\n')}\n${server.logTail(20)}`,
        60_000,
      );
      // Anything else the iframe would post comes at once.
      await sleep(300);
      await page.screenshot({ path: artifact('8-embed-parent-message.png') });
      const all = await page.evaluate(() => window.received);
      const why = `messages ${JSON.stringify(all)}; widget states in the iframe ${JSON.stringify(states)}\n${browser.messages.join('\n')}`;
      assert.equal(all.length, 1, `one close message expected\n${why}`);
      const [{ origin, data }] = received;
      assert.equal(origin, server.baseUrl, why);
      assert.equal(data.action, 'close', why);
      assert.equal(data.operation, 'authenticate', why);
      assert.equal(data.reason, 'approved', why);
      assert.equal(typeof data.confidence, 'number', why);
      assert.ok(data.confidence > 0 && data.confidence <= 100, why);
      assert.equal(data.facialId, enrolled.facialId, why);
      assert.deepEqual(data.payload, { email: EMAIL }, why);
      assert.equal(typeof data.verificationToken, 'string', why);
      assert.ok(widgetShot, `the widget was never caught open in the iframe (states ${JSON.stringify(states)})`);
    });
  });

  test('a parent on an origin not in the list cannot frame it (CSP frame-ancestors) and gets no message', TIMEOUT, async () => {
    const otherOrigin = other.origin;
    assert.notEqual(otherOrigin, parentOrigin);
    await withBrowser({ camera: 'obama' }, async (browser) => {
      const { page, context } = browser;
      const posts = [];
      context.on('request', (request) => {
        if (request.method() === 'POST') posts.push(request.url());
      });
      const src = await openParent(page, { parent: other, baseUrl: server.baseUrl, op: 'authenticate' });
      // Chromium reports the refusal on the console of the parent.
      const refusal = await until(
        () => browser.messages.find((line) => line.includes('frame-ancestors')),
        () => `no CSP refusal on the console for ${src} in ${otherOrigin}; console:\n${browser.messages.join('\n')}`,
      );
      // A moment for anything late (the refusal is final: the page never loads).
      await sleep(1500);
      await page.screenshot({ path: artifact('8-embed-other-origin.png') });
      const why = `console:\n${browser.messages.join('\n')}`;
      assert.ok(refusal.includes(`frame-ancestors 'self' ${parentOrigin}`), `${refusal}\n${why}`);
      assert.ok(
        browser.messages.some((line) => line.startsWith('[requestfailed]') && line.includes('ERR_BLOCKED_BY_RESPONSE')),
        why,
      );
      assert.equal(await demoFrame(page, server.baseUrl), null, `the demo page loaded in a frame of ${otherOrigin}\n${why}`);
      assert.deepEqual(await page.evaluate(() => window.received), [], why);
      // And the widget never started: no request to the demo's API.
      assert.deepEqual(posts, [], why);
    });
  });
});

// ---------------------------------------------------------------------------
// 3. The keyboard alone
// ---------------------------------------------------------------------------

/** In the page: what has the focus, looking into the widget's shadow root. */
function focusInfo() {
  const host = document.querySelector('facegate-widget');
  let element = document.activeElement;
  while (element?.shadowRoot?.activeElement) element = element.shadowRoot.activeElement;
  return {
    tag: element?.tagName.toLowerCase() ?? null,
    id: element?.id || null,
    action: element?.getAttribute?.('data-action') ?? null,
    inWidget: Boolean(host && document.activeElement === host),
    widgetOpen: Boolean(host),
    state: host?.shadowRoot?.querySelector('[data-state]')?.getAttribute('data-state') ?? null,
    resultStatus: document.querySelector('#result')?.getAttribute('data-status') ?? null,
    resultText: document.querySelector('#result')?.textContent ?? null,
  };
}

describe('the widget with the keyboard alone', { concurrency: false }, () => {
  let server;

  before(async () => {
    server = await startServer({ logName: 'server-keyboard.log' });
    await demoPreflight(server.baseUrl);
  });

  after(async () => {
    await server?.stop();
  });

  test('Tab to Enroll, Enter, Tab to I agree (focus kept in the dialog), Space, then Esc: CANCELED and the focus back on Enroll', TIMEOUT, async () => {
    await withBrowser({ camera: 'obama' }, async (browser) => {
      const { page } = browser;
      const keys = [];
      const press = async (key) => {
        keys.push(key);
        await page.keyboard.press(key);
      };
      const read = () => page.evaluate(focusInfo);
      const trail = async () => `keys ${JSON.stringify(keys)}; now ${JSON.stringify(await read())}\n${browser.messages.join('\n')}`;
      await openDemo(page, server.baseUrl);
      await until(() => page.locator('#enroll').isEnabled(), 'the Enroll button stays disabled');

      // From the top of the page to the Enroll button, with Tab only.
      const path = [];
      for (let i = 0; i < 15; i += 1) {
        await press('Tab');
        const seen = await read();
        path.push(seen.id || seen.tag);
        if (seen.id === 'enroll') break;
      }
      assert.equal(path[path.length - 1], 'enroll', `Tab never reached #enroll: ${JSON.stringify(path)}`);

      await press('Enter');
      await until(async () => (await read()).state === 'consent', async () => `Enter on #enroll: no consent screen; ${await trail()}`);
      const onConsent = await read();
      assert.ok(onConsent.inWidget, `the focus did not move into the dialog: ${await trail()}`);
      await page.screenshot({ path: artifact('9-keyboard-consent.png') });

      // Tab through the dialog to "I agree"; the focus never leaves it.
      const stops = [];
      for (let i = 0; i < 8; i += 1) {
        await press('Tab');
        const seen = await read();
        assert.ok(seen.inWidget, `Tab left the dialog (stops ${JSON.stringify(stops)}): ${await trail()}`);
        stops.push(seen.action || seen.tag);
        if (seen.action === 'accept') break;
      }
      assert.equal(stops[stops.length - 1], 'accept', `Tab never reached I agree: ${JSON.stringify(stops)}`);
      // I agree is the last control: Tab wraps to the first (×), Shift+Tab comes back.
      await press('Tab');
      assert.equal((await read()).action, 'cancel', `Tab after I agree did not wrap to ×: ${await trail()}`);
      await press('Shift+Tab');
      assert.equal((await read()).action, 'accept', `Shift+Tab from × did not go back to I agree: ${await trail()}`);
      await page.screenshot({ path: artifact('9-keyboard-accept-focused.png') });
      await press('Space');
      await until(
        async () => ['camera', 'challenge'].includes((await read()).state),
        async () => `Space on I agree: no camera; ${await trail()}`,
      );

      const escapedIn = (await read()).state;
      await press('Escape');
      const done = await until(
        async () => {
          const seen = await read();
          return seen.resultStatus ? seen : null;
        },
        async () => `Esc: no result on the page; ${await trail()}`,
      );
      await page.screenshot({ path: artifact('9-keyboard-result.png') });
      const why = await trail();
      assert.equal(done.resultStatus, 'error', why);
      assert.equal(JSON.parse(done.resultText).code, 'CANCELED', why);
      assert.equal(done.widgetOpen, false, `the widget is still in the page; ${why}`);
      // The page hands the focus back once the button is enabled again.
      const back = await until(async () => ((await read()).id === 'enroll' ? read() : null), async () => `the focus did not come back to #enroll; ${await trail()}`, 3000);
      assert.equal(back.id, 'enroll', why);
      console.log(`keyboard: Tab stops on the page ${JSON.stringify(path)}, in the dialog ${JSON.stringify(stops)}; Esc in state ${escapedIn}`);
    });
  });
});
