/**
 * What this machine can do, probed once per test process. Integration tests use these with
 * `it.skipIf(!caps.x)` / `describe.skipIf` so a missing facility shows as skipped, never as passed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function ok(cmd: string, args: string[]): boolean {
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

export const caps = {
  root: isRoot,
  netns: canNetns(),
  iperf3: ok('iperf3', ['--version']),
  python3: ok('python3', ['--version']),
  tshark: ok('tshark', ['--version']),
  docker: existsSync('/var/run/docker.sock') && ok('docker', ['info', '--format', '{{.ServerVersion}}']),
  tun: existsSync('/dev/net/tun'),
  kernelMptcp: existsSync('/proc/sys/net/mptcp/enabled'),
};
