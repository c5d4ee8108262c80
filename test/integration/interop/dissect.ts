/**
 * Capture on the links (dumpcap) and dissection with tshark's MPTCP analysis, summed up into what
 * the interop checks need. No vitest import: scripts can use it too.
 */
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { idsnOf, tokenOf } from '../../../stack/wire/crypto';
import { opaquePayload } from '../../helpers/tshark';

// ---------------------------------------------------------------------------------------------
// Capture and dissection

export interface Capture {
  file: string;
  stop(): Promise<void>;
  /** Packets the kernel or dumpcap dropped, summed over the interfaces (known after stop). */
  dropped(): number;
  /** dumpcap's per-interface statistics lines. */
  stats(): string;
}

/** Sums dumpcap's "Packets received/dropped on interface 'x': R/D" lines. */
export function capturedDrops(stderr: string): number {
  let n = 0;
  for (const m of stderr.matchAll(/received\/dropped on interface [^:]*: \d+\/(\d+)/g)) n += Number(m[1]);
  return n;
}

export async function startCapture(ns: string, ifaces: string[], dir: string): Promise<Capture> {
  const base = join(dir, `cap-${randomBytes(3).toString('hex')}`);
  const file = `${base}.pcapng`;
  // One dumpcap per interface: dumpcap's multi-interface mode queues packets between threads and
  // drops them on a loaded machine; single-interface captures do not. mergecap then interleaves
  // them in time order.
  const parts = ifaces.map((i, k) => ({ iface: i, file: `${base}-${k}.pcapng`, err: '' }));
  const procs = parts.map((p) =>
    spawn(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'dumpcap',
        '-q',
        '-n',
        // Headers only (Ethernet + IPv6 + TCP with 40 option bytes = 134): far less to copy;
        // tshark needs no payload (lengths come from the IP header).
        '-s',
        '160',
        '-B',
        '64',
        '-i',
        p.iface,
        '-w',
        p.file,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    ),
  );
  await Promise.all(
    procs.map(
      (proc, k) =>
        new Promise<void>((resolve, reject) => {
          const part = parts[k]!;
          const t = setTimeout(() => reject(new Error(`dumpcap did not start: ${part.err}`)), 10_000);
          proc.stderr!.on('data', (d) => {
            part.err += d;
            if (/File:|Capturing on/.test(part.err)) {
              clearTimeout(t);
              resolve();
            }
          });
          proc.on('exit', (c) => {
            clearTimeout(t);
            reject(new Error(`dumpcap exited ${c}: ${part.err}`));
          });
        }),
    ),
  );
  let stopped: Promise<void> | undefined;
  const allErr = () => parts.map((p) => p.err).join('\n');
  return {
    file,
    dropped: () => capturedDrops(allErr()),
    stats: () => (allErr().match(/received\/dropped on interface.*$/gm) ?? []).join('; '),
    stop: () => {
      stopped ??= (async () => {
        // Let the last packets reach the files.
        await new Promise((r) => setTimeout(r, 300));
        await Promise.all(
          procs.map(
            (proc) =>
              new Promise<void>((resolve) => {
                if (proc.exitCode !== null) return resolve();
                proc.once('exit', () => resolve());
                proc.kill('SIGINT');
              }),
          ),
        );
        execFileSync('mergecap', ['-w', file, ...parts.map((p) => p.file)], { stdio: 'ignore' });
      })();
      return stopped;
    },
  };
}

export function tmpDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'mplab-interop-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Dissection {
  frames: number;
  malformed: number;
  /** Expert infos of severity error (other than malformed). */
  errors: string[];
  /** RSTs on the wire sent from our stack's addresses. */
  rstsFromOurs: number;
  /** MPTCP connections (mptcp.stream values) and the TCP streams of each. */
  mptcpStreams: Map<number, Set<number>>;
  /** TCP streams that carried payload. */
  streamsWithData: Set<number>;
  /** MP_JOIN SYNs whose receiver token matched no MP_CAPABLE key's token (tshark's expected token). */
  tokenMismatches: number;
  echoedKeyMismatches: number;
  joinSyns: { fromOurs: number; fromKernel: number };
  /** Destination address of every MP_JOIN SYN, by who sent it. */
  joinDst: { fromOurs: string[]; fromKernel: string[] };
  /** Who sent the first DATA_FIN on the wire. */
  firstDataFin: 'fromOurs' | 'fromKernel' | undefined;
  addAddr: { fromOurs: number; fromKernel: number };
  /** When (ms into the capture) each side first announced an address, and first echoed one. */
  addAddrFirstMs: { fromOurs?: number; fromKernel?: number };
  addAddrEchoFirstMs: { fromOurs?: number; fromKernel?: number };
  /**
   * Pure ACKs (no payload, no SYN/FIN) each side sent after the other's first ADD_ADDR and before
   * its own first echo of it that carried no ADD_ADDR at all: chances to echo that were missed (a
   * pure ACK carrying the side's own announcement had no room for a second ADD_ADDR).
   */
  addAddrEchoMissedAcks: { fromOurs: number; fromKernel: number };
  /** Data-level bytes covered per direction (union of DSS mappings, relative DSN), and holes. */
  dataCoverage: {
    fromOurs: { covered: number; gaps: number };
    fromKernel: { covered: number; gaps: number };
  };
  /** First mapped data-level byte relative to the sender's IDSN (1 when nothing is missing ahead). */
  dataStart: { fromOurs?: bigint; fromKernel?: bigint };
  /** The first few holes, relative to the sender's IDSN. */
  gapList: string[];
  /** DSS options carrying a mapping, and those of them with a checksum, per sender. */
  dssMappings: { fromOurs: number; fromKernel: number };
  dssChecksums: { fromOurs: number; fromKernel: number };
  infiniteMappings: number;
  dataFin: { fromOurs: number; fromKernel: number };
  /** TCP connections without MPTCP options (fallback): streams with payload and no mptcp.stream. */
  plainStreams: Set<number>;
}

const FIELDS = [
  'frame.number',
  'frame.time_relative',
  'ip.src',
  'ipv6.src',
  'ip.dst',
  'ipv6.dst',
  'tcp.stream',
  'tcp.flags',
  'tcp.len',
  'mptcp.stream',
  'tcp.options.mptcp.subtype',
  'tcp.options.mptcp.recvtok',
  'tcp.options.mptcp.sendkey',
  'tcp.options.mptcp.rawdataseqno',
  'tcp.options.mptcp.datalvllen',
  'tcp.options.mptcp.checksum',
  'tcp.options.mptcp.datafin.flag',
  'tcp.options.mptcp.echo',
  'mptcp.dss.infinite_mapping',
  'mptcp.connection.echoed_key_mismatch',
  'tcp.option_kind',
  'tcp.option_len',
  'tcp.options.mptcp.dataack8.flag',
  'tcp.options.mptcp.dataackpresent.flag',
  'tcp.options.mptcp.dseqn8.flag',
  'tcp.options.mptcp.dseqnpresent.flag',
  '_ws.malformed',
  '_ws.expert.severity',
  '_ws.expert.message',
];

/** Dissects a capture with tshark's MPTCP analysis and sums up what the interop checks need. */
export function dissect(file: string, ours: string[]): Dissection {
  // dumpcap writes each interface's packets in blocks: put them back in time order first, or a
  // subflow's SYN/ACK on one link may come before its SYN on the other.
  const sorted = `${file}.sorted.pcapng`;
  execFileSync('reordercap', [file, sorted], { stdio: 'ignore' });
  const out = execFileSync(
    'tshark',
    [
      '-r',
      sorted,
      ...opaquePayload(),
      '-n',
      '-o',
      'mptcp.analyze_mptcp:TRUE',
      '-o',
      'mptcp.analyze_mappings:TRUE',
      '-o',
      'mptcp.relative_sequence_numbers:FALSE',
      '-Y',
      'tcp',
      '-T',
      'fields',
      '-E',
      'separator=\t',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=|',
      ...FIELDS.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', maxBuffer: 512 << 20, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const d: Dissection = {
    frames: 0,
    malformed: 0,
    errors: [],
    rstsFromOurs: 0,
    mptcpStreams: new Map(),
    streamsWithData: new Set(),
    tokenMismatches: 0,
    echoedKeyMismatches: 0,
    joinSyns: { fromOurs: 0, fromKernel: 0 },
    joinDst: { fromOurs: [], fromKernel: [] },
    firstDataFin: undefined,
    addAddr: { fromOurs: 0, fromKernel: 0 },
    addAddrFirstMs: {},
    addAddrEchoFirstMs: {},
    addAddrEchoMissedAcks: { fromOurs: 0, fromKernel: 0 },
    dataCoverage: { fromOurs: { covered: 0, gaps: 0 }, fromKernel: { covered: 0, gaps: 0 } },
    dataStart: {},
    gapList: [],
    dssMappings: { fromOurs: 0, fromKernel: 0 },
    dssChecksums: { fromOurs: 0, fromKernel: 0 },
    infiniteMappings: 0,
    dataFin: { fromOurs: 0, fromKernel: 0 },
    plainStreams: new Set(),
  };
  const ranges: { fromOurs: [bigint, bigint][]; fromKernel: [bigint, bigint][] } = {
    fromOurs: [],
    fromKernel: [],
  };
  const oursSet = new Set(ours);
  const mptcpTcpStreams = new Set<number>();
  const keys: { fromOurs?: bigint; fromKernel?: bigint } = {};
  const capableData = { fromOurs: 0, fromKernel: 0 };
  const joinTokens: number[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const c = line.split('\t');
    const get = (f: string) => c[FIELDS.indexOf(f)] ?? '';
    d.frames++;
    const src = get('ip.src') || get('ipv6.src');
    const fromOurs = oursSet.has(src);
    const dir = fromOurs ? 'fromOurs' : 'fromKernel';
    const stream = Number(get('tcp.stream'));
    const flags = Number.parseInt(get('tcp.flags'), 16);
    if (get('_ws.malformed')) d.malformed++;
    const sev = get('_ws.expert.severity').split('|');
    const msg = get('_ws.expert.message').split('|');
    for (let i = 0; i < sev.length; i++) {
      // 8388608 = PI_ERROR
      if (Number(sev[i]) >= 8388608)
        d.errors.push(
          `frame ${get('frame.number')} ${src} > ${get('ip.dst') || get('ipv6.dst')} flags ${get('tcp.flags')} len ${get('tcp.len')} mptcp ${get('tcp.options.mptcp.subtype')} options ${get('tcp.option_kind')}: ${msg[i] ?? ''}`,
        );
    }
    if (fromOurs && (flags & 0x04) !== 0) d.rstsFromOurs++;
    const ms = get('mptcp.stream');
    if (ms !== '') {
      const id = Number(ms.split('|')[0]);
      let set = d.mptcpStreams.get(id);
      if (!set) d.mptcpStreams.set(id, (set = new Set()));
      set.add(stream);
      mptcpTcpStreams.add(stream);
    }
    if (Number(get('tcp.len')) > 0) d.streamsWithData.add(stream);
    const subtypes = get('tcp.options.mptcp.subtype').split('|').filter(Boolean).map(Number);
    const isSyn = (flags & 0x02) !== 0;
    const sendkey = get('tcp.options.mptcp.sendkey').split('|').filter(Boolean);
    if (subtypes.includes(0) && sendkey[0] && keys[dir] === undefined) keys[dir] = BigInt(sendkey[0]);
    if (isSyn && (flags & 0x10) === 0 && subtypes.includes(1)) {
      d.joinSyns[dir]++;
      d.joinDst[dir].push(get('ip.dst') || get('ipv6.dst'));
      const tok = get('tcp.options.mptcp.recvtok');
      if (tok) joinTokens.push(Number(tok));
    }
    const echoes = get('tcp.options.mptcp.echo').split('|').filter(Boolean);
    {
      const other = fromOurs ? 'fromKernel' : 'fromOurs';
      const pureAck = Number(get('tcp.len')) === 0 && (flags & 0x07) === 0;
      if (
        pureAck &&
        d.addAddrFirstMs[other] !== undefined &&
        d.addAddrEchoFirstMs[dir] === undefined &&
        !subtypes.includes(3)
      )
        d.addAddrEchoMissedAcks[dir]++;
    }
    let addAddrIndex = 0;
    for (const st of subtypes) {
      if (st !== 3) continue;
      const t = Number(get('frame.time_relative')) * 1000;
      if (echoes[addAddrIndex] !== '1') {
        d.addAddr[dir]++;
        d.addAddrFirstMs[dir] ??= t;
      } else d.addAddrEchoFirstMs[dir] ??= t;
      addAddrIndex++;
    }
    if (get('mptcp.connection.echoed_key_mismatch')) d.echoedKeyMismatches++;
    if (get('mptcp.dss.infinite_mapping')) d.infiniteMappings++;
    // DSS checksums by option length (tshark 4.0 shows the field only in MP_CAPABLE): a DSS with a
    // mapping is 4 + data ACK (4|8) + DSN (4|8) + SSN 4 + length 2, and + 2 with a checksum.
    {
      const kinds = get('tcp.option_kind').split('|');
      const lens = get('tcp.option_len').split('|');
      const a8 = get('tcp.options.mptcp.dataack8.flag').split('|');
      const aP = get('tcp.options.mptcp.dataackpresent.flag').split('|');
      const m8 = get('tcp.options.mptcp.dseqn8.flag').split('|');
      const mP = get('tcp.options.mptcp.dseqnpresent.flag').split('|');
      let mp = 0;
      let dss = 0;
      // tcp.option_len has no entry for NOP/EOL (kinds 1, 0).
      let li = 0;
      for (const k of kinds) {
        if (k === '0' || k === '1' || k === '') continue;
        const len = Number(lens[li++]);
        if (k !== '30') continue;
        const st = subtypes[mp++];
        if (st !== 2) continue;
        const j = dss++;
        if (mP[j] !== '1') continue;
        const base = 4 + (aP[j] === '1' ? (a8[j] === '1' ? 8 : 4) : 0) + (m8[j] === '1' ? 8 : 4) + 6;
        d.dssMappings[dir]++;
        if (len === base + 2) d.dssChecksums[dir]++;
      }
    }
    if (get('tcp.options.mptcp.datafin.flag').split('|').includes('1')) {
      d.dataFin[dir]++;
      d.firstDataFin ??= dir;
    }
    const dsns = get('tcp.options.mptcp.rawdataseqno').split('|').filter(Boolean);
    const lens = get('tcp.options.mptcp.datalvllen').split('|').filter(Boolean);
    if (!isSyn && subtypes.includes(0) && lens.length > dsns.length) {
      // MP_CAPABLE carrying data (RFC 8684 3.1): its mapping starts at IDSN + 1, without a DSN field.
      capableData[dir] = Number(lens[0]);
      lens.shift();
    }
    for (let i = 0; i < dsns.length && i < lens.length; i++) {
      const start = BigInt(dsns[i]!);
      const len = BigInt(lens[i]!);
      if (len > 0n) ranges[dir].push([start, start + len]);
    }
  }
  for (const s of d.streamsWithData) if (!mptcpTcpStreams.has(s)) d.plainStreams.add(s);
  const tokens = new Set<number>();
  for (const k of [keys.fromOurs, keys.fromKernel]) if (k !== undefined) tokens.add(tokenOf(k));
  for (const t of joinTokens) if (!tokens.has(t)) d.tokenMismatches++;
  for (const dir of ['fromOurs', 'fromKernel'] as const) {
    const key = keys[dir];
    const r = ranges[dir];
    if (key !== undefined) {
      const idsn = idsnOf(key);
      // 32-bit DSNs (the lower half; RFC 8684 3.3.1) are widened against the IDSN.
      const widen = (x: bigint) => (x < 1n << 32n ? (idsn & ~0xffffffffn) | x : x);
      for (const m of r) {
        const len = m[1] - m[0];
        m[0] = widen(m[0]);
        m[1] = m[0] + len;
      }
      if (capableData[dir] > 0) r.push([idsn + 1n, idsn + 1n + BigInt(capableData[dir])]);
      let first: bigint | undefined;
      for (const m of r) if (first === undefined || m[0] < first) first = m[0];
      d.dataStart[dir] = first === undefined ? undefined : first - idsn;
    }
    r.sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0));
    let covered = 0n;
    let gaps = 0;
    const base = keys[dir] !== undefined ? idsnOf(keys[dir]!) : 0n;
    let end: bigint | undefined;
    for (const [s, e] of r) {
      if (end === undefined) {
        end = e;
        covered = e - s;
        continue;
      }
      if (s > end) {
        gaps++;
        if (d.gapList.length < 8) d.gapList.push(`${dir} ${end - base}..${s - base}`);
        covered += e - s;
        end = e;
      } else if (e > end) {
        covered += e - end;
        end = e;
      }
    }
    d.dataCoverage[dir] = { covered: Number(covered), gaps };
  }
  return d;
}
