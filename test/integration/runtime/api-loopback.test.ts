/**
 * The socket API, driver and UDP phy on real loopback sockets, with the tiny test core (so these run
 * whatever state the protocol cores are in). Two stacks: A on 127.0.0.1 + 127.0.0.2, B on 127.0.0.3.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createStack, type Stack, type StackSocket } from '../../../stack/api';
import { TinyCore } from '../../unit/runtime/tiny-core';

const stacks: Stack[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

function port(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

async function pair(opts: { idleTimeoutMs?: number } = {}) {
  const udpPort = port();
  const a = await createStack({
    addresses: ['127.0.0.1', '127.0.0.2'],
    udpPort,
    pollMs: 0,
    core: new TinyCore(opts),
  });
  stacks.push(a);
  const coreB = new TinyCore(opts);
  const b = await createStack({ addresses: ['127.0.0.3'], udpPort, pollMs: 0, core: coreB });
  stacks.push(b);
  return { a, b, udpPort, coreB };
}

/** An echo server handler; a peer's reset is expected here, not a test failure. */
function echo(s: StackSocket): void {
  s.on('error', () => {});
  s.pipe(s);
}

function once<T = unknown>(em: NodeJS.EventEmitter, ev: string): Promise<T> {
  return new Promise((resolve) => em.once(ev, resolve as (v: T) => void));
}

function collect(sock: StackSocket): Promise<{ bytes: number; sha: string }> {
  const h = createHash('sha256');
  let bytes = 0;
  return new Promise((resolve, reject) => {
    sock.on('data', (d: Buffer) => {
      bytes += d.length;
      h.update(d);
    });
    sock.on('end', () => resolve({ bytes, sha: h.digest('hex') }));
    sock.on('error', reject);
  });
}

describe('stack API over UDP loopback (tiny core)', () => {
  it('binds both addresses and transfers 8 MB with integrity, with backpressure both ways', async () => {
    const { a, b } = await pair();
    expect(a.addresses).toEqual(['127.0.0.1', '127.0.0.2']);
    const got = new Promise<{ bytes: number; sha: string; sock: StackSocket }>((resolve) => {
      b.createServer((sock) => {
        // A slow reader at first: the receive window must follow the application.
        sock.pause();
        setTimeout(() => sock.resume(), 150);
        collect(sock).then((r) => resolve({ ...r, sock }));
      }).listen(5001);
    });
    const client = a.connect({ host: '127.0.0.3', port: 5001, localAddress: '127.0.0.2' });
    const clientClosed = once(client, 'close');
    await once(client, 'connect');
    expect(client.localAddress).toBe('127.0.0.2');
    expect(client.remotePort).toBe(5001);
    const data = randomBytes(8 * 1024 * 1024);
    const want = createHash('sha256').update(data).digest('hex');
    let sawBackpressure = false;
    for (let off = 0; off < data.length; off += 64 * 1024) {
      if (!client.write(data.subarray(off, off + 64 * 1024))) {
        sawBackpressure = true;
        await once(client, 'drain');
      }
    }
    client.end();
    const r = await got;
    expect(sawBackpressure).toBe(true);
    expect(r.bytes).toBe(data.length);
    expect(r.sha).toBe(want);
    r.sock.end();
    await clientClosed;
    expect(a.socketCount).toBe(0);
    const rep = b.report();
    expect(rep.phy.datagramsIn).toBeGreaterThan(data.length / 1400);
    // Batching: many datagrams per driver turn.
    expect(rep.driver.turns).toBeLessThan(rep.driver.packetsIn);
  });

  it('resolves a host name before connecting, and reports ENOTFOUND for a bad one', async () => {
    const { a, b } = await pair();
    b.createServer(echo).listen(5004);
    // "localhost" resolves to 127.0.0.1 here, which is A's own address: A connects to itself.
    a.createServer(echo).listen(5004);
    const ok = a.connect({ host: 'localhost', port: 5004 });
    await once(ok, 'connect');
    expect(ok.remoteAddress).toBe('127.0.0.1');
    ok.write('hi');
    expect(String(await once<Buffer>(ok, 'data'))).toBe('hi');
    ok.destroy();
    const bad = a.connect({ host: 'no-such-host.invalid', port: 5004 });
    const err = await once<Error & { code: string }>(bad, 'error');
    expect(err.code).toBe('ENOTFOUND');
  });

  it('reports ECONNREFUSED when nobody listens', async () => {
    const { a } = await pair();
    const client = a.connect({ host: '127.0.0.3', port: 5999 });
    const closed = once(client, 'close');
    const err = await once<Error & { code: string }>(client, 'error');
    expect(err.code).toBe('ECONNREFUSED');
    await closed;
  });

  it('drops and counts garbage datagrams without disturbing a live connection', async () => {
    const { a, b, udpPort } = await pair();
    b.createServer(echo).listen(5002);
    const client = a.connect({ host: '127.0.0.3', port: 5002 });
    await once(client, 'connect');
    const junk = createSocket('udp4');
    const sends: Promise<void>[] = [];
    for (let i = 0; i < 200; i++) {
      const len = i % 3 === 0 ? 5 : 40;
      const d = randomBytes(len);
      d[12] = 0xf0; // data offset 60 > length: garbage
      sends.push(new Promise((r) => junk.send(d, udpPort, '127.0.0.3', () => r())));
    }
    await Promise.all(sends);
    junk.close();
    client.write('ping');
    const echoed = await once<Buffer>(client, 'data');
    expect(echoed.toString()).toBe('ping');
    expect(b.report().phy.garbageDropped).toBe(200);
    client.destroy();
  });

  it('ends with ETIMEDOUT when the peer vanishes mid-transfer, and leaks no socket', async () => {
    const { a, b } = await pair({ idleTimeoutMs: 500 });
    b.createServer((s) => s.resume()).listen(5003);
    const client = a.connect({ host: '127.0.0.3', port: 5003 });
    await once(client, 'connect');
    const errP = once<Error & { code: string }>(client, 'error');
    const chunk = Buffer.alloc(64 * 1024);
    let stop = false;
    const writer = async () => {
      while (!stop)
        if (!client.write(chunk)) await Promise.race([once(client, 'drain'), once(client, 'close')]);
    };
    const w = writer();
    await new Promise((r) => setTimeout(r, 100));
    const t0 = performance.now();
    // The peer is gone: no RST, no FIN, nothing: its driver and phy just stop.
    b.driver.stop();
    await b.phy.close();
    const err = await errP;
    stop = true;
    await w;
    expect(err.code).toBe('ETIMEDOUT');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(400);
    expect(a.socketCount).toBe(0);
    expect(a.core.connStats()).toHaveLength(0);
  });

  it('follows addresses: a rebind after the set changes reaches the core', async () => {
    const core = new TinyCore();
    const seen: string[][] = [];
    const orig = core.setAddresses.bind(core);
    core.setAddresses = (addrs: string[]) => {
      seen.push([...addrs]);
      orig(addrs);
    };
    // Learn from the host including loopback: 127.0.0.1 on lo is present.
    const s = await createStack({ includeLoopback: true, udpPort: port(), pollMs: 50, core });
    stacks.push(s);
    expect(s.addresses).toContain('127.0.0.1');
    expect(seen[0]).toEqual(s.addresses);
  });
});
