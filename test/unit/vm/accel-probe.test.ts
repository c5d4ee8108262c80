// The accelerator probe against fake QEMU binaries: a guest that reaches /init, one that hangs
// after the boot sector (the PVM case this machine shows), one that dies; and the cache's rule that
// a boot-sector "yes" is probed again with a real kernel.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chooseAccel, probeKernel } from '../../../lab/vm/accel';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mplab-accel-test-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for qemu-system-x86_64: prints KVM for a boot sector (-drive), `kernelSays` for -kernel. */
function fakeQemu(kernelSays: string, kernelHangs = false): string {
  const p = join(dir, 'qemu');
  writeFileSync(
    p,
    `#!/bin/sh
echo "$@" >> ${join(dir, 'calls')}
case "$*" in
  *-kernel*) printf '%s\\n' "${kernelSays}"; ${kernelHangs ? 'exec sleep 30' : 'exit 0'} ;;
  *) echo KVM; exec sleep 30 ;;
esac
`,
  );
  chmodSync(p, 0o755);
  return p;
}
const boot = { kernel: '/nonexistent/vmlinuz', initrd: '/nonexistent/initrd' };

describe('probeKernel', () => {
  it('is ok when the console shows the guest running /init', async () => {
    const q = fakeQemu('[    0.9] Run /init as init process');
    expect(await probeKernel(q, 'kvm', boot, 30_000)).toEqual({
      ok: true,
      detail: 'a Linux guest reached /init',
    });
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toContain('-cpu host');
  });
  it('fails on a guest that hangs before /init, and says so', async () => {
    const q = fakeQemu('Linux version 6.1.0', true);
    const r = await probeKernel(q, 'kvm', boot, 300);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/no guest output within 300 ms/);
  });
  it('fails on a QEMU that exits before /init (KVM abort), quoting its exit', async () => {
    const q = fakeQemu('KVM internal error. Suberror: 1');
    const r = await probeKernel(q, 'kvm', boot, 30_000);
    expect(r.ok).toBe(false);
    expect(r.detail).toMatch(/QEMU exited \(code 0\)/);
  });
});

describe('chooseAccel auto', () => {
  it('falls back to TCG when the boot sector runs but the kernel does not', async () => {
    const q = fakeQemu('Linux version 6.1.0', true);
    const kvmDevice = join(dir, 'kvm');
    writeFileSync(kvmDevice, '');
    const cacheFile = join(dir, 'accel.json');
    const c = await chooseAccel(
      'auto',
      { binary: q, version: 'fake' },
      { cacheFile, kvmDevice, kernel: boot, timeoutMs: 30_000, kernelTimeoutMs: 500 },
    );
    expect(c.accel).toBe('tcg');
    expect(c.note).toMatch(/KVM does not run guests here/);
    expect(JSON.parse(readFileSync(cacheFile, 'utf8'))).toMatchObject({ kvm: false, probe: 'kernel' });
  });
  it('probes again with the kernel when the cached yes rests on the boot sector alone', async () => {
    const q = fakeQemu('Run /init as init process');
    const kvmDevice = join(dir, 'kvm');
    writeFileSync(kvmDevice, '');
    const cacheFile = join(dir, 'accel.json');
    const noKernel = await chooseAccel(
      'auto',
      { binary: q, version: 'fake' },
      { cacheFile, kvmDevice, timeoutMs: 30_000 },
    );
    expect(noKernel.accel).toBe('kvm');
    expect(JSON.parse(readFileSync(cacheFile, 'utf8')).probe).toBe('boot-sector');
    const withKernel = await chooseAccel(
      'auto',
      { binary: q, version: 'fake' },
      { cacheFile, kvmDevice, kernel: boot },
    );
    expect(withKernel.accel).toBe('kvm');
    expect(JSON.parse(readFileSync(cacheFile, 'utf8')).probe).toBe('kernel');
    expect(readFileSync(join(dir, 'calls'), 'utf8')).toContain('-kernel');
  });
  it('takes kvm or tcg as asked, without probing', async () => {
    expect(await chooseAccel('tcg', { binary: '/nonexistent', version: 'x' })).toEqual({ accel: 'tcg' });
    expect(await chooseAccel('kvm', { binary: '/nonexistent', version: 'x' })).toEqual({ accel: 'kvm' });
  });
});
