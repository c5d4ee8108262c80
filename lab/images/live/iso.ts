/**
 * The hybrid ISO: grub-mkrescue lays out GRUB for BIOS (El Torito + an MBR for USB sticks) and for
 * UEFI (an EFI system partition image), with images/live/grub.cfg as the menu, then xorriso writes
 * it. The ISO is written under a temporary name and renamed, so a failure leaves none behind.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { RuntimeFailure } from '../../errors';

export interface IsoInput {
  kernel: string;
  initrd: string;
  out: string;
  version: string;
  /** The GRUB menu template (default images/live/grub.cfg of this installation). */
  grubCfg?: string;
}

export function grubConfig(template: string, version: string): string {
  return template.replaceAll('@VERSION@', version);
}

function defaultGrubCfg(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const f = join(dir, 'images', 'live', 'grub.cfg');
    try {
      readFileSync(f);
      return f;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new RuntimeFailure('cannot find images/live/grub.cfg beside the mplab installation');
}

export async function buildIso(input: IsoInput): Promise<void> {
  const work = mkdtempSync(join(dirname(input.out), '.iso-'));
  try {
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'boot', 'grub'), { recursive: true });
    copyFileSync(input.kernel, join(tree, 'boot', 'vmlinuz'));
    copyFileSync(input.initrd, join(tree, 'boot', 'initrd.img'));
    const template = readFileSync(input.grubCfg ?? defaultGrubCfg(), 'utf8');
    writeFileSync(join(tree, 'boot', 'grub', 'grub.cfg'), grubConfig(template, input.version));
    const tmpIso = join(work, 'out.iso');
    const r = await execa('grub-mkrescue', ['-o', tmpIso, tree, '--', '-volid', 'MPLAB_LIVE'], {
      reject: false,
      env: { LC_ALL: 'C' },
    });
    if (r.exitCode !== 0) {
      const last = r.stderr.trim().split('\n').at(-1) ?? `exit ${r.exitCode}`;
      throw new RuntimeFailure(`grub-mkrescue failed: ${last}`);
    }
    renameSync(tmpIso, input.out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
