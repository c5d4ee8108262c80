/**
 * The interoperability matrix: our stack (TUN phy, in this process) against the Linux kernel's
 * MPTCP (python3 IPPROTO_MPTCP sockets in the other namespace). Each case moves a few MB, checks
 * SHA-256 end to end both ways (each receiver sends its digest back), captures both links and
 * dissects the capture with tshark's MPTCP analysis: nothing malformed, no expert error, every
 * MP_JOIN token derived from a key seen in the handshake, no data-level gap, no RST from our
 * addresses that our stack did not send (the kernel never answers for the stack's addresses).
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { KnobValue } from '../../../stack/sysctl';
import { caps } from '../../helpers/caps';
import { netnsScope, tag } from '../../helpers/netns';
import {
  type Dissection,
  dissect,
  hasMptcpPython,
  type KernelResult,
  kernelApp,
  kernelSetup,
  kernelVersion,
  linkDown,
  makePair,
  type OurStack,
  ourApp,
  type Pair,
  randomPayload,
  shape,
  startCapture,
  startOurStack,
  type Transfer,
  tmpDir,
} from './harness';

netnsScope();
const tmp = tmpDir();
afterAll(() => {
  if (!process.env.MPLAB_KEEP_CAPTURES) tmp.remove();
});

type Flow =
  /** our client sends to a kernel server */
  | 'ours-up'
  /** our client receives from a kernel server */
  | 'ours-down'
  /** a kernel client sends to our server */
  | 'kernel-up'
  /** a kernel client receives from our server */
  | 'kernel-down';

interface CaseSpec {
  flow: Flow;
  bytes: number;
  v6?: boolean;
  links?: number;
  kernelSysctls?: string[];
  kernelMptcp: (p: Pair) => string[];
  knobs?: Record<string, KnobValue>;
  follow?: boolean;
  /** Kernel socket protocol: 262 (MPTCP, default) or 6 (plain TCP). */
  proto?: number;
  shape?: string;
  /** Our app gives up after this long (ms). */
  timeoutMs?: number;
  /** Our client writes and ends before its connection is established. */
  early?: boolean;
  /**
   * Run `ms` after the connection has two established subflows (a fixed time from connect would,
   * on a loaded machine, take a link down before the join exists and test nothing but a stall).
   */
  event?: { ms: number; run: (p: Pair) => void };
}

interface CaseRun {
  pair: Pair;
  t: Transfer;
  kr: KernelResult;
  d: Dissection;
  s: OurStack;
  sha: string;
  ms: number;
  /** When the event ran, in ms from the start (undefined: it never ran). */
  eventMs?: number;
  coreDropped: number;
  /** Packets the capture itself lost (a loaded machine): a gap in the capture is then not the stack's. */
  captureDrops: number;
  captureStats: string;
}

const PORT = 5201;
const results: { name: string; ok: boolean; subflows: number; detail: string }[] = [];

async function runCase(spec: CaseSpec): Promise<CaseRun> {
  const pair = makePair(tag(), { links: spec.links ?? 2, v6: spec.v6 });
  kernelSetup(pair, spec.kernelSysctls ?? [], spec.kernelMptcp(pair));
  if (spec.shape) shape(pair, spec.shape);
  const cap = await startCapture(pair.k, pair.kIf, tmp.dir);
  const s = await startOurStack(pair, { knobs: spec.knobs, follow: spec.follow });
  const any = pair.v6 ? '::' : '0.0.0.0';
  const { data, sha256 } = randomPayload(spec.bytes);
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  let eventMs: number | undefined;
  const arm = (conn: number) => {
    const event = spec.event;
    if (!event) return;
    const fire = () => {
      eventMs = performance.now() - t0;
      event.run(pair);
    };
    const joined = () =>
      (s.core.connStats().find((c) => c.conn === conn)?.subflows ?? []).filter((x) => /ESTAB/i.test(x.state))
        .length >= 2;
    const poll = () => {
      timer = joined() ? setTimeout(fire, event.ms) : setTimeout(poll, 10);
    };
    poll();
  };
  try {
    let t: Transfer;
    let kr: KernelResult;
    const proto = spec.proto ?? 262;
    if (spec.flow === 'ours-up' || spec.flow === 'ours-down') {
      const up = spec.flow === 'ours-up';
      const k = kernelApp(pair, 'server', any, PORT, up ? 'sink' : 'source', spec.bytes, proto);
      await k.ready;
      const conn = s.core.connect({ host: pair.b[0]!, port: PORT, localAddress: pair.a[0] }, s.driver.now());
      arm(conn);
      const tp = up
        ? ourApp(s, conn, { data, early: spec.early, timeoutMs: spec.timeoutMs })
        : ourApp(s, conn, { endWhenSent: false, replyDigest: true });
      t = await tp;
      if (t.error) k.proc.kill();
      kr = await k.result.catch((e: Error) => {
        throw new Error(`${t.error ?? ''} / kernel: ${e.message}`);
      });
    } else {
      const up = spec.flow === 'kernel-up';
      s.core.listen(PORT);
      const accepted = new Promise<Transfer>((resolve) => {
        s.onAccept = (conn) => {
          arm(conn);
          resolve(
            up
              ? ourApp(s, conn, { endWhenSent: false, replyDigest: true })
              : ourApp(s, conn, { data, early: true }),
          );
        };
      });
      const k = kernelApp(pair, 'client', pair.a[0]!, PORT, up ? 'source' : 'sink', spec.bytes, proto);
      [t, kr] = await Promise.all([accepted, k.result]);
    }
    const ms = performance.now() - t0;
    // Let the last ACKs and FINs reach the capture.
    await new Promise((r) => setTimeout(r, 300));
    await cap.stop();
    const d = dissect(cap.file, pair.a);
    return {
      pair,
      t,
      kr,
      d,
      s,
      sha: sha256,
      ms,
      eventMs,
      coreDropped: s.dropped(),
      captureDrops: cap.dropped(),
      captureStats: cap.stats(),
    };
  } finally {
    if (timer) clearTimeout(timer);
    await s.close();
    await cap.stop();
  }
}

/** What every case checks on the wire and end to end. */
function checkCommon(r: CaseRun, name: string, opts: { mptcp: boolean; minSubflows: number }): void {
  const { t, kr, d, s } = r;
  const up = kr.reply === undefined; // the kernel was the sink
  // Integrity both ways: what the receiver hashed equals what the sender hashed, and the digest
  // the receiver sent back arrived intact.
  expect(t.error, 'our connection ended abnormally').toBeUndefined();
  if (up) {
    expect(kr.sha256).toBe(r.sha);
    expect(t.reply).toBe(r.sha);
  } else {
    expect(t.sha256).toBe(kr.sha256);
    expect(kr.reply).toBe(kr.sha256);
  }
  expect(d.frames).toBeGreaterThan(10);
  // A capture that lost packets cannot prove the absence of gaps: fail with that reason first.
  expect(r.captureDrops, `packets the capture dropped (machine overloaded?): ${r.captureStats}`).toBe(0);
  expect(d.malformed, 'malformed packets').toBe(0);
  expect(d.errors, 'tshark expert errors').toEqual([]);
  // Any RST from our addresses on the wire was sent by our stack, never by the node's kernel.
  expect(d.rstsFromOurs).toBeLessThanOrEqual(s.rstsSent);
  expect(r.coreDropped, 'segments our core dropped (bad checksum, undecodable)').toBe(0);
  if (opts.mptcp) {
    expect(t.mode).toBe('mptcp');
    expect(d.mptcpStreams.size, 'one MPTCP connection').toBe(1);
    const streams = [...d.mptcpStreams.values()][0]!;
    const withData = [...streams].filter((x) => d.streamsWithData.has(x));
    expect(withData.length, 'subflows that carried data').toBeGreaterThanOrEqual(opts.minSubflows);
    expect(d.tokenMismatches, 'MP_JOIN tokens not derived from a handshake key').toBe(0);
    expect(d.echoedKeyMismatches, 'echoed key mismatches').toBe(0);
    expect(d.infiniteMappings, 'infinite mappings').toBe(0);
    // No data-level gap: the DSS mappings of the bulk direction cover every byte from IDSN + 1.
    const bulk = r.t.received > 100 ? 'fromKernel' : 'fromOurs';
    expect(d.dataStart[bulk], 'first mapped DSN - IDSN').toBe(1n);
    expect(d.dataCoverage[bulk].gaps, `data-level gaps ${d.gapList.join(', ')}`).toBe(0);
    expect(d.dataCoverage[bulk].covered).toBeGreaterThanOrEqual(up ? kr.bytes : t.received);
    expect(kr.info.subflows, 'subflows the kernel counted (MPTCP_INFO)').toBeGreaterThanOrEqual(
      opts.minSubflows - 1,
    );
  }
  results.push({
    name,
    ok: true,
    subflows: opts.mptcp ? [...[...d.mptcpStreams.values()][0]!].length : 1,
    detail: `${(Math.max(kr.bytes, t.received) / 1e6).toFixed(1)} MB in ${Math.round(r.ms)} ms; joins ours/kernel ${d.joinSyns.fromOurs}/${d.joinSyns.fromKernel}; ADD_ADDR ours/kernel ${d.addAddr.fromOurs}/${d.addAddr.fromKernel}; first DATA_FIN ${d.firstDataFin ?? '-'}`,
  });
}

const MB = 1 << 20;
const ready = caps.netns && caps.tun && caps.kernelMptcp && hasMptcpPython && caps.tshark;

describe.skipIf(!ready)(`interop with the Linux kernel's MPTCP (${ready ? kernelVersion() : ''})`, () => {
  afterAll(() => {
    if (results.length === 0) return;
    const rows = results.map(
      (r) => `| ${r.name} | ${r.ok ? 'pass' : 'FAIL'} | ${r.subflows} | ${r.detail} |`,
    );
    console.log(['| case | result | subflows | detail |', '| --- | --- | --- | --- |', ...rows].join('\n'));
  });

  it('our client -> kernel server; kernel ADD_ADDR used; our MP_JOINs; our DATA_FIN first', async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 3 * MB,
      early: true,
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
    });
    checkCommon(r, 'our client → kernel server, kernel ADD_ADDR, our MP_JOIN, our DATA_FIN', {
      mptcp: true,
      minSubflows: 2,
    });
    expect(r.d.addAddr.fromKernel).toBeGreaterThanOrEqual(1);
    // The announced address was used: a join from us towards it.
    expect(r.d.joinDst.fromOurs).toContain(r.pair.b[1]);
    expect(r.d.firstDataFin).toBe('fromOurs');
    expect(r.kr.info.add_addr_signal).toBeGreaterThanOrEqual(1);
    // Without the checksum negotiated, no mapping carries one (the length-based count is meaningful).
    expect(r.d.dssMappings.fromOurs).toBeGreaterThan(100);
    expect(r.d.dssChecksums.fromOurs, 'our DSS with a checksum').toBe(0);
  }, 60_000);

  // Found by this suite: during a bulk upload every data segment's option space is full (timestamps
  // + DSS), and the echo used to wait (100-300 ms, the kernel re-sending its ADD_ADDR) behind the
  // MP_CAPABLE our bare ACKs repeat until the kernel's first DSS (the kernel's ADD_ADDR ACK carries
  // none). Now it leaves on the first pure ACK with room, as Linux does (RFC 8684 3.4.1). That is
  // asserted on the wire, segment by segment: how many milliseconds it takes depends on how busy
  // the machine is, so the delay and the kernel's count of announcements are recorded, not bounded.
  it("the kernel's ADD_ADDR is echoed during an upload, on our first pure ACK with room", async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 3 * MB,
      shape: '100mbit',
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
    });
    checkCommon(r, 'kernel ADD_ADDR echoed during an upload (100 Mbit/s links)', {
      mptcp: true,
      minSubflows: 2,
    });
    const sent = r.d.addAddrFirstMs.fromKernel;
    const echoed = r.d.addAddrEchoFirstMs.fromOurs;
    expect(sent).toBeDefined();
    expect(echoed).toBeDefined();
    const delay = echoed! - sent!;
    expect(delay).toBeGreaterThanOrEqual(0);
    expect(r.d.addAddrEchoMissedAcks.fromOurs, 'our pure ACKs with room that did not echo').toBe(0);
    results[results.length - 1]!.detail +=
      `; echo after ${Math.round(delay)} ms, kernel sent ADD_ADDR ${r.d.addAddr.fromKernel}x`;
  }, 60_000);

  it('kernel client -> our server; kernel MP_JOIN; kernel DATA_FIN first', async () => {
    const r = await runCase({
      flow: 'kernel-up',
      bytes: 3 * MB,
      knobs: { 'net.mptcp.mptcp_path_manager': 'default' },
      kernelMptcp: (p) => [
        'limits set subflows 4 add_addr_accepted 0',
        `endpoint add ${p.b[1]} dev ${p.kIf[1]} subflow`,
      ],
    });
    checkCommon(r, 'kernel client → our server, kernel MP_JOIN, kernel DATA_FIN', {
      mptcp: true,
      minSubflows: 2,
    });
    expect(r.d.joinSyns.fromKernel).toBeGreaterThanOrEqual(1);
    expect(r.d.firstDataFin).toBe('fromKernel');
  }, 60_000);

  it('our server ADD_ADDR used by the kernel client; download; our DATA_FIN first', async () => {
    const r = await runCase({
      flow: 'kernel-down',
      bytes: 3 * MB,
      kernelMptcp: () => ['limits set subflows 4 add_addr_accepted 4'],
    });
    checkCommon(r, 'kernel client ← our server, our ADD_ADDR used by the kernel, our DATA_FIN', {
      mptcp: true,
      minSubflows: 2,
    });
    expect(r.d.addAddr.fromOurs).toBeGreaterThanOrEqual(1);
    expect(r.d.joinDst.fromKernel).toContain(r.pair.a[1]);
    expect(r.kr.info.add_addr_accepted).toBeGreaterThanOrEqual(1);
    expect(r.d.firstDataFin).toBe('fromOurs');
  }, 60_000);

  it('kernel server -> our client (download); kernel DATA_FIN first', async () => {
    const r = await runCase({
      flow: 'ours-down',
      bytes: 3 * MB,
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
    });
    checkCommon(r, 'our client ← kernel server, kernel DATA_FIN', { mptcp: true, minSubflows: 2 });
    expect(r.d.firstDataFin).toBe('fromKernel');
  }, 60_000);

  it('kernel MPTCP disabled: clean fallback to TCP', async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 2 * MB,
      kernelSysctls: ['net.mptcp.enabled=0'],
      // With MPTCP disabled the kernel refuses IPPROTO_MPTCP sockets (ENOPROTOOPT): the application
      // opens a plain TCP socket, which ignores our MP_CAPABLE.
      proto: 6,
      kernelMptcp: () => [],
    });
    checkCommon(r, 'kernel MPTCP disabled (net.mptcp.enabled=0): fallback to TCP', {
      mptcp: false,
      minSubflows: 1,
    });
    expect(r.t.mode).toBe('tcp');
    expect(r.d.plainStreams.size).toBe(1);
    expect(r.d.joinSyns.fromOurs + r.d.joinSyns.fromKernel).toBe(0);
  }, 60_000);

  // Found by this suite (the FIN never left: fixed in stack/mptcp, 62322f0); kept as a regression.
  it('write + end() before the handshake, then fallback: the FIN still leaves (regression)', async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 256 * 1024,
      links: 1,
      early: true,
      timeoutMs: 4000,
      kernelSysctls: ['net.mptcp.enabled=0'],
      proto: 6,
      kernelMptcp: () => [],
    });
    checkCommon(r, 'write + end() before the handshake, then fallback to TCP (regression)', {
      mptcp: false,
      minSubflows: 1,
    });
    expect(r.t.mode).toBe('tcp');
  }, 60_000);

  it('DSS checksum enabled on the kernel side', async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 3 * MB,
      kernelSysctls: ['net.mptcp.checksum_enabled=1'],
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
    });
    checkCommon(r, 'DSS checksum on the kernel side (net.mptcp.checksum_enabled=1)', {
      mptcp: true,
      minSubflows: 2,
    });
    expect(r.kr.info.csum).toBe(1);
    // Every mapping carries a checksum, ours as well as the kernel's.
    expect(r.d.dssMappings.fromOurs).toBeGreaterThan(100);
    expect(r.d.dssChecksums.fromOurs).toBe(r.d.dssMappings.fromOurs);
    expect(r.d.dssChecksums.fromKernel).toBe(r.d.dssMappings.fromKernel);
  }, 60_000);

  it('a link goes down mid-transfer (our client uploading)', async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 4 * MB,
      follow: true,
      shape: '40mbit',
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
      event: { ms: 200, run: (p) => linkDown(p, 0) },
    });
    checkCommon(r, 'link 1 down mid-transfer (40 Mbit/s links)', { mptcp: true, minSubflows: 2 });
    // The link went down while data was still moving, well before the transfer ended.
    expect(r.eventMs, 'the link-down event ran').toBeDefined();
    expect(r.ms - (r.eventMs ?? r.ms)).toBeGreaterThan(150);
  }, 60_000);

  it('a link goes down mid-transfer (kernel server sending to our client)', async () => {
    const r = await runCase({
      flow: 'ours-down',
      bytes: 4 * MB,
      follow: true,
      shape: '40mbit',
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
      event: { ms: 200, run: (p) => linkDown(p, 0) },
    });
    checkCommon(r, 'link 1 down mid-download (kernel sending, 40 Mbit/s links)', {
      mptcp: true,
      minSubflows: 2,
    });
    expect(r.eventMs, 'the link-down event ran').toBeDefined();
    expect(r.ms - (r.eventMs ?? r.ms)).toBeGreaterThan(150);
  }, 60_000);

  it('ndiffports against the kernel: several subflows over one address pair', async () => {
    const r = await runCase({
      flow: 'ours-up',
      bytes: 3 * MB,
      links: 1,
      knobs: { 'net.mptcp.mptcp_path_manager': 'ndiffports', 'net.mptcp.mptcp_ndiffports': 3 },
      kernelMptcp: () => ['limits set subflows 4 add_addr_accepted 0'],
    });
    checkCommon(r, 'ndiffports=3 against the kernel (one address pair)', { mptcp: true, minSubflows: 3 });
    expect(r.d.joinSyns.fromOurs).toBeGreaterThanOrEqual(2);
  }, 60_000);

  it('IPv6: our client -> kernel server with a kernel ADD_ADDR', async () => {
    const r = await runCase({
      flow: 'ours-up',
      v6: true,
      bytes: 3 * MB,
      kernelMptcp: (p) => ['limits set subflows 4 add_addr_accepted 4', `endpoint add ${p.b[1]} signal`],
    });
    checkCommon(r, 'IPv6: our client → kernel server, kernel ADD_ADDR', { mptcp: true, minSubflows: 2 });
    expect(r.d.joinDst.fromOurs).toContain(r.pair.b[1]);
  }, 60_000);
});
