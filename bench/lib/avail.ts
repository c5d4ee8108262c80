/** What the namespace bench modules need; a reason string when something is missing. */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export function needs(opts: { kernelMptcp?: boolean; tun?: boolean; tc?: boolean }): true | string {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root (namespaces)';
  try {
    execFileSync('ip', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'iproute2 (ip) missing';
  }
  try {
    execFileSync('python3', ['--version'], { stdio: 'ignore' });
  } catch {
    return 'python3 missing (receivers, counters, kernel baseline)';
  }
  if (opts.kernelMptcp && !existsSync('/proc/sys/net/mptcp/enabled'))
    return 'kernel without MPTCP (baseline)';
  if (opts.tun && !existsSync('/dev/net/tun')) return 'no /dev/net/tun (userspace emulator)';
  if (opts.tc) {
    try {
      execFileSync('tc', ['-V'], { stdio: 'ignore' });
    } catch {
      return 'tc missing (tbf shaping)';
    }
  }
  return true;
}
