import { describe, expect, it } from 'vitest';
import { readCpio } from '../../../lab/images/live/cpio';
import { BOOT_AGENT_PID, IMAGE_AGENT } from '../../../lab/images/live/layout';
import {
  ipBatch,
  nodeConfigEntries,
  nodeScript,
  parseNodeBootConfig,
} from '../../../lab/images/live/node-config';
import { cpioArchive } from '../../../lab/images/live/cpio';

const base = {
  hostname: 'a',
  mgmt: { mac: '52:54:00:00:00:01', address: '10.254.254.15/24', gateway: '10.254.254.2' },
  interfaces: [{ mac: '52:54:00:00:00:02', name: 'eth1', mtu: 1500, addresses: ['10.0.1.1/24'] }],
  routes: [['route', 'add', 'default', 'via', '10.0.1.254']],
  rules: [['rule', 'add', 'from', '10.0.1.1', 'table', '101']],
  sysctls: { 'net.ipv4.ip_forward': '1', 'net.ipv4.tcp_rmem': '4096 87380 6291456' },
  sshHostKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----',
  authorizedKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDGn mplab-lab-key'],
};

describe('node boot config', () => {
  it('renders the ip batch: management first (its default route behind the lab ones), then the lab', () => {
    expect(ipBatch(parseNodeBootConfig(base))).toEqual([
      'link set dev eth0 up',
      'addr add 10.254.254.15/24 dev eth0',
      'route add default via 10.254.254.2 dev eth0 metric 1000',
      'link set dev eth1 mtu 1500 up',
      'addr add 10.0.1.1/24 dev eth1',
      'route add default via 10.0.1.254',
      'rule add from 10.0.1.1 table 101',
    ]);
  });

  it('renames NICs by MAC and writes sysctls through /proc/sys', () => {
    const s = nodeScript(parseNodeBootConfig(base));
    expect(s).toContain(
      'rename_nic 52:54:00:00:00:01 eth0\nrename_nic 52:54:00:00:00:02 eth1\nfinish_renames',
    );
    expect(s).toContain("echo '4096 87380 6291456' >/proc/sys/net/ipv4/tcp_rmem");
  });

  it("starts the image's agent before the SSH server only when the image's bundle has the host's hash", () => {
    const sha = 'ab'.repeat(32);
    const s = nodeScript(
      parseNodeBootConfig({ ...base, agent: { sha256: sha, args: ['--socket', '/run/mplab/agent.sock'] } }),
    );
    const lines = s.trim().split('\n');
    // after the network configuration and outside `set -e` (a failure leaves the lab's fallback)
    expect(lines.indexOf('set +e')).toBeLessThan(lines.findIndex((l) => l.includes('setsid node')));
    expect(s).toContain(`if [ "$(sha256sum ${IMAGE_AGENT} 2>/dev/null | cut -d' ' -f1)" = ${sha} ]; then`);
    expect(s).toContain(`setsid node ${IMAGE_AGENT} --socket /run/mplab/agent.sock </dev/null`);
    expect(s).toContain(`echo $! >${BOOT_AGENT_PID}`);
    expect(nodeScript(parseNodeBootConfig(base))).not.toContain('setsid');
    expect(() => parseNodeBootConfig({ ...base, agent: { sha256: 'x', args: [] } })).toThrow(/agent\.sha256/);
    expect(() => parseNodeBootConfig({ ...base, agent: { sha256: sha, args: ['a;b'] } })).toThrow(
      /agent\.args\.0/,
    );
  });

  it('refuses values that are not plain tokens, naming the field', () => {
    const bad = { ...base, routes: [['route', 'add', 'default;reboot']] };
    expect(() => parseNodeBootConfig(bad)).toThrow(/node config: routes\.0\.2: a plain token/);
    expect(() => parseNodeBootConfig({ ...base, hostname: 'a b' })).toThrow(/hostname/);
    expect(() => parseNodeBootConfig({ ...base, mgmt: { ...base.mgmt, mac: 'zz' } })).toThrow(/mgmt\.mac/);
    expect(() => parseNodeBootConfig({ ...base, sysctls: { 'net.x': "1'; rm -rf /" } })).toThrow(/sysctls/);
    expect(() => parseNodeBootConfig({ ...base, extra: 1 })).toThrow(/node config/);
    expect(() =>
      parseNodeBootConfig({ ...base, interfaces: [{ ...base.interfaces[0], name: 'eth0' }] }),
    ).toThrow(/eth0 used twice/);
  });

  it('packs node.json, the script, the key (0600) and authorized_keys', () => {
    const entries = readCpio(cpioArchive(nodeConfigEntries(base)));
    const byPath = new Map(entries.map((e) => [e.path, e]));
    const json = byPath.get('etc/mplab/node.json');
    expect(json?.kind === 'file' && JSON.parse(json.data.toString()).hostname).toBe('a');
    const key = byPath.get('etc/mplab/ssh_host_key');
    expect(key?.kind === 'file' && key.mode).toBe(0o600);
    const ak = byPath.get('root/.ssh/authorized_keys');
    expect(ak?.kind === 'file' && ak.data.toString()).toBe(`${base.authorizedKeys[0]}\n`);
    const count = byPath.get('etc/mplab/nic-count');
    expect(count?.kind === 'file' && count.data.toString()).toBe('2\n');
  });
});
