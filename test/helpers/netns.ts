/**
 * Uniquely named network namespaces for tests, always removed: call `using()` inside a test file;
 * `cleanup()` runs in afterEach/afterAll (registered by `netnsScope`) and on process exit, so a
 * failing assertion never leaves a namespace or veth behind.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll } from 'vitest';

const created = new Set<string>();

function run(args: string[], input?: string): string {
  return execFileSync('ip', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** A short random tag so parallel tests and leftover runs never collide (names stay ≤ 15 chars). */
export function tag(): string {
  return randomBytes(3).toString('hex');
}

/** Creates a namespace named `mplab-t<tag>-<suffix>` with loopback up; returns its name. */
export function createNetns(suffix: string, t = tag()): string {
  const name = `mplab-t${t}-${suffix}`;
  run(['netns', 'add', name]);
  created.add(name);
  run(['-n', name, 'link', 'set', 'lo', 'up']);
  return name;
}

/** Runs `ip -n ns -batch -` with the given lines (one ip command each, without the leading `ip`). */
export function ipBatch(ns: string | null, lines: string[]): void {
  const args = ns ? ['-n', ns, '-batch', '-'] : ['-batch', '-'];
  run(args, `${lines.join('\n')}\n`);
}

/** Runs a command inside a namespace and returns stdout. */
export function nsExec(ns: string, cmd: string, args: string[], timeoutMs = 60_000): string {
  return execFileSync('ip', ['netns', 'exec', ns, cmd, ...args], { encoding: 'utf8', timeout: timeoutMs });
}

/** Deletes one namespace (its veth ends go with it). */
export function deleteNetns(name: string): void {
  try {
    run(['netns', 'del', name]);
  } catch {
    // already gone
  }
  created.delete(name);
}

export function cleanupNetns(): void {
  for (const name of [...created]) deleteNetns(name);
}

/** Registers cleanup for this test file; call once at the top of a file that creates namespaces. */
export function netnsScope(): void {
  afterAll(cleanupNetns);
}

process.on('exit', cleanupNetns);
