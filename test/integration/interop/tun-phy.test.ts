/**
 * The TUN phy owns the stack's addresses: with the steering in place the node's kernel never
 * answers TCP for them (no RST), and without it the kernel does (the control that shows the
 * capture would catch it). Also: checksums both ways, ICMP still answered by the kernel, the
 * device and its rules gone after close.
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { caps } from '../../helpers/caps';
import { netnsScope, tag } from '../../helpers/netns';
import { dissect, startCapture, tmpDir } from './dissect';
import { TunPhy } from '../../../stack/runtime/tun-phy';
import { hasMptcpPython, makePair, startOurStack } from './harness';

const execFileAsync = promisify(execFile);
netnsScope();
const tmp = tmpDir();
afterAll(() => tmp.remove());

/** A kernel TCP client in namespace `ns` that connects, sends `text`, reads until EOF. */
async function kernelClient(
  ns: string,
  host: string,
  port: number,
  text: string,
): Promise<{ ok: boolean; out: string }> {
  const py = `
import socket, sys
s = socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET, socket.SOCK_STREAM)
s.settimeout(3)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    s.sendall(sys.argv[3].encode()); s.shutdown(socket.SHUT_WR)
    b = b''
    while True:
        d = s.recv(4096)
        if not d: break
        b += d
    print('ok', b.decode())
except Exception as e:
    print('err', type(e).__name__, e)
`;
  // Asynchronously: our stack runs on this process's event loop and must answer meanwhile.
  const { stdout } = await execFileAsync(
    'ip',
    ['netns', 'exec', ns, 'python3', '-c', py, host, String(port), text],
    {
      timeout: 15_000,
    },
  );
  const out = stdout.trim();
  return { ok: out.startsWith('ok'), out };
}

describe.skipIf(!caps.netns || !caps.tun || !caps.tshark || !hasMptcpPython)('TUN phy', () => {
  // ping shows the kernel still answers ICMP for the address while TCP is steered to the stack
  it.skipIf(!caps.ping)(
    'steered: the kernel never answers for the stack; plain TCP echo works both ways',
    async () => {
      const pair = makePair(tag(), { links: 1 });
      const cap = await startCapture(pair.k, pair.kIf, tmp.dir);
      const s = await startOurStack(pair, { knobs: { 'net.mptcp.mptcp_enabled': 0 } });
      try {
        // An echo server in our stack on 7000 (upper-cased); nothing on 7001.
        s.core.listen(7000);
        s.onAccept = (conn) => {
          s.handlers.set(conn, (e) => {
            if (e.type === 'data') {
              s.core.write(
                conn,
                new TextEncoder().encode(new TextDecoder().decode(e.data).toUpperCase()),
                s.driver.now(),
              );
              s.core.consumed(conn, e.data.length, s.driver.now());
            }
            if (e.type === 'end') s.core.end(conn, s.driver.now());
            s.driver.kick();
          });
        };
        const echo = await kernelClient(pair.k, pair.a[0]!, 7000, 'hello tun');
        expect(echo.out).toBe('ok HELLO TUN');
        // A port our stack does not listen on: the stack answers (RST), never the kernel.
        const refused = await kernelClient(pair.k, pair.a[0]!, 7001, 'x');
        expect(refused.out).toMatch(/ConnectionRefused/);
        // The kernel still answers ICMP for the address (ping is not steered).
        expect(() =>
          execFileSync('ip', ['netns', 'exec', pair.k, 'ping', '-c', '1', '-W', '2', pair.a[0]!], {
            stdio: 'ignore',
          }),
        ).not.toThrow();
        await new Promise((r) => setTimeout(r, 200));
        await cap.stop();
        const d = dissect(cap.file, pair.a);
        expect(d.malformed).toBe(0);
        expect(s.rstsSent).toBeGreaterThanOrEqual(1);
        // Every RST from the stack's address on the wire is one the stack sent.
        expect(d.rstsFromOurs).toBe(s.rstsSent);
        expect(s.dropped(), 'bad checksums or undecodable segments').toBe(0);
        expect(s.phy.counters.datagramsIn).toBeGreaterThan(4);
        expect(s.phy.counters.sendErrors).toBe(0);
      } finally {
        await s.close();
        await cap.stop();
      }
      // Closing removes the device and the steering rules, and puts the local table back first.
      const links = execFileSync('ip', ['-n', pair.ts, '-o', 'link'], { encoding: 'utf8' });
      expect(links).not.toMatch(/mptun0/);
      const rules = execFileSync('ip', ['-n', pair.ts, 'rule'], { encoding: 'utf8' });
      expect(rules).not.toMatch(/ipproto tcp/);
      expect(rules).toMatch(/^0:\s+from all lookup local/m);
    },
    60_000,
  );

  it('a stack that died without closing leaves rules a new one takes over; close removes them', async () => {
    const pair = makePair(tag(), { links: 1 });
    const rules = () => execFileSync('ip', ['-n', pair.ts, 'rule'], { encoding: 'utf8' });
    const first = new TunPhy({ netns: pair.ts, addresses: pair.a, name: 'mptunx' });
    await first.start();
    expect(rules()).toMatch(/to 10\.\d+\.1\.1 ipproto tcp lookup 8684/);
    // "Crash": the device goes (its fd closed), the rules and the moved local rule stay.
    await first.device?.close();
    const second = new TunPhy({ netns: pair.ts, addresses: pair.a, name: 'mptuny' });
    await second.start();
    expect(rules().match(/ipproto tcp/g)).toHaveLength(1);
    await second.close();
    expect(rules()).not.toMatch(/ipproto tcp/);
    expect(rules()).toMatch(/^0:\s+from all lookup local/m);
  }, 30_000);

  it('control: without the steering the kernel answers the SYN with a RST', async () => {
    const pair = makePair(tag(), { links: 1 });
    const cap = await startCapture(pair.k, pair.kIf, tmp.dir);
    try {
      // Our address is on the veth and nothing steers TCP away from the kernel: it answers itself.
      const r = await kernelClient(pair.k, pair.a[0]!, 7000, 'x');
      expect(r.out).toMatch(/ConnectionRefused/);
      await new Promise((res) => setTimeout(res, 200));
      await cap.stop();
      const d = dissect(cap.file, pair.a);
      expect(d.rstsFromOurs).toBeGreaterThanOrEqual(1);
    } finally {
      await cap.stop();
    }
  }, 30_000);
});
