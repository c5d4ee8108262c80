/**
 * `mplab run --sim --capture FILE [--capture-at NODE[:IFACE]]`: the pcap holds what the node's
 * interfaces carried, as a capture on the node would: what it sent when it sent it (lost packets
 * too), what reached it when it arrived; every packet a valid IP packet with a valid TCP checksum.
 * And the CLI refuses what it cannot do, leaving no file behind.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../../lab/errors';
import { parseCaptureAt } from '../../../lab/sim/capture';
import { simulateRun } from '../../../lab/sim/run';
import { loadTopology } from '../../../lab/topology/index';
import { MemoryPcap } from '../../../stack/wire/pcap';
import { verifySegmentChecksum } from '../../../stack/wire/tcp';
import { runCli } from '../../helpers/cli';

const topo = (f: string) => join(__dirname, '../../../topologies', f);
/** `mplab run a b --sim -t topologies/two-host.yaml …` */
const simCli = (...args: string[]) =>
  runCli(['run', 'a', 'b', '--sim', '-t', topo('two-host.yaml'), ...args]);

interface Rec {
  t: number;
  src: string;
  dst: string;
  /** TCP payload length. */
  len: number;
  valid: boolean;
}

/** Raw-IP pcap records (IPv4 only: two-host is IPv4). */
function records(b: Uint8Array): Rec[] {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(v.getUint32(20, true)).toBe(101);
  const out: Rec[] = [];
  for (let o = 24; o < b.length; ) {
    const incl = v.getUint32(o + 8, true);
    const ip = b.subarray(o + 16, o + 16 + incl);
    const ihl = (ip[0]! & 0x0f) * 4;
    const src = [...ip.subarray(12, 16)].join('.');
    const dst = [...ip.subarray(16, 20)].join('.');
    const seg = ip.subarray(ihl);
    out.push({
      t: v.getUint32(o, true) * 1000 + v.getUint32(o + 4, true) / 1000,
      src,
      dst,
      len: seg.length - (seg[12]! >> 4) * 4,
      valid: verifySegmentChecksum(seg, src, dst),
    });
    o += 16 + incl;
  }
  return out;
}

describe('run --sim --capture', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mplab-simcap-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("captures a node's interfaces: both directions, both paths, valid packets at virtual times", async () => {
    const model = await loadTopology(topo('two-host.yaml'));
    const pcap = new MemoryPcap();
    const spec = { from: 'a', to: 'b', stack: 'ts' as const, timeMs: 500, events: [] };
    const out = simulateRun(model, spec, { capture: { at: parseCaptureAt(model, 'a'), writer: pcap } });
    expect(out.result.integrity).toBe('ok');
    const recs = records(pcap.bytes());
    expect(recs.every((r) => r.valid)).toBe(true);
    const sent = recs.filter((r) => r.src === '10.0.1.1' || r.src === '10.0.2.1');
    const got = recs.filter((r) => r.dst === '10.0.1.1' || r.dst === '10.0.2.1');
    expect(sent.length + got.length).toBe(recs.length);
    expect(new Set(sent.map((r) => r.src))).toEqual(new Set(['10.0.1.1', '10.0.2.1']));
    expect(got.length).toBeGreaterThan(0);
    // the data a sent: every payload byte of the run at least once
    expect(sent.reduce((a, r) => a + r.len, 0)).toBeGreaterThanOrEqual(out.result.bytes);
    // in time order, within the virtual run
    expect(recs.every((r, i) => i === 0 || r.t >= recs[i - 1]!.t)).toBe(true);
    expect(recs.at(-1)!.t).toBeLessThan(out.virtualMs + 1);

    // one interface: only its path
    const one = new MemoryPcap();
    simulateRun(model, spec, { capture: { at: parseCaptureAt(model, 'a:eth2'), writer: one } });
    expect(new Set(records(one.bytes()).flatMap((r) => [r.src, r.dst]))).toEqual(
      new Set(['10.0.2.1', '10.0.2.2']),
    );
  });

  it('what the sender sent includes what the link lost; what the receiver saw does not', async () => {
    const model = await loadTopology(topo('two-host.yaml'));
    for (const l of model.links) l.ab.lossPct = 5;
    const spec = { from: 'a', to: 'b', stack: 'ts' as const, timeMs: 500, events: [] };
    const atA = new MemoryPcap();
    const atB = new MemoryPcap();
    simulateRun(model, spec, { capture: { at: parseCaptureAt(model, 'a'), writer: atA } });
    simulateRun(model, spec, { capture: { at: parseCaptureAt(model, 'b'), writer: atB } });
    const data = (rs: Rec[]) => rs.filter((r) => r.len > 0 && r.dst.endsWith('.2')).length;
    const sentByA = data(records(atA.bytes()));
    const reachedB = data(records(atB.bytes()));
    // same seed, same run: b saw a's data packets less the ~5 % the links dropped
    expect(reachedB).toBeLessThan(sentByA);
    expect(reachedB).toBeGreaterThan(sentByA * 0.9);
  });

  it('names a node or interface the topology lacks (usage error)', async () => {
    const model = await loadTopology(topo('two-host.yaml'));
    expect(() => parseCaptureAt(model, 'z')).toThrow(UsageError);
    expect(() => parseCaptureAt(model, 'z')).toThrow(/no node "z".*have: a, b/);
    expect(() => parseCaptureAt(model, 'a:eth9')).toThrow(/no interface "eth9".*eth1, eth2/);
    expect(() => parseCaptureAt(model, 'a:eth1:x')).toThrow(/NODE or NODE:IFACE/);
  });

  it('the CLI: a pcap beside the run; exit 2 without --sim or with a bad --capture-at, and no file', async () => {
    const file = join(dir, 'run.pcap');
    const ok = await simCli('--time', '300ms', '--json', '--capture', file, '--capture-at', 'b:eth1');
    expect(ok.code, ok.err).toBe(0);
    const recs = records(new Uint8Array(readFileSync(file)));
    expect(recs.length).toBeGreaterThan(10);
    expect(new Set(recs.flatMap((r) => [r.src, r.dst]))).toEqual(new Set(['10.0.1.1', '10.0.1.2']));

    const bad = join(dir, 'bad.pcap');
    const noSim = await runCli(['run', 'a', 'b', '--capture', bad]);
    expect(noSim.code).toBe(2);
    expect(noSim.err).toMatch(/--capture goes with --sim/);
    const badAt = await simCli('--capture', bad, '--capture-at', 'q');
    expect(badAt.code).toBe(2);
    expect(badAt.err).toMatch(/no node "q"/);
    const atOnly = await simCli('--capture-at', 'a');
    expect(atOnly.code).toBe(2);
    expect(existsSync(bad)).toBe(false);
  });
});
