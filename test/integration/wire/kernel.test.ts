/**
 * Cross-check of the wire layer against the Linux kernel's MPTCP, an implementation nobody here
 * wrote: two namespaces, two links, the kernel's MPTCP with DSS checksums on, a Python client
 * sending 200 kB to a Python server over an MPTCP socket, the server announcing its second address
 * (ADD_ADDR) and the client joining it (MP_JOIN). We capture both links and, with our code only:
 *
 * - decode every TCP segment the kernel sent (no ParseError, no MPTCP option left unrecognized);
 * - verify every TCP checksum, and re-encode every segment byte for byte as the kernel laid it out;
 * - derive the kernel's token and IDSN from its keys, and recompute the HMACs it put in MP_JOIN
 *   (SYN/ACK and third ACK) and ADD_ADDR, and the DSS checksum of every data mapping.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AddAddr,
  addAddrHmac,
  decodeIpPacket,
  decodeSegment,
  type Dss,
  encodeSegment,
  idsnOf,
  joinAckHmac,
  joinSynAckHmac,
  type MpCapable,
  type MpJoinAck,
  type MpJoinSyn,
  type MpJoinSynAck,
  type MptcpOption,
  mptcpOptionLength,
  ParseError,
  RST,
  SYN,
  TCPRST_MIDDLEBOX_INTERFERENCE,
  type TcpSegment,
  tokenOf,
  verifyDssChecksum,
  verifyIPv4Checksum,
  verifySegmentChecksum,
} from '../../../stack/wire/index';
import { caps } from '../../helpers/caps';
import { createNetns, ipBatch, netnsScope, nsExec, tag } from '../../helpers/netns';

const hasPython = (() => {
  try {
    execFileSync('python3', ['-c', 'import socket; assert socket.IPPROTO_MPTCP == 262'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

// After the upload the server makes its path manager send MP_PRIO (endpoint to backup) and
// REMOVE_ADDR (endpoint deleted), replies, then aborts (linger 0): MP_FASTCLOSE and MP_TCPRST.
const serverScript = (v6: boolean) => `
import socket, hashlib, struct, subprocess, time
s = socket.socket(socket.${v6 ? 'AF_INET6' : 'AF_INET'}, socket.SOCK_STREAM, 262)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('${v6 ? '::' : '0.0.0.0'}', 5201)); s.listen(1)
print('ready', flush=True)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d)
subprocess.run(['ip', 'mptcp', 'endpoint', 'change', 'id', '5', 'backup'], check=True); time.sleep(0.2)
subprocess.run(['ip', 'mptcp', 'endpoint', 'delete', 'id', '5'], check=True); time.sleep(0.2)
c.sendall(h.hexdigest().encode()); time.sleep(0.2)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0)); c.close()
`;
const clientScript = (v6: boolean, addr: string) => `
import socket, time
s = socket.socket(socket.${v6 ? 'AF_INET6' : 'AF_INET'}, socket.SOCK_STREAM, 262)
s.connect(('${addr}', 5201))
time.sleep(0.3)  # let the ADD_ADDR and the join happen
for i in range(50):
    s.sendall(bytes([i]) * 4000); time.sleep(0.004)
s.shutdown(socket.SHUT_WR)
print(s.recv(100).decode())
time.sleep(0.6)  # the server aborts first
s.close()
`;
const BYTES = 50 * 4000;

interface Seen {
  frame: number;
  src: string;
  dst: string;
  raw: Uint8Array;
  seg: TcpSegment;
}

/** Classic pcap, Ethernet link type (what tshark -F pcap writes for veth captures). */
function readCapture(file: string): { segs: Seen[]; tcpErrors: string[] } {
  const b = new Uint8Array(readFileSync(file));
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  expect(v.getUint32(0, true)).toBe(0xa1b2c3d4);
  expect(v.getUint32(20, true)).toBe(1);
  const segs: Seen[] = [];
  const tcpErrors: string[] = [];
  let o = 24;
  let frame = 0;
  while (o + 16 <= b.length) {
    const incl = v.getUint32(o + 8, true);
    const data = b.subarray(o + 16, o + 16 + incl);
    o += 16 + incl;
    frame++;
    const ethertype = (data[12]! << 8) | data[13]!;
    if (ethertype !== 0x0800 && ethertype !== 0x86dd) continue; // ARP
    const ip = decodeIpPacket(data, 14);
    if (ip instanceof ParseError) {
      tcpErrors.push(`frame ${frame}: IP ${ip}`);
      continue;
    }
    if (ip.protocol !== 6) continue; // ICMPv6 neighbour discovery, MLD
    if (ip.header.version === 4)
      expect(verifyIPv4Checksum(data, 14), `frame ${frame} IP checksum`).toBe(true);
    const seg = decodeSegment(ip.payload);
    if (seg instanceof ParseError) {
      tcpErrors.push(`frame ${frame}: ${seg}`);
      continue;
    }
    segs.push({ frame, src: ip.header.src, dst: ip.header.dst, raw: ip.payload, seg });
  }
  return { segs, tcpErrors };
}

function mptcpOf(s: Seen): MptcpOption[] {
  return s.seg.options.flatMap((o) => (o.kind === 'mptcp' ? [o.mp] : []));
}

const families = [
  {
    name: 'IPv4',
    v6: false,
    csum: true,
    a1: '10.91.1.1',
    a2: '10.91.2.1',
    b1: '10.91.1.2',
    b2: '10.91.2.2',
    plen: 24,
  },
  {
    name: 'IPv6',
    v6: true,
    csum: true,
    a1: 'fd91:1::1',
    a2: 'fd91:2::1',
    b1: 'fd91:1::2',
    b2: 'fd91:2::2',
    plen: 64,
  },
  // Without DSS checksums the kernel pads its odd-length DSS options with NOPs: the layout differs.
  {
    name: 'IPv4 without DSS checksums',
    v6: false,
    csum: false,
    a1: '10.91.1.1',
    a2: '10.91.2.1',
    b1: '10.91.1.2',
    b2: '10.91.2.2',
    plen: 24,
  },
];

for (const f of families) {
  // ethtool: the capture must show segments as they go on the wire, not before the NIC's offloads
  describe.skipIf(!(caps.netns && caps.kernelMptcp && caps.tshark && caps.ethtool && hasPython))(
    `wire: what the Linux kernel MPTCP sends over ${f.name}, decoded and recomputed by our code`,
    () => {
      netnsScope();
      let dir = '';
      let segs: Seen[] = [];
      let tcpErrors: string[] = [];
      let digest = '';
      const procs: ChildProcess[] = [];

      beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), 'mplab-wirek-'));
        const t = tag();
        const A = createNetns('a', t);
        const B = createNetns('b', t);
        const [a1, a2, b1, b2] = [`w${t}a1`, `w${t}a2`, `w${t}b1`, `w${t}b2`];
        ipBatch(null, [
          `link add ${a1} netns ${A} type veth peer name ${b1} netns ${B}`,
          `link add ${a2} netns ${A} type veth peer name ${b2} netns ${B}`,
        ]);
        // nodad: IPv6 addresses are usable at once (duplicate address detection would delay them).
        const nodad = f.v6 ? ' nodad' : '';
        ipBatch(A, [
          `addr add ${f.a1}/${f.plen} dev ${a1}${nodad}`,
          `addr add ${f.a2}/${f.plen} dev ${a2}${nodad}`,
          `link set ${a1} up`,
          `link set ${a2} up`,
        ]);
        ipBatch(B, [
          `addr add ${f.b1}/${f.plen} dev ${b1}${nodad}`,
          `addr add ${f.b2}/${f.plen} dev ${b2}${nodad}`,
          `link set ${b1} up`,
          `link set ${b2} up`,
        ]);
        for (const [ns, ifs] of [
          [A, [a1, a2]],
          [B, [b1, b2]],
        ] as const) {
          // No checksum offload or segmentation: the capture shows the bytes as they go on the wire.
          for (const i of ifs)
            nsExec(ns, 'ethtool', ['-K', i, 'tx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
          nsExec(ns, 'sysctl', [
            '-qw',
            'net.mptcp.enabled=1',
            `net.mptcp.checksum_enabled=${f.csum ? 1 : 0}`,
          ]);
          ipBatch(ns, ['mptcp limits set subflows 2 add_addr_accepted 2']);
        }
        ipBatch(B, [`mptcp endpoint add ${f.b2} dev ${b2} id 5 signal`]);

        const pcapng = join(dir, 'k.pcapng');
        const dumpcap = spawn('ip', ['netns', 'exec', B, 'dumpcap', '-i', b1, '-i', b2, '-w', pcapng], {
          stdio: ['ignore', 'ignore', 'pipe'],
        });
        procs.push(dumpcap);
        await new Promise<void>((resolve, reject) => {
          let err = '';
          const timer = setTimeout(() => reject(new Error(`dumpcap did not start: ${err}`)), 20_000);
          dumpcap.stderr!.on('data', (c: Buffer) => {
            err += c.toString();
            if (err.includes('Capturing on')) {
              clearTimeout(timer);
              resolve();
            }
          });
          dumpcap.on('exit', (code) => reject(new Error(`dumpcap exited ${code}: ${err}`)));
        });
        const server = spawn('ip', ['netns', 'exec', B, 'python3', '-c', serverScript(f.v6)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        procs.push(server);
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('server did not start')), 20_000);
          server.stdout!.on('data', (c: Buffer) => {
            if (c.toString().includes('ready')) {
              clearTimeout(timer);
              resolve();
            }
          });
        });
        digest = nsExec(A, 'python3', ['-c', clientScript(f.v6, f.b1)], 60_000).trim();
        await new Promise<void>((resolve) => {
          if (server.exitCode !== null) resolve();
          else server.on('exit', () => resolve());
        });
        await new Promise((r) => setTimeout(r, 300)); // the last ACKs and FINs
        await new Promise<void>((resolve) => {
          dumpcap.on('exit', () => resolve());
          dumpcap.kill('SIGINT');
        });
        const pcap = join(dir, 'k.pcap');
        execFileSync('tshark', ['-r', pcapng, '-F', 'pcap', '-w', pcap], { stdio: 'ignore' });
        ({ segs, tcpErrors } = readCapture(pcap));
      });

      afterAll(() => {
        for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
        if (dir) rmSync(dir, { recursive: true, force: true });
      });

      it('the transfer happened over two subflows', () => {
        expect(digest).toMatch(/^[0-9a-f]{64}$/);
        const flows = new Set(segs.map((s) => [s.src, s.dst].sort().join('|')));
        expect(flows.size).toBe(2);
        expect(segs.length).toBeGreaterThan(100);
      });

      it('every segment decodes, verifies its TCP checksum and re-encodes byte for byte', () => {
        expect(tcpErrors).toEqual([]);
        const unrecognized = segs.filter((s) => s.seg.options.some((o) => o.kind === 'unknown'));
        expect(unrecognized.map((s) => s.frame)).toEqual([]);
        for (const s of segs) {
          expect(verifySegmentChecksum(s.raw, s.src, s.dst), `frame ${s.frame} checksum`).toBe(true);
          const again = encodeSegment(s.seg, s.src, s.dst);
          expect(Buffer.from(again).toString('hex'), `frame ${s.frame} re-encoding`).toBe(
            Buffer.from(s.raw).toString('hex'),
          );
        }
        // Odd-length options (DSS without checksum: 22 or 26 bytes) were among them, NOP-padded as Linux does.
        const odd = (sub: string) =>
          segs.some((s) => mptcpOf(s).some((m) => m.subtype === sub && mptcpOptionLength(m) % 4 !== 0));
        expect(odd('MP_PRIO')).toBe(true);
        expect(odd('DSS')).toBe(!f.csum);
        // Shapes seen: the whole handshake, the join, ADD_ADDR (and its echo), DSS with and without mapping.
        const shapes = new Set(
          segs.flatMap((s) =>
            mptcpOf(s).map((m) => (m.subtype === 'MP_JOIN' ? `MP_JOIN ${m.form}` : m.subtype)),
          ),
        );
        for (const want of [
          'MP_CAPABLE',
          'MP_JOIN syn',
          'MP_JOIN synack',
          'MP_JOIN ack',
          'ADD_ADDR',
          'DSS',
          'MP_PRIO',
          'REMOVE_ADDR',
          'MP_FASTCLOSE',
          'MP_TCPRST',
        ])
          expect(shapes).toContain(want);
      });

      it('keys, token and IDSN: our tokenOf/idsnOf match what the kernel uses', () => {
        const mpc = segs.flatMap((s) =>
          mptcpOf(s)
            .filter((m): m is MpCapable => m.subtype === 'MP_CAPABLE')
            .map((m) => ({ s, m })),
        );
        const syn = mpc.find(({ s }) => s.seg.flags & SYN && !(s.seg.flags & 0x10))!;
        const synAck = mpc.find(({ s }) => s.seg.flags & SYN && s.seg.flags & 0x10)!;
        const third = mpc.find(({ m }) => m.receiverKey !== undefined)!;
        expect(syn.m).toMatchObject({ version: 1, a: f.csum, h: true });
        expect(syn.m.senderKey).toBeUndefined();
        const keyB = synAck.m.senderKey!;
        const keyA = third.m.senderKey!;
        expect(third.m.receiverKey).toBe(keyB);
        // The join's SYN carries the token of the server's key.
        const join = segs.flatMap((s) =>
          mptcpOf(s).filter((m): m is MpJoinSyn => m.subtype === 'MP_JOIN' && m.form === 'syn'),
        );
        expect(join).toHaveLength(1);
        expect(join[0]!.token).toBe(tokenOf(keyB));
        // The first data byte from the client has DSN = IDSN(keyA) + 1; the server's last data ACK
        // covers every byte and the DATA_FIN.
        const idsnA = idsnOf(keyA);
        const clientDss = segs
          .filter((s) => s.src === f.a1 || s.src === f.a2)
          .flatMap((s) =>
            mptcpOf(s).filter(
              (m): m is Dss => m.subtype === 'DSS' && m.mapping !== undefined && m.mapping.length > 0,
            ),
          );
        const dsns = clientDss.map((m) => m.mapping!.dsn);
        const first = [...dsns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
        expect(first).toBe((idsnA + 1n) & 0xffffffffffffffffn);
        const serverAcks = segs
          .filter((s) => s.src === f.b1 || s.src === f.b2)
          .flatMap((s) => mptcpOf(s).filter((m): m is Dss => m.subtype === 'DSS' && m.dataAck !== undefined))
          .map((m) => m.dataAck!);
        const end = (idsnA + 1n + BigInt(BYTES) + 1n) & 0xffffffffffffffffn;
        expect(serverAcks.some((a) => a === end || a === (end & 0xffffffffn))).toBe(true);
      });

      it("MP_JOIN and ADD_ADDR HMACs: ours equal the kernel's", () => {
        const all = segs.flatMap((s) => mptcpOf(s));
        const mpc = all.filter((m): m is MpCapable => m.subtype === 'MP_CAPABLE');
        const keyB = mpc.find((m) => m.senderKey !== undefined && m.receiverKey === undefined)!.senderKey!;
        const keyA = mpc.find((m) => m.receiverKey !== undefined)!.senderKey!;
        const syn = all.find((m): m is MpJoinSyn => m.subtype === 'MP_JOIN' && m.form === 'syn')!;
        const synAck = all.find((m): m is MpJoinSynAck => m.subtype === 'MP_JOIN' && m.form === 'synack')!;
        const ack = all.find((m): m is MpJoinAck => m.subtype === 'MP_JOIN' && m.form === 'ack')!;
        expect(synAck.truncatedHmac).toBe(joinSynAckHmac(keyB, keyA, synAck.nonce, syn.nonce));
        expect(Buffer.from(ack.hmac).toString('hex')).toBe(
          Buffer.from(joinAckHmac(keyA, keyB, syn.nonce, synAck.nonce)).toString('hex'),
        );
        const adds = all.filter((m): m is AddAddr => m.subtype === 'ADD_ADDR');
        const signal = adds.find((m) => !m.echo)!;
        expect(signal).toMatchObject({ address: f.b2 });
        expect(signal.hmac).toBe(addAddrHmac(keyB, keyA, signal.addressId, signal.address, signal.port));
        expect(signal.addressId).toBe(5);
        // The client echoes it (no HMAC).
        expect(adds.some((m) => m.echo && m.address === f.b2 && m.hmac === undefined)).toBe(true);
      });

      it('path manager and abort suboptions: MP_PRIO, REMOVE_ADDR, MP_FASTCLOSE with MP_TCPRST', () => {
        const from = (addr: string) => segs.filter((s) => s.src === addr);
        const prio = from(f.b2).flatMap((s) => mptcpOf(s).filter((m) => m.subtype === 'MP_PRIO'));
        expect(prio).toEqual([{ subtype: 'MP_PRIO', backup: true }]);
        const removes = segs.flatMap((s) => mptcpOf(s).filter((m) => m.subtype === 'REMOVE_ADDR'));
        expect(removes).toContainEqual({ subtype: 'REMOVE_ADDR', addressIds: [5] });
        const mpc = segs.flatMap((s) => mptcpOf(s).filter((m): m is MpCapable => m.subtype === 'MP_CAPABLE'));
        const keyA = mpc.find((m) => m.receiverKey !== undefined)!.senderKey!;
        // The server's abort: an RST carrying MP_FASTCLOSE with the receiver's (client's) key and MP_TCPRST.
        const rst = segs.find(
          (s) => s.seg.flags & RST && mptcpOf(s).some((m) => m.subtype === 'MP_FASTCLOSE'),
        );
        expect(rst).toBeDefined();
        const opts = mptcpOf(rst!);
        expect(opts).toContainEqual({ subtype: 'MP_FASTCLOSE', receiverKey: keyA });
        const reset = opts.find((m) => m.subtype === 'MP_TCPRST');
        expect(reset).toMatchObject({ subtype: 'MP_TCPRST', u: false, v: false, w: false });
        expect((reset as { reason: number }).reason).toBeLessThanOrEqual(TCPRST_MIDDLEBOX_INTERFERENCE);
      });

      it('DSS checksums: ours verify every data mapping the kernel sent (relative subflow numbers)', () => {
        // Subflow bytes by relative sequence number, per direction of each subflow.
        const isn = new Map<string, number>();
        for (const s of segs) if (s.seg.flags & SYN) isn.set(`${s.src}:${s.seg.srcPort}`, s.seg.seq);
        const bytes = new Map<string, Map<number, Uint8Array>>();
        for (const s of segs) {
          if (s.seg.payload.length === 0) continue;
          const key = `${s.src}:${s.seg.srcPort}`;
          const rel = (s.seg.seq - isn.get(key)!) >>> 0;
          if (!bytes.has(key)) bytes.set(key, new Map());
          bytes.get(key)!.set(rel, s.seg.payload);
        }
        const gather = (key: string, from: number, len: number): Uint8Array | undefined => {
          const out = new Uint8Array(len);
          let at = 0;
          while (at < len) {
            const p = bytes.get(key)?.get(from + at);
            if (!p) return undefined;
            out.set(p.subarray(0, Math.min(p.length, len - at)), at);
            at += p.length;
          }
          return out;
        };
        let verified = 0;
        let dataBytes = 0;
        const done = new Set<string>();
        for (const s of segs) {
          for (const m of mptcpOf(s)) {
            if (m.subtype !== 'DSS' || m.mapping === undefined || s.seg.payload.length === 0) continue;
            const map = m.mapping;
            // Present exactly when negotiated.
            expect(map.checksum === undefined, `frame ${s.frame}: checksum presence`).toBe(!f.csum);
            const key = `${s.src}:${s.seg.srcPort}`;
            // The segment lies inside its mapping (Linux repeats a mapping on each segment it spans).
            const rel = (s.seg.seq - isn.get(key)!) >>> 0;
            expect(
              rel >= map.ssn && rel + s.seg.payload.length <= map.ssn + map.length,
              `frame ${s.frame} in mapping`,
            ).toBe(true);
            const id = `${key}/${map.ssn}/${map.dsn}`;
            if (done.has(id)) continue;
            done.add(id);
            const data = gather(key, map.ssn, map.length - (m.dataFin ? 1 : 0));
            expect(data, `frame ${s.frame}: mapped bytes captured`).toBeDefined();
            if (f.csum) {
              expect(
                verifyDssChecksum(map.dsn, map.ssn, map.length, data!, map.checksum!),
                `frame ${s.frame}`,
              ).toBe(true);
              verified++;
            }
            dataBytes += data!.length;
          }
        }
        if (f.csum) expect(verified).toBeGreaterThan(20);
        // DATA_FIN alone (no payload): a mapping of data-level length 1 at subflow sequence 0, whose
        // checksum covers only the pseudo-header.
        const finOnly = segs.flatMap((s) =>
          mptcpOf(s).filter(
            (m): m is Dss =>
              m.subtype === 'DSS' && m.dataFin && m.mapping !== undefined && s.seg.payload.length === 0,
          ),
        );
        expect(finOnly.length).toBeGreaterThan(0);
        for (const m of finOnly) {
          expect(m.mapping).toMatchObject({ ssn: 0, length: 1 });
          if (f.csum)
            expect(verifyDssChecksum(m.mapping!.dsn, 0, 1, new Uint8Array(0), m.mapping!.checksum!)).toBe(
              true,
            );
          else expect(m.mapping!.checksum).toBeUndefined();
        }
        // Every byte was mapped exactly once: the 200 kB upload and the 64-character digest reply.
        expect(dataBytes).toBe(BYTES + 64);
      });
    },
  );
}
