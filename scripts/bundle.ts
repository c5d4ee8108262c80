/**
 * Bundles the CLI, the library, the node agent and the link emulator with esbuild:
 * `node --import tsx scripts/bundle.ts [--outdir DIR]` (npm run build / prepare). Tests call
 * `bundleAll` to build into a scratch directory with exactly the same options.
 * dist/agent.js must run with `node` alone (no node_modules beside it), so it inlines everything.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

export const root = fileURLToPath(new URL('..', import.meta.url));

export type Entry = 'cli' | 'agent' | 'lib' | 'emulator' | 'host' | 'vmrelay';

const ENTRIES: Record<Entry, string> = {
  cli: 'cli/bin.ts',
  agent: 'stack/agent/main.ts',
  lib: 'lab/index.ts',
  emulator: 'lab/emulator/main.ts',
  // deployed to remote hosts beside agent.js and emulator.js: runs with `node` alone too
  host: 'lab/remote/host-main.ts',
  vmrelay: 'lab/vm/relay-main.ts',
};

// Native addons (and dockerode, which loads ssh2's optional native parts) resolve from
// node_modules at run time; the agent has none of them.
const NATIVE = ['koffi', '@resvg/resvg-js', 'cpu-features', 'ssh2', 'dockerode'];

// ink imports react-devtools-core only when DEV=true; left external it would become a static
// import of a package that is not installed, so it resolves to an empty module instead.
const noDevtools: Plugin = {
  name: 'no-react-devtools',
  setup(b) {
    b.onResolve({ filter: /^react-devtools-core$/ }, () => ({
      path: 'react-devtools-core',
      namespace: 'empty',
    }));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export default {};', loader: 'js' }));
  },
};

export async function bundleAll(options: { outdir: string; only?: Entry[] }): Promise<Record<Entry, string>> {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const common: BuildOptions = {
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    define: { __MPLAB_VERSION__: JSON.stringify(pkg.version) },
    // CommonJS dependencies bundled into ESM still call require() for node builtins, and some read
    // __dirname / __filename (ssh2, inlined into dist/host.js, which runs on hosts without
    // node_modules): the module scope of ESM has neither, so the banner gives all three.
    banner: {
      js: [
        "import { createRequire as __mplabCreateRequire } from 'node:module';",
        "import { fileURLToPath as __mplabFileURLToPath } from 'node:url';",
        "import { dirname as __mplabDirname } from 'node:path';",
        'const require = __mplabCreateRequire(import.meta.url);',
        'const __filename = __mplabFileURLToPath(import.meta.url);',
        'const __dirname = __mplabDirname(__filename);',
      ].join(' '),
    },
    logLevel: 'warning',
    legalComments: 'none',
    absWorkingDir: root,
    jsx: 'automatic',
    plugins: [noDevtools],
  };
  const external: Record<Entry, string[]> = {
    cli: NATIVE,
    lib: NATIVE,
    agent: [],
    emulator: ['koffi'],
    host: ['koffi', '@resvg/resvg-js', 'cpu-features', '*.node'],
    vmrelay: NATIVE,
  };
  const outdir = resolve(root, options.outdir);
  const wanted = options.only ?? (Object.keys(ENTRIES) as Entry[]);
  const out = {} as Record<Entry, string>;
  await Promise.all(
    wanted
      .filter((e) => existsSync(join(root, ENTRIES[e])))
      .map(async (e) => {
        await build({ ...common, entryPoints: { [e]: ENTRIES[e] }, outdir, external: external[e] });
        out[e] = join(outdir, `${e}.js`);
      }),
  );
  return out;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--outdir');
  await bundleAll({ outdir: i > 0 ? (process.argv[i + 1] ?? 'dist') : 'dist' });
}
