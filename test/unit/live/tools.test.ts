/**
 * A missing host tool stops `mplab image build --live` before anything is written: one line naming
 * the tool and the Debian package to install, exit 1, no ISO at -o and no cache entry. PATH is a
 * scratch folder of stand-ins (the check looks for the names, it runs none of them), less the one
 * the case hides.
 */
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOOT_TOOLS, BUILD_TOOLS, ISO_TOOLS, liveTools, missingTools } from '../../../lab/images/live/tools';
import { runCli } from '../../helpers/cli';

const saved = { PATH: process.env.PATH, MPLAB_CACHE_DIR: process.env.MPLAB_CACHE_DIR };
let work: string;
let bin: string;

/** A PATH holding every command tool of the build, the ISO and the check, except `hide`. */
function fakePath(hide: string): void {
  for (const t of [...BUILD_TOOLS, ...ISO_TOOLS, ...BOOT_TOOLS]) {
    if (t.what.startsWith('/') || t.what === hide) continue;
    const f = join(bin, t.what);
    writeFileSync(f, '#!/bin/sh\nexit 0\n');
    chmodSync(f, 0o755);
  }
  process.env.PATH = bin;
}

beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'mplab-live-tools-'));
  bin = join(work, 'bin');
  mkdirSync(bin);
  process.env.MPLAB_CACHE_DIR = join(work, 'cache');
});

afterEach(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(work, { recursive: true, force: true });
});

const cases: { hide: string; pkg: string; args: string[] }[] = [
  { hide: 'xorriso', pkg: 'xorriso', args: [] },
  { hide: 'grub-mkrescue', pkg: 'grub-common', args: [] },
  { hide: 'mformat', pkg: 'mtools', args: [] },
  { hide: 'qemu-system-x86_64', pkg: 'qemu-system-x86', args: ['--check'] },
];

describe('image build --live without a tool it needs', () => {
  for (const c of cases)
    it(`names ${c.hide} and the package ${c.pkg}, exits 1, writes nothing`, async () => {
      fakePath(c.hide);
      // GRUB's platform folders are looked for on this machine: only the command tools are faked
      const absent = missingTools(liveTools({ iso: true, check: true })).map((t) => t.what);
      expect(absent).toContain(c.hide);
      const out = join(work, 'out.iso');
      const r = await runCli(['image', 'build', '--live', '-o', out, ...c.args]);
      expect(r.code).toBe(1);
      const lines = r.err.trim().split('\n');
      expect(lines).toHaveLength(1);
      const tool = ISO_TOOLS.concat(BOOT_TOOLS).find((t) => t.what === c.hide);
      expect(lines[0]).toContain(`${c.hide} (${tool?.why})`);
      expect(lines[0]).toMatch(new RegExp(`apt-get install (\\S+ )*${c.pkg}( |$)`));
      expect(existsSync(out)).toBe(false);
      expect(existsSync(join(work, 'cache'))).toBe(false);
    });

  it('does not ask for QEMU without --check', async () => {
    fakePath('qemu-system-x86_64');
    expect(missingTools(liveTools({ iso: true })).map((t) => t.what)).not.toContain('qemu-system-x86_64');
    expect(missingTools(liveTools({ iso: true, check: true })).map((t) => t.what)).toContain(
      'qemu-system-x86_64',
    );
  });
});
