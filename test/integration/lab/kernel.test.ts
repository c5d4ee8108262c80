/**
 * `stack: kernel` nodes: the kernel's MPTCP configured by the lab (knobs as kernel sysctls, every
 * address an `ip mptcp` endpoint). With source policy routing, one kernel MPTCP transfer uses both
 * paths of the two-host lab.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Lab } from '../../../lab/lab';
import { caps } from '../../helpers/caps';
import { root } from './bundle';
import { labName, labScope, leftovers, NOTHING } from './helpers';

const SERVER = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('0.0.0.0', 5555)); s.listen(1); print('ready', flush=True)
c, _ = s.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
print(n, flush=True)
`;
const CLIENT = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM, 262)
s.connect(('10.0.1.2', 5555))
for _ in range(48): s.sendall(b'x' * 65536)
s.close()
`;

describe.skipIf(!caps.netns || !caps.kernelMptcp)('kernel MPTCP nodes', () => {
  labScope();

  it('applies kernel knobs and endpoints; one MPTCP transfer uses both paths', async () => {
    const name = labName('n');
    const lab = await Lab.up(join(root, 'test/integration/lab/fixtures/kernel-two-host.yaml'), { name });
    expect(await lab.sysctl('a', ['net.mptcp.mptcp_checksum'])).toEqual([
      { node: 'a', name: 'net.mptcp.checksum_enabled', value: 1 },
    ]);
    const eps = (await lab.exec('b', ['ip', 'mptcp', 'endpoint'])).stdout;
    expect(eps).toMatch(/10\.0\.1\.2 id \d+ signal subflow dev eth1/);
    expect(eps).toMatch(/10\.0\.2\.2 id \d+ signal subflow dev eth2/);

    const before = await lab.status();
    const srv = spawn('ip', ['netns', 'exec', `mplab-${name}-b`, 'python3', '-c', SERVER], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    srv.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    for (let i = 0; i < 200 && !out.includes('ready'); i++) await new Promise((r) => setTimeout(r, 10));
    const c = await lab.exec('a', ['python3', '-c', CLIENT], { timeoutMs: 30_000 });
    expect(c.stderr).toBe('');
    await new Promise<void>((r) => srv.on('close', () => r()));
    expect(Number(out.split('\n')[1])).toBe(48 * 65536);
    const after = await lab.status();
    for (const [i, l] of after.links.entries()) {
      const tx = (l.counters.a?.txBytes ?? 0) - (before.links[i]?.counters.a?.txBytes ?? 0);
      expect(tx, `${l.id} carried part of the transfer`).toBeGreaterThan(300_000);
    }
    await lab.down();
    expect(leftovers(name)).toEqual(NOTHING);
  });
});
