// Builds the package: dist/index.js (one ES module: the component, the hooks
// and the browser SDK they use; React stays an import) and its types.
//
//   node build.mjs            dist/
//   node build.mjs --tests    dist/, then test/*.test.jsx bundled once per
//                             React major into test-build/ (node --test runs them)
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, 'dist');
const sdk = path.join(here, '..');

rmSync(dist, { recursive: true, force: true });
await build({
  entryPoints: [path.join(here, 'src/index.js')],
  outfile: path.join(dist, 'index.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  jsx: 'automatic',
  external: ['react', 'react/jsx-runtime', 'react-dom'],
  legalComments: 'none',
  // React Server Components frameworks: hooks and the camera run in the browser.
  banner: { js: "'use client';" },
  logLevel: 'warning',
});
// Types: ours, and the SDK's declarations they refer to.
copyFileSync(path.join(here, 'src/index.d.ts'), path.join(dist, 'index.d.ts'));
copyFileSync(path.join(sdk, 'facegate.d.ts'), path.join(dist, 'facegate.d.ts'));
copyFileSync(path.join(sdk, 'facegate-widget.d.ts'), path.join(dist, 'facegate-widget.d.ts'));

if (process.argv.includes('--tests')) {
  const out = path.join(here, 'test-build');
  rmSync(out, { recursive: true, force: true });
  const tests = readdirSync(path.join(here, 'test')).filter((name) => name.endsWith('.test.jsx'));
  // The same tests against each React the package supports (aliases: react18 is npm:react@18).
  const reacts = {
    react19: {},
    react18: { react: 'react18', 'react-dom': 'react-dom18' },
  };
  for (const [name, alias] of Object.entries(reacts)) {
    mkdirSync(path.join(out, name), { recursive: true });
    await build({
      entryPoints: tests.map((test) => path.join(here, 'test', test)),
      outdir: path.join(out, name),
      outExtension: { '.js': '.mjs' },
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      jsx: 'automatic',
      alias,
      // jsdom stays a node import; React (the aliased one) is bundled in.
      external: ['jsdom'],
      // package.json's "sideEffects": false is for apps; test/dom.js is all side effect.
      ignoreAnnotations: true,
      define: { 'process.env.NODE_ENV': '"development"', REACT_UNDER_TEST: JSON.stringify(name) },
      banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
      logLevel: 'warning',
    });
  }
}
