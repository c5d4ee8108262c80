/**
 * Bundles the CLI (and the node agent, when its entry exists) into a scratch directory once per test
 * file, with scripts/bundle.ts's own options, so the tests run the real `mplab`
 * binary as a user would: dist-like layout, agent.js beside cli.js.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { bundleAll, root } from '../../../scripts/bundle';

export { root } from '../../../scripts/bundle';
export const agentEntry = join(root, 'stack/agent/main.ts');

export interface Bundle {
  dir: string;
  cli: string;
  /** Absent when the agent's entry does not exist in this checkout. */
  agent?: string;
  remove(): void;
}

export async function bundle(): Promise<Bundle> {
  // Inside the repository so the bundle's external native modules resolve from node_modules.
  const cache = join(root, 'node_modules/.cache');
  mkdirSync(cache, { recursive: true });
  const dir = mkdtempSync(join(cache, 'mplab-cli-'));
  const built = await bundleAll({ outdir: dir, only: ['cli', 'agent', 'vmrelay'] });
  const out: Bundle = {
    dir,
    cli: built.cli,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  if (built.agent) out.agent = built.agent;
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
  await bundleAll({ outdir: join(root, 'dist'), only: ['agent'] });
  return out;
}

/**
 * A bundle for the enclosing suite, its agent as MPLAB_AGENT (what an in-process Lab deploys)
 * while the suite runs, the variable restored and the bundle removed after it. Call it before the
 * suite's own hooks: its afterAll then runs after theirs (labs are down before their agent goes).
 */
export function bundleForSuite(timeoutMs = 120_000): () => Bundle {
  let b: Bundle | undefined;
  let prev: string | undefined;
  beforeAll(async () => {
    b = await bundle();
    prev = process.env.MPLAB_AGENT;
    if (b.agent) process.env.MPLAB_AGENT = b.agent;
  }, timeoutMs);
  afterAll(() => {
    if (prev === undefined) delete process.env.MPLAB_AGENT;
    else process.env.MPLAB_AGENT = prev;
    b?.remove();
  });
  return () => {
    if (!b)
      throw new Error('bundleForSuite: the bundle is built in beforeAll; ask for it inside a test or hook');
    return b;
  };
}
