/**
 * Bundles the CLI (and the node agent, when its entry exists) into a scratch directory once per test
 * file, with the same esbuild options as scripts/bundle.mjs, so the tests run the real `mplab`
 * binary as a user would: dist-like layout, agent.js beside cli.js.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';

export const root = fileURLToPath(new URL('../../../', import.meta.url));
export const agentEntry = join(root, 'stack/agent/main.ts');

export interface Bundle {
  dir: string;
  cli: string;
  /** Absent when the agent's entry does not exist in this checkout. */
  agent?: string;
  remove(): void;
}

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

export async function bundle(): Promise<Bundle> {
  // Inside the repository so the bundle's external native modules resolve from node_modules.
  const cache = join(root, 'node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'mplab-cli-'));
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const common = {
    bundle: true,
    platform: 'node' as const,
    target: 'node20',
    format: 'esm' as const,
    define: { __MPLAB_VERSION__: JSON.stringify(pkg.version) },
    banner: {
      js: "import { createRequire as __mplabCreateRequire } from 'node:module'; const require = __mplabCreateRequire(import.meta.url);",
    },
    logLevel: 'error' as const,
    absWorkingDir: root,
    nodePaths: [join(root, 'node_modules')],
  };
  const jobs: Promise<unknown>[] = [
    build({
      ...common,
      entryPoints: { cli: join(root, 'cli/bin.ts') },
      outdir: dir,
      jsx: 'automatic',
      external: ['koffi', '@resvg/resvg-js', 'cpu-features', 'ssh2', 'dockerode'],
      // ink imports react-devtools-core only when DEV=true, but as an external it would become a
      // static import of a package that is not installed: stand in an empty module.
      plugins: [noDevtools],
    }),
  ];
  const hasAgent = existsSync(agentEntry);
  if (hasAgent) jobs.push(build({ ...common, entryPoints: { agent: agentEntry }, outdir: dir }));
  await Promise.all(jobs);
  const out: Bundle = {
    dir,
    cli: join(dir, 'cli.js'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (hasAgent) out.agent = join(dir, 'agent.js');
  return out;
}

/** The repository's dist/agent.js, rebuilt when missing or older than the stack's sources. */
export async function ensureDistAgent(): Promise<string | undefined> {
  if (!existsSync(agentEntry)) return undefined;
  const out = join(root, 'dist/agent.js');
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  if (existsSync(out) && statSync(out).mtimeMs >= newest(join(root, 'stack'))) return out;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  await build({
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    define: { __MPLAB_VERSION__: JSON.stringify(pkg.version) },
    banner: {
      js: "import { createRequire as __mplabCreateRequire } from 'node:module'; const require = __mplabCreateRequire(import.meta.url);",
    },
    logLevel: 'error',
    absWorkingDir: root,
    entryPoints: { agent: agentEntry },
    outdir: join(root, 'dist'),
    sourcemap: 'linked',
  });
  return out;
}
