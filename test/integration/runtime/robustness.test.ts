/**
 * Robustness of the runtime with the real core: a SYN flood against a bundled agent (memory stays
 * bounded, a real connection still works), and a peer that vanishes mid-transfer (the connection
 * ends with ETIMEDOUT after the configured user timeout, nothing leaks).
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createStack, type Stack } from '../../../stack/api';
import { encodeSegment } from '../../../stack/wire/tcp';
import { SYN } from '../../../stack/wire/types';
import { bundleAgent, type RunningAgent, startAgent, stopAgent } from './agent-helpers';

const dirs: string[] = [];
const agents: RunningAgent[] = [];
afterAll(async () => {
  for (const a of agents) await stopAgent(a);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function port(): number {
  return 20000 + Math.floor(Math.random() * 30000);
}

describe('robustness (real core)', () => {
  it('a flood of 100,000 forged SYNs leaves RSS bounded and a real connection still works', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mplab-flood-'));
    dirs.push(dir);
    const udpPort = port();
    const js = await bundleAgent();
    const victim = await startAgent(js, dir, 'v', [
      '--addresses',
      '127.0.0.3',
      '--udp-port',
      String(udpPort),
    ]);
    agents.push(victim);
    const client = await startAgent(js, dir, 'c', [
      '--addresses',
      '127.0.0.1',
      '--udp-port',
      String(udpPort),
    ]);
    agents.push(client);
    await victim.client.call('traffic.sink', { port: 80 });
    // Warm up so the baseline includes the JIT and a first connection.
    const warm = await client.client.call('traffic.send', {
      host: '127.0.0.3',
      port: 80,
      bytes: 100_000,
      wait: true,
    });
    expect(warm.status!.state).toBe('done');
    const before = await victim.client.call('report');

    // The flood: valid SYNs (MP_CAPABLE, correct checksums) from 127.0.0.4, 100k source ports/ISNs.
    const flooder = createSocket('udp4');
    await new Promise<void>((r) => flooder.bind(udpPort, '127.0.0.4', () => r()));
    const t0 = performance.now();
    for (let i = 0; i < 100_000; i++) {
      const seg = encodeSegment(
        {
          srcPort: 1024 + (i % 64000),
          dstPort: 80,
          seq: (i * 2654435761) >>> 0,
          ack: 0,
          flags: SYN,
          window: 65535,
          checksum: 0,
          urgent: 0,
          options: [
            { kind: 'mss', mss: 1400 },
            {
              kind: 'mptcp',
              mp: { subtype: 'MP_CAPABLE', version: 1, a: false, b: false, c: false, h: true, flags: 0x01 },
            },
          ],
          payload: new Uint8Array(0),
        },
        '127.0.0.4',
        '127.0.0.3',
      );
      flooder.send(seg, udpPort, '127.0.0.3');
      // Yield now and then so the send queue drains (bounded in time: ~1–3 s).
      if (i % 500 === 499) await new Promise((r) => setImmediate(r));
    }
    const floodSeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    const during = await victim.client.call('report');
    flooder.close();

    // A real connection from another address works while the forged handshakes are still pending.
    const real = await client.client.call(
      'traffic.send',
      { host: '127.0.0.3', port: 80, bytes: 2_000_000, wait: true },
      { timeoutMs: 30_000 },
    );
    expect(real.status!.state).toBe('done');
    expect(real.status!.result!.bytes).toBe(2_000_000);

    const received = during.phy.datagramsIn - before.phy.datagramsIn;
    expect(floodSeconds).toBeLessThan(20);
    // Most of the flood reached the agent and was held back by the SYN backlog.
    expect(received).toBeGreaterThan(20_000);
    expect(during.syn!.dropped).toBeGreaterThan(received * 0.9);
    expect(during.syn!.halfOpen).toBeLessThanOrEqual(256);
    // Memory stays bounded: well under what 100k connections would take.
    const grown = during.memory.rss - before.memory.rss;
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    expect((await victim.client.call('ping')).pong).toBe(true);
  });

  it('a peer that vanishes mid-transfer ends the connection with ETIMEDOUT after the user timeout', async () => {
    const udpPort = port();
    const a: Stack = await createStack({ addresses: ['127.0.0.1'], udpPort, pollMs: 0, userTimeoutMs: 1500 });
    const b: Stack = await createStack({ addresses: ['127.0.0.3'], udpPort, pollMs: 0 });
    try {
      b.createServer((s) => s.resume()).listen(81);
      const sock = a.connect({ host: '127.0.0.3', port: 81 });
      await new Promise<void>((resolve, reject) => {
        sock.once('connect', resolve);
        sock.once('error', reject);
      });
      const err = new Promise<Error & { code: string }>((r) => sock.once('error', r));
      const closed = new Promise<void>((r) => sock.once('close', () => r()));
      const chunk = Buffer.alloc(256 * 1024, 7);
      let stop = false;
      const writer = (async () => {
        while (!stop && !sock.destroyed) {
          if (!sock.write(chunk)) {
            await new Promise<void>((r) => {
              const done = () => {
                sock.off('drain', done);
                sock.off('close', done);
                r();
              };
              sock.on('drain', done);
              sock.on('close', done);
            });
          }
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      expect(sock.stats()!.bytesDelivered).toBeGreaterThan(0);
      // The peer vanishes: no RST, no FIN, nothing: its driver and phy just stop.
      b.driver.stop();
      await b.phy.close();
      const t0 = performance.now();
      const e = await err;
      const waited = performance.now() - t0;
      stop = true;
      await writer;
      await closed;
      expect(e.code).toBe('ETIMEDOUT');
      expect(waited).toBeGreaterThanOrEqual(1000);
      expect(waited).toBeLessThan(15_000);
      // Nothing leaks: no socket, no connection in the core, no timer left armed.
      expect(a.socketCount).toBe(0);
      expect(a.core.connStats()).toHaveLength(0);
      expect(a.core.nextDeadline()).toBe(Number.POSITIVE_INFINITY);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
