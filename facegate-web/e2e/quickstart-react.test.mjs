// docs/quickstart-react.md, run as written: every `sh` block with bash (a
// block tagged `server` or `dev` left running, as in its own terminal), every
// file block written, in the page's order, in a fresh folder holding
// `facegate/` (a link to this repository) and `my-app/`. Then a fake camera
// enrolls and signs in through the page Vite serves, and the guarded route
// answers. Needs the network to the npm registry (create-vite, Vite, React).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { artifact, repoRoot, withBrowser } from './support.mjs';

const DOC = path.join(repoRoot, 'docs/quickstart-react.md');
const SERVER = 'http://127.0.0.1:8080';
const APP = 'http://localhost:5173';

/** The page's fenced blocks in order: `{ lang, tag, body }` (` ```sh server` → lang sh, tag server). */
function blocksOf(markdown) {
  const blocks = [];
  for (const match of markdown.matchAll(/^```(\w+)(?: +(\S+))?\n([\s\S]*?)^```$/gm)) {
    blocks.push({ lang: match[1], tag: match[2] ?? null, body: match[3] });
  }
  return blocks;
}

const workspace = mkdtempSync(path.join(os.tmpdir(), 'facegate-quickstart-'));
const running = [];
const log = (name) => artifact(`quickstart-${name}.log`);
// The quickstart's database sits in the repository (gitignored): start afresh.
const removeDatabase = () => {
  for (const suffix of ['', '-shm', '-wal']) rmSync(path.join(repoRoot, `quickstart.db${suffix}`), { force: true });
};

after(async () => {
  for (const child of running) {
    try {
      process.kill(-child.pid, 'SIGTERM'); // the block's whole process group (cargo, vite…)
    } catch {
      // already gone
    }
  }
  await sleep(500);
  for (const child of running) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  removeDatabase();
  rmSync(path.join(repoRoot, 'facegate-web/react/facegate-react-0.1.0.tgz'), { force: true });
  rmSync(workspace, { recursive: true, force: true });
});

async function waitFor(url, child, name, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the ${name} block exited (${child.exitCode}); ${log(name)}:\n${readFileSync(log(name), 'utf8').slice(-3000)}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (response.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms; ${log(name)}`);
    await sleep(300);
  }
}

/** Fails early, and clearly, when a port the page names is taken. */
async function assertFree(url) {
  const taken = await fetch(url, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
  assert.equal(taken, false, `${url} already answers: the quickstart needs its port`);
}

test('docs/quickstart-react.md runs as written, and its page signs a face in', { timeout: 900_000 }, async () => {
  const blocks = blocksOf(readFileSync(DOC, 'utf8'));
  assert.ok(blocks.some((b) => b.tag === 'server') && blocks.some((b) => b.tag === 'dev'), 'the page has its server and dev blocks');
  await assertFree(`${SERVER}/v1/health`);
  await assertFree(APP);
  removeDatabase();
  symlinkSync(repoRoot, path.join(workspace, 'facegate'));
  const env = { ...process.env, NO_COLOR: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

  let step = 0;
  for (const block of blocks) {
    step++;
    if (block.lang === 'sh' && (block.tag === 'server' || block.tag === 'dev')) {
      const child = spawn('bash', ['-euo', 'pipefail', '-c', block.body], { cwd: workspace, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      running.push(child);
      const out = createWriteStream(log(block.tag));
      child.stdout.pipe(out);
      child.stderr.pipe(out);
      await waitFor(block.tag === 'server' ? `${SERVER}/v1/health` : APP, child, block.tag, 600_000);
    } else if (block.lang === 'sh') {
      const result = spawnSync('bash', ['-euo', 'pipefail', '-c', block.body], { cwd: workspace, env, encoding: 'utf8', timeout: 600_000 });
      writeFileSync(log(`step-${step}`), `${block.body}\n--- stdout\n${result.stdout}\n--- stderr\n${result.stderr}`);
      assert.equal(result.status, 0, `block ${step} failed:\n${block.body}\n${result.stderr.slice(-3000)}`);
    } else if (block.tag) {
      const file = path.join(workspace, block.tag);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, block.body);
    }
  }

  // What the page promises: enroll on the left, then (later, in another
  // browser: a fake camera loops its video, and the server refuses a frame
  // it has seen) sign in on the right, and the profile.
  const why = (messages) => `${messages.join('\n')}\n${readFileSync(log('server'), 'utf8').slice(-2000)}`;
  await withBrowser({ camera: 'obama' }, async ({ page, messages }) => {
    await page.goto(APP);
    await page.locator('.facegate[data-mode="enroll"]').getByRole('button', { name: 'I agree' }).click();
    await page.waitForSelector('.facegate[data-mode="enroll"][data-status="done"]', { timeout: 90_000 }).catch((error) => {
      throw new Error(`enroll did not finish: ${error.message}\n${why(messages)}`);
    });
  });
  await withBrowser({ camera: 'obama' }, async ({ page, messages }) => {
    await page.goto(APP);
    await page.locator('.facegate[data-mode="authenticate"]').getByRole('button', { name: 'Log in with my face' }).click();
    const profile = await page.waitForSelector('#profile', { timeout: 90_000 }).catch((error) => {
      throw new Error(`no profile: ${error.message}\n${why(messages)}`);
    });
    assert.match(await profile.textContent(), /^Signed in as Quickstart user \(user_[0-9a-f]+\)$/);
    assert.match(await (await page.waitForSelector('#supabase')).textContent(), /Supabase access token for user_/);
    await page.screenshot({ path: artifact('quickstart-react.png') });
  });
});
