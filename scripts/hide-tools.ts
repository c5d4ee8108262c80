/**
 * A PATH without some tools, for CI's fresh-machine pass: `node --import tsx scripts/hide-tools.ts
 * iperf3,tshark,…` prints a directory holding a link to every other executable found on PATH
 * (and in /usr/sbin, /sbin), so a test run with PATH set to it sees a machine where those tools
 * were never installed — without uninstalling anything.
 */
import { accessSync, chmodSync, constants, mkdtempSync, readdirSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function pathWithout(hidden: Set<string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'mplab-path-'));
  // tests run some commands as another user (nobody): the PATH must be theirs to search too
  chmodSync(dir, 0o755);
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin'].filter(Boolean);
  const seen = new Set<string>();
  for (const d of dirs) {
    let entries: string[];
    try {
      entries = readdirSync(d);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (seen.has(e) || hidden.has(e)) continue;
      const p = join(d, e);
      try {
        if (!statSync(p).isFile()) continue;
        accessSync(p, constants.X_OK);
      } catch {
        continue;
      }
      seen.add(e);
      symlinkSync(p, join(dir, e));
    }
  }
  return dir;
}

const tools = process.argv[2];
if (tools) process.stdout.write(`${pathWithout(new Set(tools.split(',')))}\n`);
