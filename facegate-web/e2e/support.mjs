// Helpers for the browser tests: the example server, Debian's Chromium with a
// fake camera (through playwright-core), and the demo page's widget.
//
// Set up by scripts/fetch-browser-deps; the variables it prints are read here,
// each with the same default:
//   FACEGATE_CHROMIUM     the browser (/usr/bin/chromium)
//   FACEGATE_NPM_DIR      where playwright-core is installed (~/.cache/facegate/npm)
//   FACEGATE_CAMERA_DIR   the fake cameras, <person>.y4m (~/.cache/facegate/camera)
// and also:
//   FACEGATE_AXUM_APP     the server binary ($CARGO_TARGET_DIR or target/, debug/axum-app)
//   FACEGATE_E2E_DIR      screenshots and logs (/tmp/facegate-e2e)

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const cacheDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'facegate');
const setting = (name, fallback) => process.env[name] || fallback;

export const config = Object.freeze({
  chromium: setting('FACEGATE_CHROMIUM', '/usr/bin/chromium'),
  npmDir: setting('FACEGATE_NPM_DIR', path.join(cacheDir, 'npm')),
  cameraDir: setting('FACEGATE_CAMERA_DIR', path.join(cacheDir, 'camera')),
  serverBinary: setting(
    'FACEGATE_AXUM_APP',
    path.join(path.resolve(repoRoot, process.env.CARGO_TARGET_DIR || 'target'), 'debug', 'axum-app'),
  ),
  artifactsDir: setting('FACEGATE_E2E_DIR', path.join(os.tmpdir(), 'facegate-e2e')),
});

mkdirSync(config.artifactsDir, { recursive: true });

/** Where a screenshot or log named `name` goes. */
export function artifact(name) {
  return path.join(config.artifactsDir, name);
}

const HINT = 'run scripts/fetch-browser-deps (or scripts/browser-tests, which runs everything)';

/** playwright-core from FACEGATE_NPM_DIR (no browser of its own: Debian's chromium is used). */
export function loadPlaywright() {
  const require = createRequire(path.join(config.npmDir, 'package.json'));
  try {
    return require('playwright-core');
  } catch (error) {
    throw new Error(`playwright-core not found under ${config.npmDir}: ${HINT}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// The example server
// ---------------------------------------------------------------------------

/** A port nothing listens on right now. */
export async function freePort() {
  const server = net.createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Starts the axum example on a free port with a fresh SQLite database and the
 * demo tenant in passive liveness (a photo cannot turn its head), and waits
 * until /v1/health answers. Its log goes to `<artifacts>/<logName>`.
 * Returns `{ baseUrl, databaseUrl, logPath, logTail(lines), output(), stop() }`
 * (`output` is what it printed so far, without colours).
 */
export async function startServer({ logName = 'server.log', env = {}, readyTimeoutMs = 120_000 } = {}) {
  if (!existsSync(config.serverBinary)) {
    throw new Error(`${config.serverBinary} not found: cargo build -p facegate-examples --bin axum-app`);
  }
  const port = await freePort();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'facegate-e2e-db-'));
  const baseUrl = `http://127.0.0.1:${port}`;
  const databaseUrl = `sqlite://${dataDir}/e2e.db?mode=rwc`;
  const logPath = artifact(logName);
  const log = createWriteStream(logPath);
  const child = spawn(config.serverBinary, [], {
    cwd: repoRoot,
    env: {
      ...process.env,
      FACEGATE_DATABASE_URL: databaseUrl,
      FACEGATE_ADDR: `127.0.0.1:${port}`,
      FACEGATE_DEMO_LIVENESS: 'passive',
      RUST_LOG: process.env.RUST_LOG || 'info,sqlx=warn',
      NO_COLOR: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.pipe(log, { end: false });
    stream.on('data', (chunk) => {
      // eslint-disable-next-line no-control-regex
      output = (output + chunk.toString('utf8').replace(/\x1b\[[0-9;]*m/g, '')).slice(-200_000);
    });
  }
  let exited = null;
  const exit = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      resolve(exited);
    });
  });
  // Never leave a server behind, whatever happens to the test process (the
  // test runner stops a file that overruns its timeout with SIGTERM).
  const killOnExit = () => child.kill('SIGKILL');
  const killOnSignal = (signal) => {
    child.kill('SIGKILL');
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.once('exit', killOnExit);
  process.once('SIGINT', killOnSignal);
  process.once('SIGTERM', killOnSignal);

  const logTail = (lines = 40) => output.split('\n').slice(-lines).join('\n');
  const stop = async () => {
    process.removeListener('exit', killOnExit);
    process.removeListener('SIGINT', killOnSignal);
    process.removeListener('SIGTERM', killOnSignal);
    if (!exited) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(timer);
    }
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`the server exited (${JSON.stringify(exited)}) before it was ready; ${logPath}:\n${logTail()}`);
    }
    try {
      const response = await fetch(`${baseUrl}/v1/health`, { signal: AbortSignal.timeout(2000) });
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the server did not answer /v1/health within ${readyTimeoutMs} ms; ${logPath}:\n${logTail()}`);
    }
    await sleep(200);
  }
  return { baseUrl, databaseUrl, logPath, logTail, output: () => output, stop };
}

/**
 * startServer with a bootstrap API key (`apiKey`, a server key of a tenant
 * of its own) whose tenant is switched to passive liveness with
 * facegate-admin (a fake camera cannot turn its head). Returns the server
 * and `tenant`, the tenant's id.
 */
export async function startApiServer({ logName, apiKey, env = {} }) {
  const server = await startServer({ logName, env: { ...env, FACEGATE_BOOTSTRAP_API_KEY: apiKey } });
  const tenant = server.output().match(/bootstrap API key is ready.*?tenant=(ten_[0-9a-f]+)/)?.[1];
  if (!tenant) {
    await server.stop();
    throw new Error(`no tenant id in ${server.logPath}`);
  }
  const admin = path.join(path.dirname(config.serverBinary), 'facegate-admin');
  if (!existsSync(admin)) {
    await server.stop();
    throw new Error(`${admin} not found: cargo build -p facegate-examples --bin facegate-admin`);
  }
  execFileSync(admin, ['tenant', 'settings', tenant, '--liveness', 'passive'], {
    env: { ...process.env, FACEGATE_DATABASE_URL: server.databaseUrl },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return { server, tenant };
}

/** A browser (client) key of `tenant` for pages of `origin`, minted with facegate-admin. */
export function mintClientKey(server, tenant, origin) {
  const admin = path.join(path.dirname(config.serverBinary), 'facegate-admin');
  const output = execFileSync(admin, ['key', 'mint', tenant, '--client', '--origin', origin], {
    env: { ...process.env, FACEGATE_DATABASE_URL: server.databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  }).toString();
  const key = output.match(/fg_test_pub_\S+/)?.[0];
  if (!key) throw new Error(`no client key in: ${output}`);
  return key;
}

// ---------------------------------------------------------------------------
// Chromium
// ---------------------------------------------------------------------------

/** The fake camera of `person` (a y4m made by scripts/fetch-browser-deps). */
export function cameraFile(person) {
  const file = path.join(config.cameraDir, `${person}.y4m`);
  if (!existsSync(file)) throw new Error(`${file} not found: ${HINT}`);
  return file;
}

/**
 * A copy of `person`'s camera that no other launch shares: every frame gets
 * a random 32-bit mark, a row of 32 black or white 8×8 blocks along its top
 * edge. Chromium plays a fake camera from its first frame, so two browsers
 * on one file would send the same pixels, and the server remembers a live
 * session's frame and refuses it in another session (a replay). Real
 * cameras never repeat a frame. (A single random grey patch was not enough:
 * the browser's JPEG quantises neighbouring greys to the same block, so two
 * launches could collide, and a CI run failed on one.)
 */
function uniqueCameraFile(person, dir) {
  const video = readFileSync(cameraFile(person));
  const header = video.subarray(0, video.indexOf(0x0a)).toString('latin1');
  const width = Number(/ W(\d+)/.exec(header)[1]);
  const height = Number(/ H(\d+)/.exec(header)[1]);
  const BLOCK = 8;
  const BITS = 32;
  // Each frame: a `FRAME` line, then the Y plane and the 4:2:0 chroma planes.
  for (let at = header.length + 1; at < video.length; ) {
    const plane = video.indexOf(0x0a, at) + 1;
    const mark = randomBytes(BITS / 8);
    for (let bit = 0; bit < BITS; bit++) {
      const luma = (mark[bit >> 3] >> (bit & 7)) & 1 ? 235 : 16;
      for (let row = 0; row < BLOCK; row++) {
        const start = plane + row * width + bit * BLOCK;
        video.fill(luma, start, start + BLOCK);
      }
    }
    at = plane + (width * height * 3) / 2;
  }
  const file = path.join(dir, `${person}.y4m`);
  writeFileSync(file, video);
  return file;
}

/**
 * A fresh Chromium (new empty profile) whose camera plays `camera`'s video.
 * `cameraPermission: 'granted'` (default) lets pages use it without a prompt;
 * `'denied'` is a user who refused the camera for `origin`.
 * Returns `{ context, page, messages, close() }`; `messages` collects the
 * page's console output and errors.
 */
export async function launchBrowser({ camera, cameraPermission = 'granted', origin, locale = 'en-US', phone = false }) {
  const { chromium } = loadPlaywright();
  if (!existsSync(config.chromium)) throw new Error(`${config.chromium} not found: ${HINT}`);
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'facegate-e2e-chromium-'));
  // `camera: null`: a computer without one (getUserMedia finds no device).
  const cameraArgs = camera === null
    ? []
    : ['--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${uniqueCameraFile(camera, userDataDir)}`];
  const args = [
    '--no-sandbox',
    ...cameraArgs,
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
    '--disable-gpu',
    `--lang=${locale}`,
  ];
  // The fake UI accepts every camera prompt, whatever the permission says:
  // a user who said no must not have it.
  if (cameraPermission === 'granted' && camera !== null) args.push('--use-fake-ui-for-media-stream');
  // `phone: true`: a phone's screen, touch and user agent.
  const device = phone
    ? {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36',
    }
    : { viewport: { width: 1280, height: 800 } };
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: config.chromium,
    headless: true, // playwright adds --headless
    args,
    locale,
    ...device,
  });
  const page = context.pages()[0] ?? (await context.newPage());
  if (cameraPermission !== 'granted') {
    if (!origin) throw new Error('launchBrowser: a denied camera needs the origin');
    // Without the fake UI, headless Chromium dismisses the prompt anyway
    // ("Permission dismissed"); this makes it a real refusal ("Permission denied").
    const cdp = await context.newCDPSession(page);
    await cdp.send('Browser.setPermission', {
      permission: { name: 'camera' },
      setting: cameraPermission,
      origin,
    });
    await cdp.detach();
  }
  const messages = [];
  page.on('console', (message) => messages.push(`[console.${message.type()}] ${message.text()}`));
  page.on('pageerror', (error) => messages.push(`[pageerror] ${error.stack || error}`));
  page.on('requestfailed', (request) =>
    messages.push(`[requestfailed] ${request.method()} ${request.url()} ${request.failure()?.errorText}`),
  );
  page.on('response', (response) => {
    if (response.status() >= 400) messages.push(`[http ${response.status()}] ${response.request().method()} ${response.url()}`);
  });
  const close = async () => {
    await context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, page, messages, close };
}

/** Runs `fn(browser)` with a fresh browser, closed afterwards. */
export async function withBrowser(options, fn) {
  const browser = await launchBrowser(options);
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}

// ---------------------------------------------------------------------------
// The demo page and its widget
// ---------------------------------------------------------------------------

/** GET /demo/preflight, checked: the demo is on, ready and in passive liveness. */
export async function demoPreflight(baseUrl) {
  const response = await fetch(`${baseUrl}/demo/preflight`);
  const text = await response.text();
  if (response.status === 404) {
    throw new Error(`GET /demo/preflight: 404: this server has no demo routes (${text.slice(0, 200)})`);
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`GET /demo/preflight: ${response.status}, not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok || body.ready !== true) {
    throw new Error(`GET /demo/preflight: ${response.status} ${text.slice(0, 300)}`);
  }
  if (body.liveness?.mode !== 'passive') {
    throw new Error(
      `the demo tenant is in ${body.liveness?.mode} liveness although FACEGATE_DEMO_LIVENESS=passive ` +
        `(a photo cannot turn its head): ${text.slice(0, 300)}`,
    );
  }
  return body;
}

/** Opens /demo and waits for its buttons. */
export async function openDemo(page, baseUrl) {
  const response = await page.goto(`${baseUrl}/demo`);
  if (!response || response.status() !== 200) {
    throw new Error(`GET /demo: ${response?.status()} ${(await response?.text())?.slice(0, 200)}`);
  }
  await page.locator('#enroll').waitFor({ state: 'visible', timeout: 15_000 });
  await page.locator('#authenticate').waitFor({ state: 'visible', timeout: 15_000 });
}

/**
 * What the page shows, read in one go: the widget's state (`[data-state]`,
 * inside its open shadow root), whether the consent button is shown, whether
 * its camera preview plays, a PIN form not answered yet (`pinPrompt`: its
 * title, hint and error line), and `#result`.
 */
function readPage() {
  const all = (selector) => {
    const found = [];
    const visit = (root) => {
      found.push(...root.querySelectorAll(selector));
      for (const element of root.querySelectorAll('*')) if (element.shadowRoot) visit(element.shadowRoot);
    };
    visit(document);
    return found;
  };
  const visible = (element) =>
    element.checkVisibility ? element.checkVisibility({ visibilityProperty: true, opacityProperty: true }) : element.offsetParent !== null;
  const result = document.querySelector('#result');
  const dialog = all('[data-state]').find(visible) ?? all('[data-state]')[0];
  // Each PIN form is a new <input>: the ones already answered are remembered here.
  const answered = (window.__facegateE2E ??= { answeredPins: new WeakSet() }).answeredPins;
  const pinInput = all('input[name="pin"]').find((input) => visible(input) && !answered.has(input));
  const pinForm = pinInput?.closest('form');
  return {
    state: dialog?.getAttribute('data-state') ?? null,
    dialogVisible: Boolean(dialog && visible(dialog)),
    acceptVisible: all('[data-action="accept"]').some(visible),
    closeVisible: all('[data-action="close"]').some(visible),
    videoPlaying: all('video').some((video) => video.readyState >= 2 && video.videoWidth > 0 && visible(video)),
    resultStatus: result?.getAttribute('data-status') ?? null,
    resultText: result?.textContent ?? null,
    pinPrompt: pinForm
      ? {
          title: pinForm.querySelector('h3')?.textContent ?? null,
          hint: pinForm.querySelector('#fg-pin-hint')?.textContent ?? null,
          error: pinForm.querySelector('#fg-pin-error')?.textContent ?? null,
        }
      : null,
  };
}

/** In the page: marks the PIN form being answered, so readPage no longer reports it. */
function markPinAnswered() {
  const answered = (window.__facegateE2E ??= { answeredPins: new WeakSet() }).answeredPins;
  const visit = (root) => {
    for (const input of root.querySelectorAll('input[name="pin"]')) answered.add(input);
    for (const element of root.querySelectorAll('*')) if (element.shadowRoot) visit(element.shadowRoot);
  };
  visit(document);
}

/**
 * Clicks `#enroll` (after typing `payload` into `#payload`) or
 * `#authenticate`, accepts the consent screen if it is shown, answers each
 * PIN form with the next of `pins` (a PIN form with no PIN left fails at
 * once), closes the widget's outcome screen, and waits for `#result` to say
 * ok or error.
 * Screenshots go to the artifacts directory: `<shots>-consent.png`,
 * `<shots>-widget.png` (the camera preview playing, during the challenge if
 * it is caught), `<shots>-pin-<n>.png` (the n-th PIN form, before typing),
 * `<shots>-outcome.png` (the widget's success or error screen) and
 * `<shots>-result.png` (the page with `#result`).
 * Returns `{ status, body, states, screenshots, pinPrompts, server }`: `body`
 * is `#result`'s JSON, `pinPrompts` the PIN forms' `{ title, hint, error }`,
 * `server` the liveness and verify/enroll answers' numbers.
 */
export async function runDemo(browser, { operation, payload, pins = [], shots, timeoutMs = 90_000 }) {
  const { page } = browser;
  // What the server said to the liveness upload and to verify/enroll, for the record.
  const server = [];
  const onResponse = (response) => {
    const { pathname } = new URL(response.url());
    if (response.request().method() !== 'POST' || !/\/(frames|verify|enroll)$/.test(pathname)) return;
    server.push(
      response.json().then(
        (body) => ({ path: pathname.replace(/\/liveness-session\/[^/]+\//, '/liveness-session/…/'), status: response.status(), ...pick(body) }),
        () => ({ path: pathname, status: response.status() }),
      ),
    );
  };
  page.on('response', onResponse);
  try {
    const outcome = await driveDemo(browser, { operation, payload, pins, shots, timeoutMs });
    return { ...outcome, server: await Promise.all(server) };
  } finally {
    page.off('response', onResponse);
  }
}

/** The numbers worth keeping from a server answer. */
function pick(body) {
  const keep = ['is_live', 'confidence', 'matched', 'code', 'attempts_remaining', 'user_id'];
  return Object.fromEntries(keep.filter((key) => body?.[key] !== undefined).map((key) => [key, body[key]]));
}

async function driveDemo(browser, { operation, payload, pins, shots, timeoutMs }) {
  const { page } = browser;
  if (payload !== undefined) await page.locator('#payload').fill(payload);
  await page.locator(operation === 'enroll' ? '#enroll' : '#authenticate').click();

  const states = [];
  const screenshots = {};
  const shoot = async (label) => {
    const file = artifact(`${shots}-${label}.png`);
    await page.screenshot({ path: file });
    screenshots[label] = file;
  };
  const deadline = Date.now() + timeoutMs;
  let accepted = false;
  let challengeShot = false;
  let closed = false;
  const pinPrompts = [];
  for (;;) {
    const seen = await page.evaluate(readPage);
    if (seen.state && states[states.length - 1] !== seen.state) states.push(seen.state);
    if (seen.resultStatus === 'ok' || seen.resultStatus === 'error') {
      await shoot('result');
      let body;
      try {
        body = JSON.parse(seen.resultText);
      } catch {
        body = { unparsed: seen.resultText };
      }
      return { status: seen.resultStatus, body, states, screenshots, pinPrompts };
    }
    if (seen.acceptVisible && !accepted) {
      await shoot('consent');
      await page.locator('[data-action="accept"]').first().click({ timeout: 10_000 });
      accepted = true;
      continue;
    }
    if (seen.pinPrompt) {
      pinPrompts.push(seen.pinPrompt);
      const n = pinPrompts.length;
      await shoot(`pin-${n}`);
      if (n > pins.length) {
        throw new Error(
          `${operation}: the widget asks for a PIN (${JSON.stringify(seen.pinPrompt)}) and the test has no PIN left ` +
            `(pins: ${JSON.stringify(pins)}); widget states ${JSON.stringify(states)}\n${browser.messages.join('\n')}`,
        );
      }
      await page.evaluate(markPinAnswered);
      await page.locator('input[name="pin"]').fill(pins[n - 1], { timeout: 10_000 });
      await page.locator('[data-action="submit-pin"]').click({ timeout: 10_000 });
      continue;
    }
    if (seen.videoPlaying && (!screenshots.widget || (seen.state === 'challenge' && !challengeShot))) {
      await shoot('widget');
      challengeShot = seen.state === 'challenge';
    }
    if ((seen.state === 'success' || seen.state === 'error') && seen.closeVisible && !closed) {
      await shoot('outcome');
      // The screen closes itself after a moment: it may be gone already.
      await page.locator('[data-action="close"]').first().click({ timeout: 2000 }).catch(() => {});
      closed = true;
      continue;
    }
    if (Date.now() > deadline) {
      await shoot('timeout');
      throw new Error(
        `${operation}: no result in #result within ${timeoutMs} ms; widget states ${JSON.stringify(states)}; ` +
          `last read ${JSON.stringify(seen)}\n${browser.messages.join('\n')}`,
      );
    }
    await sleep(100);
  }
}

/** A failure message with what the page and the server said. */
export function explain(what, outcome, browser, server) {
  return [
    `${what}: #result ${outcome.status} ${JSON.stringify(outcome.body)}`,
    `server answers: ${JSON.stringify(outcome.server)}`,
    `widget states: ${JSON.stringify(outcome.states)}; screenshots: ${Object.values(outcome.screenshots).join(', ')}`,
    ...(outcome.pinPrompts?.length ? [`PIN forms: ${JSON.stringify(outcome.pinPrompts)}`] : []),
    'page:',
    ...browser.messages,
    `server log (${server.logPath}), last lines:`,
    server.logTail(25),
  ].join('\n');
}
