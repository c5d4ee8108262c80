/**
 * Robustness: mutated copies of real segments (bit flips anywhere, the TCP checksum fixed so they
 * reach the protocol code) thrown at both hosts in the middle of a transfer must never make the
 * core throw. Whatever they do to the connection, the core stays consistent enough to keep going.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Packet } from '../../../stack/core/contract';
import { buildTwoPath, startBulk } from '../../../stack/sim/index';
import { setTcpChecksum } from '../../../stack/wire/tcp';
import { hostOf, mptcpFactory } from './helpers';

describe('fuzzing the MPTCP host with mutated segments', () => {
  it('never throws', () => {
    const b = buildTwoPath({
      factory: mptcpFactory({ 'net.mptcp.mptcp_checksum': 1 }),
      paths: [
        { rateMbps: 10, delayMs: 10 },
        { rateMbps: 10, delayMs: 10 },
      ],
    });
    const samples: Packet[] = [];
    for (const l of b.paths) {
      for (const d of ['ab', 'ba'] as const) {
        l[d].set({
          middlebox: (p: Packet) => {
            if (samples.length < 400 && (samples.length < 60 || samples.length % 7 === 0)) samples.push(p);
            return p;
          },
        });
      }
    }
    const t = startBulk(b.sim, { client: b.client, server: b.server, bytes: 1_500_000 });
    b.sim.runUntil(400);
    expect(samples.length).toBeGreaterThan(50);
    const hosts = [hostOf(b.client.core), hostOf(b.server.core)];
    fc.assert(
      fc.property(
        fc.nat(samples.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (i, flips, truncate) => {
          const orig = samples[i]!;
          let data = orig.data.slice();
          for (const [pos, bit] of flips) {
            // Half the flips land in the header and options, where the protocol logic reads.
            const at = pos % 2 === 0 ? pos % Math.min(60, data.length) : pos % data.length;
            data[at] = data[at]! ^ (1 << bit);
          }
          if (truncate) data = data.subarray(0, Math.max(0, data.length - (flips[0]![0] % 16)));
          if (data.length >= 20) setTcpChecksum(data, orig.src, orig.dst);
          for (const h of hosts) {
            // Delivered as it was addressed, and also reflected to the sender.
            h.input({ src: orig.src, dst: orig.dst, data: data.slice() }, b.sim.now);
            h.input({ src: orig.dst, dst: orig.src, data: data.slice() }, b.sim.now);
            h.advance(b.sim.now);
            h.takeOutput();
            h.nextDeadline();
            h.connStats();
            h.report();
          }
        },
      ),
      { numRuns: 5000 },
    );
    // The simulation itself goes on without exceptions.
    b.sim.runWhile(() => !t.done, 30_000);
    expect(() => hosts.map((h) => h.reportText())).not.toThrow();
  });
});
