/**
 * What this machine can do, probed once per test process. Integration tests use these with
 * `it.skipIf(!caps.x)` / `describe.skipIf` so a missing facility shows as skipped, never as passed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/**
 * Tools a test run pretends are not installed (`MPLAB_TEST_HIDE_TOOLS=iperf3,tshark`), set by CI's
 * fresh-machine pass beside a PATH without them (scripts/hide-tools.ts), so that pass proves the
 * suite is green with skips where a facility is missing.
 */
export const hiddenTools = new Set((process.env.MPLAB_TEST_HIDE_TOOLS ?? '').split(',').filter(Boolean));

function ok(cmd: string, args: string[]): boolean {
  if (hiddenTools.has(cmd.split('/').pop() ?? cmd)) return false;
  try {
    execFileSync(cmd, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function canNetns(): boolean {
  if (!isRoot || !ok('ip', ['-V'])) return false;
  const name = `mplab-probe-${process.pid}`;
  const made = ok('ip', ['netns', 'add', name]);
  if (made) ok('ip', ['netns', 'del', name]);
  return made;
}

const liveTools = ['apt-get', 'apt-cache', 'dpkg-deb', 'readelf', 'strip', 'zstd'];

export const caps = {
  /** QEMU for x86-64 guests (TCG is enough; KVM is not assumed). */
  qemu: ok('qemu-system-x86_64', ['--version']),
  /** What `mplab image build --live` needs to make the kernel + initramfs (packages come from apt). */
  liveBuild: liveTools.every((t) => ok('sh', ['-c', `command -v ${t}`])),
  /** What it needs besides to make the hybrid ISO. */
  liveIso:
    ['grub-mkrescue', 'xorriso', 'mformat'].every((t) => ok('sh', ['-c', `command -v ${t}`])) &&
    existsSync('/usr/lib/grub/i386-pc') &&
    existsSync('/usr/lib/grub/x86_64-efi'),
  /** UEFI firmware for QEMU (Debian's ovmf). */
  ovmf: existsSync('/usr/share/ovmf/OVMF.fd'),
  root: isRoot,
  netns: canNetns(),
  iperf3: ok('iperf3', ['--version']),
  python3: ok('python3', ['--version']),
  tshark: ok('tshark', ['--version']),
  ethtool: ok('ethtool', ['--version']),
  ping: ok('ping', ['-V']),
  docker: existsSync('/var/run/docker.sock') && ok('docker', ['info', '--format', '{{.ServerVersion}}']),
  tun: existsSync('/dev/net/tun'),
  kernelMptcp: existsSync('/proc/sys/net/mptcp/enabled'),
  /** dropbear and dropbearconvert on the host (the VM tests' throwaway guest image copies them). */
  dropbear: existsSync('/usr/sbin/dropbear') && existsSync('/usr/bin/dropbearconvert'),
  /** Debian's OpenSSH server plus what test/helpers/sshhost.ts needs to make "hosts" with it. */
  sshd:
    isRoot &&
    existsSync('/usr/sbin/sshd') &&
    ok('/usr/sbin/sshd', ['-V']) &&
    ok('unshare', ['--version']) &&
    ok('nsenter', ['--version']),
};
