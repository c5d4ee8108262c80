// Bundles the CLI, the library, the node agent and the link emulator with esbuild.
// dist/agent.js must run with `node` alone (no node_modules beside it), so it bundles everything.
import { existsSync, readFileSync } from 'node:fs';
import { build } from 'esbuild';

// `--outdir DIR` lets tests bundle into a scratch directory.
const outIdx = process.argv.indexOf('--outdir');
const outdir = outIdx > 0 ? process.argv[outIdx + 1] : 'dist';
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const define = { __MPLAB_VERSION__: JSON.stringify(pkg.version) };
// CommonJS dependencies bundled into ESM still call require() for node builtins.
const banner = {
  js: "import { createRequire as __mplabCreateRequire } from 'node:module'; const require = __mplabCreateRequire(import.meta.url);",
};
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  define,
  banner,
  logLevel: 'warning',
  legalComments: 'none',
};
// Native addons and optional native helpers cannot be inlined; they resolve from node_modules.
const nativeExternals = [
  'koffi',
  '@resvg/resvg-js',
  'cpu-features',
  'ssh2',
  'dockerode',
  'react-devtools-core',
];

const jobs = [
  build({
    ...common,
    entryPoints: { cli: 'cli/bin.ts' },
    outdir,
    external: nativeExternals,
    banner,
    jsx: 'automatic',
  }),
  build({ ...common, entryPoints: { agent: 'stack/agent/main.ts' }, outdir }),
];
if (existsSync('lab/index.ts')) {
  jobs.push(build({ ...common, entryPoints: { lib: 'lab/index.ts' }, outdir, external: nativeExternals }));
}
if (existsSync('lab/emulator/main.ts')) {
  jobs.push(
    build({
      ...common,
      entryPoints: { emulator: 'lab/emulator/main.ts' },
      outdir,
      external: ['koffi'],
    }),
  );
}
await Promise.all(jobs);
