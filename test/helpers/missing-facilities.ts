/**
 * Vitest global setup: at the end of a run, names the facilities this machine lacks and the Debian
 * package that brings each, so a skipped integration test always comes with what to install.
 */
import { caps } from './caps';

const INSTALL: Record<string, string> = {
  root: 'run the tests as root (namespaces, veths, TUN)',
  netns: 'apt-get install iproute2 (and run as root)',
  iperf3: 'apt-get install iperf3',
  python3: 'apt-get install python3',
  tshark: 'apt-get install tshark',
  ethtool: 'apt-get install ethtool',
  ping: 'apt-get install iputils-ping',
  docker: 'apt-get install docker.io, and start dockerd',
  tun: 'a kernel with TUN (/dev/net/tun)',
  kernelMptcp: 'a kernel with CONFIG_MPTCP (/proc/sys/net/mptcp)',
  sshd: 'apt-get install openssh-server util-linux',
  qemu: 'apt-get install qemu-system-x86',
};

export function missingFacilities(): string[] {
  return Object.entries(caps)
    .filter(([, has]) => has === false)
    .map(([name]) => `${name}: ${INSTALL[name] ?? 'see test/helpers/caps.ts'}`);
}

export default function setup(): () => void {
  return () => {
    const missing = missingFacilities();
    if (missing.length === 0) return;
    process.stderr.write(
      `\nmplab: tests that need these facilities were skipped on this machine:\n${missing.map((m) => `  - ${m}`).join('\n')}\n`,
    );
  };
}
