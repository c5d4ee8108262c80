/**
 * Invariants under random operation sequences (fast-check): the shared send buffer, the path
 * manager's mapping table, the schedulers.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SharedSendBuffer } from '../../../stack/mptcp/sendbuf';
import { PathManager } from '../../../stack/pm';
import { createScheduler, hasRoom, type SchedSubflow } from '../../../stack/sched';

describe('shared send buffer invariants', () => {
  it('una <= nxt <= end, reinjection ranges sorted, disjoint and inside [una, maxSent); bytes preserved', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('write' as const), n: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ k: fc.constant('take' as const), n: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ k: fc.constant('re' as const), a: fc.nat(40_000), n: fc.integer({ min: 0, max: 5000 }) }),
      fc.record({ k: fc.constant('takeRe' as const), n: fc.integer({ min: 1, max: 3000 }) }),
      fc.record({ k: fc.constant('ack' as const), n: fc.integer({ min: 0, max: 4000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const sb = new SharedSendBuffer(20_000);
        let written = 0;
        for (const o of ops) {
          switch (o.k) {
            case 'write': {
              const data = new Uint8Array(o.n).map((_, i) => (written + i) & 0xff);
              written += sb.write(data);
              break;
            }
            case 'take': {
              const r = sb.takeNew(o.n, Number.POSITIVE_INFINITY);
              if (r) {
                expect(r.end - r.start).toBeLessThanOrEqual(o.n);
                const b = sb.bytes(r.start, r.end - r.start);
                for (let i = 0; i < b.length; i++) expect(b[i]).toBe((r.start + i) & 0xff);
              }
              break;
            }
            case 're':
              sb.queueReinject(Math.min(o.a, sb.maxSent), Math.min(o.a + o.n, sb.maxSent));
              break;
            case 'takeRe': {
              const r = sb.takeReinject(o.n);
              if (r) expect(r.start).toBeGreaterThanOrEqual(sb.una);
              break;
            }
            case 'ack':
              sb.ack(sb.una + o.n);
              break;
          }
          expect(sb.una).toBeLessThanOrEqual(sb.nxt);
          expect(sb.nxt).toBeLessThanOrEqual(sb.end);
          expect(sb.end).toBe(written);
          let prev = -1;
          for (const r of sb.reinject) {
            expect(r.start).toBeLessThan(r.end);
            expect(r.start).toBeGreaterThan(prev);
            expect(r.end).toBeLessThanOrEqual(sb.maxSent);
            prev = r.end;
          }
          if (sb.reinject.length > 0) expect(sb.reinject[0]!.start).toBeGreaterThanOrEqual(sb.una);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('path manager invariants', () => {
  it('path indices unique and stable, no address pair twice, ids stable under address churn', () => {
    const addrs = ['A1', 'A2', 'A3'];
    const op = fc.oneof(
      fc.record({ k: fc.constant('locals' as const), set: fc.subarray(addrs) }),
      fc.record({
        k: fc.constant('add' as const),
        id: fc.integer({ min: 1, max: 4 }),
        a: fc.constantFrom('B2', 'B3', 'B4'),
      }),
      fc.record({ k: fc.constant('rm' as const), id: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ k: fc.constant('build' as const), t: fc.nat(100_000) }),
      fc.record({
        k: fc.constant('down' as const),
        idx: fc.integer({ min: 1, max: 12 }),
        t: fc.nat(100_000),
      }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const pm = new PathManager({ strategy: 'fullmesh', ndiffports: 1 }, ['A1', 'A2']);
        const ids = new Map(addrs.map((a) => [a, pm.addressId(a)]));
        pm.addConnection(1, { srcAddr: 'A1', dstAddr: 'B1', srcPort: 1000, dstPort: 80 }, true);
        const seenIndex = new Map<number, string>();
        let port = 2000;
        for (const o of ops) {
          if (o.k === 'locals') pm.setLocalAddresses(o.set);
          else if (o.k === 'add') pm.addRemoteAddress(1, { id: o.id, address: o.a });
          else if (o.k === 'rm') pm.removeRemoteAddress(1, o.id);
          else if (o.k === 'build') for (const r of pm.nextToBuild(1, o.t)) pm.built(1, r.pathIndex, port++);
          else pm.pathDown(1, o.idx, o.t);
          pm.takeActions(1);
          const rows = pm.rows(1);
          const idx = rows.map((r) => r.pathIndex);
          expect(new Set(idx).size).toBe(idx.length);
          const live = rows.filter((r) => r.state !== 'removed');
          const pairs = live.map((r) => `${r.endpoint.srcAddr}>${r.endpoint.dstAddr}`);
          expect(new Set(pairs).size).toBe(pairs.length);
          for (const r of rows) {
            const pair = `${r.endpoint.srcAddr}>${r.endpoint.dstAddr}`;
            const before = seenIndex.get(r.pathIndex);
            if (before) expect(pair).toBe(before);
            seenIndex.set(r.pathIndex, pair);
            if (r.state === 'pending') expect(r.endpoint.srcPort).toBe(0);
          }
          for (const a of addrs) expect(pm.addressId(a)).toBe(ids.get(a));
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe('scheduler invariants', () => {
  const sub = fc.record({
    srttMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 500 })),
    cwnd: fc.integer({ min: 1000, max: 100_000 }),
    bytesInFlight: fc.integer({ min: 0, max: 100_000 }),
    mss: fc.constantFrom(536, 1000, 1420),
    backup: fc.boolean(),
    usable: fc.boolean(),
  });
  it('default and roundrobin only pick usable subflows with room, backups only when no regular one is usable', () => {
    fc.assert(
      fc.property(
        fc.array(sub, { minLength: 1, maxLength: 6 }),
        fc.option(fc.nat(5_000_000)),
        (specs, queued) => {
          const subs: SchedSubflow[] = specs.map((s, i) => ({ id: i + 1, ...s }));
          const regularUsable = subs.some((s) => s.usable && !s.backup);
          for (const name of ['default', 'roundrobin', 'redundant']) {
            const p = createScheduler(name).pick(subs, queued ?? undefined);
            if (!p) continue;
            expect(p.usable).toBe(true);
            expect(hasRoom(p)).toBe(true);
            if (regularUsable) expect(p.backup).toBe(false);
          }
          // Without the queue length, the default picks whenever some eligible subflow has room.
          const eligible = subs.filter((s) => s.usable && s.backup === !regularUsable && hasRoom(s));
          expect(createScheduler('default').pick(subs) !== undefined).toBe(eligible.length > 0);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('receive-side mappings under any segmentation', () => {
  it('every byte comes out at its data offset exactly once, with or without checksums', async () => {
    const { RxMappings } = await import('../../../stack/mptcp/rxmap');
    const { dssChecksum } = await import('../../../stack/wire/checksum');
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3000 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 4000 }), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (mapLens, cuts, csum, ssnBase) => {
          // The subflow stream: mappings back to back; data offsets jump by 10 000 between them.
          const total = mapLens.reduce((a, b) => a + b, 0);
          const stream = new Uint8Array(total).map((_, i) => (i * 13 + 5) & 0xff);
          const rx = new RxMappings(csum);
          const span = mapLens.length * 10_000;
          const expected = new Int16Array(span).fill(-1);
          let at = 0;
          mapLens.forEach((len, k) => {
            const off = k * 10_000;
            const ssn = (ssnBase + at) >>> 0;
            const dsn = BigInt(off) + 77n;
            const sum = csum ? dssChecksum(dsn, ssn, len, stream, at, len) : undefined;
            rx.add(ssn, off, len, dsn, len, sum);
            for (let i = 0; i < len; i++) expected[off + i] = stream[at + i]!;
            at += len;
          });
          const got = new Int16Array(span).fill(-1);
          let twice = 0;
          let pos = 0;
          let c = 0;
          while (pos < total) {
            const n = Math.min(cuts[c++ % cuts.length]!, total - pos);
            const res = rx.feed((ssnBase + pos) >>> 0, stream.subarray(pos, pos + n), (off, bytes) => {
              for (let i = 0; i < bytes.length; i++) {
                if (got[off + i] !== -1) twice++;
                got[off + i] = bytes[i]!;
              }
            });
            if (res !== 'ok') return false;
            pos += n;
          }
          return twice === 0 && Buffer.from(got.buffer).equals(Buffer.from(expected.buffer));
        },
      ),
      { numRuns: 300 },
    );
  });
});
