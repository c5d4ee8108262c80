/**
 * Cross-check of the wire layer with an implementation nobody here wrote: Wireshark's dissectors.
 * We write captures holding every TCP option and every MPTCP v1 suboption shape (IPv4 and IPv6,
 * raw IP and Ethernet link types) and assert that every field tshark dissects equals what we
 * encoded, that the MPTCP analysis derives the same tokens and IDSNs as our crypto, that a joined
 * subflow is attached to its connection by token, and that nothing is malformed or badly checksummed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ACK,
  addAddrHmac,
  dssChecksum,
  encodeSegment,
  FIN,
  idsnOf,
  joinAckHmac,
  joinSynAckHmac,
  MemoryPcap,
  type MptcpOption,
  PSH,
  RST,
  SYN,
  type TcpOption,
  type TcpSegment,
  TCPRST_TOO_MUCH_OUTSTANDING,
  tokenOf,
} from '../../../stack/wire/index';
import { caps } from '../../helpers/caps';

type Val = string | number | bigint | boolean;
type Expect = Record<string, Val | Val[]>;

interface Pkt {
  src: string;
  dst: string;
  seg: TcpSegment;
  expect: Expect;
  /** Expert messages Wireshark may raise on this packet (explained where listed). */
  allowExpert?: string[];
  /** Check the DSS checksum bytes independently (see checkDssChecksum). */
  dssChecksum?: boolean;
}

/**
 * Wireshark 4.0 never shows the DSS checksum field (its length test asks for two bytes more than a
 * DSS option with checksum has), so for DSS we take the raw option bytes, the DSN, subflow sequence
 * number and data-level length Wireshark dissected and the TCP payload it extracted, and verify the
 * checksum with a straightforward reference of RFC 8684 §3.3.1 written here, independent of
 * stack/wire/checksum.ts: the one's-complement sum over the pseudo-header (64-bit DSN, 32-bit
 * subflow seq, 16-bit length, the 16-bit checksum) and the payload must be 0xffff.
 */
function checkDssChecksum(row: Map<string, string[]>, where: string): void {
  const first = (f: string, d: string) => row.get(f)?.[0] ?? d;
  const opts = Buffer.from(first('tcp.options', '').replaceAll(':', ''), 'hex');
  let i = 0;
  let dss: Buffer | undefined;
  while (i < opts.length) {
    const kind = opts[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    const len = opts[i + 1]!;
    if (kind === 30 && opts[i + 2]! >> 4 === 2) dss = opts.subarray(i, i + len);
    i += len;
  }
  expect(dss, `${where}: DSS option in raw bytes`).toBeDefined();
  const d = dss!;
  const ckField = d.readUInt16BE(d.length - 2);
  const dsn = BigInt(first('tcp.options.mptcp.rawdataseqno', '0'));
  const ssn = Number(first('tcp.options.mptcp.subflowseqno', '0'));
  const dll = Number(first('tcp.options.mptcp.datalvllen', '0'));
  const payload = Buffer.from(first('tcp.payload', '').replaceAll(':', ''), 'hex');
  const pseudo = Buffer.alloc(16);
  pseudo.writeBigUInt64BE(dsn, 0);
  pseudo.writeUInt32BE(ssn, 8);
  pseudo.writeUInt16BE(dll, 12);
  pseudo.writeUInt16BE(ckField, 14);
  const all = Buffer.concat([pseudo, payload, Buffer.alloc(payload.length % 2)]);
  let sum = 0;
  for (let k = 0; k < all.length; k += 2) {
    sum += all.readUInt16BE(k);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  expect(sum, `${where}: DSS checksum`).toBe(0xffff);
}

const enc = new TextEncoder();

function seg(
  sport: number,
  dport: number,
  flags: number,
  seq: number,
  ack: number,
  options: TcpOption[],
  payload = new Uint8Array(0),
): TcpSegment {
  return {
    srcPort: sport,
    dstPort: dport,
    seq,
    ack,
    flags,
    window: 0xfff0,
    checksum: 0,
    urgent: 0,
    options,
    payload,
  };
}
const mp = (m: MptcpOption): TcpOption => ({ kind: 'mptcp', mp: m });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** Builds one MPTCP connection (handshake, data, every control suboption) between a and b. */
function connection(a: string, b: string, a2: string, b2: string, base: number): Pkt[] {
  const kA = 0x1122334455667788n + BigInt(base);
  const kB = 0x99aabbccddeeff00n + BigInt(base);
  const isnA = 1_000_000 + base;
  const isnB = 3_000_000_000 + base;
  const pa = 40000 + base;
  const pb = 8000;
  const idsnA = idsnOf(kA);
  const idsnB = idsnOf(kB);
  const pkts: Pkt[] = [];
  const v6 = a.includes(':');
  const ipf = v6 ? 'tcp.options.mptcp.ipv6' : 'tcp.options.mptcp.ipv4';
  // The C flag ("no more subflows to this address") is set in one of the cases.
  const cFlag = base === 1;

  // Handshake: MSS, SACK-permitted + timestamps packed, window scale, MP_CAPABLE (4 / 12 / 20 bytes).
  pkts.push({
    src: a,
    dst: b,
    seg: seg(pa, pb, SYN, isnA, 0, [
      { kind: 'mss', mss: 1460 },
      { kind: 'sackPermitted' },
      { kind: 'timestamps', tsval: 100, tsecr: 0 },
      { kind: 'wscale', shift: 7 },
      mp({ subtype: 'MP_CAPABLE', version: 1, a: true, b: false, c: false, h: true, flags: 0 }),
    ]),
    expect: {
      // The layout Linux uses: MSS, SACK-permitted packed with timestamps, NOP + window scale.
      'tcp.option_kind': [2, 4, 8, 1, 3, 30],
      'tcp.options.mss_val': 1460,
      'tcp.options.sack_perm': [],
      'tcp.options.timestamp.tsval': 100,
      'tcp.options.timestamp.tsecr': 0,
      'tcp.options.wscale.shift': 7,
      'tcp.options.mptcp.subtype': 0,
      'tcp.options.mptcp.version': 1,
      'tcp.options.mptcp.flags': 0x81,
      'tcp.options.mptcp.checksumreq.flags': 1,
      'tcp.options.mptcp.extensibility.flag': 0,
      'tcp.options.mptcp.nomoresubflows.flag': 0,
      'tcp.options.mptcp.sha256.flag': 1,
    },
  });
  pkts.push({
    src: b,
    dst: a,
    seg: seg(pb, pa, SYN | ACK, isnB, isnA + 1, [
      { kind: 'mss', mss: 1400 },
      { kind: 'sackPermitted' },
      { kind: 'timestamps', tsval: 200, tsecr: 100 },
      { kind: 'wscale', shift: 9 },
      mp({
        subtype: 'MP_CAPABLE',
        version: 1,
        a: true,
        b: false,
        c: cFlag,
        h: true,
        flags: 0,
        senderKey: kB,
      }),
    ]),
    // Wireshark 4.0 still reads the C bit as part of RFC 6824's crypto-algorithm field, so C=1 makes
    // it call the algorithm unsupported (a warning about its own dissector, not about the bytes).
    ...(cFlag ? { allowExpert: ['Unsupported algorithm'] } : {}),
    expect: {
      'tcp.options.mss_val': 1400,
      'tcp.options.wscale.shift': 9,
      'tcp.options.mptcp.subtype': 0,
      'tcp.options.mptcp.version': 1,
      'tcp.options.mptcp.flags': cFlag ? 0xa1 : 0x81,
      'tcp.options.mptcp.nomoresubflows.flag': cFlag ? 1 : 0,
      'tcp.options.mptcp.sha256.flag': 1,
      'tcp.options.mptcp.sendkey': kB,
      'mptcp.expected_token': tokenOf(kB),
      'mptcp.expected_idsn': idsnB,
    },
  });
  pkts.push({
    src: a,
    dst: b,
    seg: seg(pa, pb, ACK, isnA + 1, isnB + 1, [
      { kind: 'timestamps', tsval: 101, tsecr: 200 },
      mp({
        subtype: 'MP_CAPABLE',
        version: 1,
        a: true,
        b: true,
        c: false,
        h: true,
        flags: 0,
        senderKey: kA,
        receiverKey: kB,
      }),
      // An option nobody here knows (RFC 6994 experimental kind 253), kept verbatim.
      { kind: 'unknown', type: 253, data: new Uint8Array([0xab, 0xcd, 0x01]) },
    ]),
    // The experimental option is followed by three NOPs up to the next 32-bit word; Wireshark 4.0
    // reports "4 NOP in a row" for exactly this (it does for kind 253 + 3 NOPs after a timestamps
    // option, not for 3 NOPs alone): its counter, not the bytes, which tcp.option_kind shows below.
    allowExpert: ['4 NOP in a row - a router may have removed some options'],
    expect: {
      'tcp.option_kind': [1, 1, 8, 30, 253, 1, 1, 1],
      'tcp.option_len': [10, 20, 5],
      'tcp.options.mptcp.flags': 0xc1,
      'tcp.options.mptcp.extensibility.flag': 1,
      'tcp.options.experimental.exid': 0xabcd,
      'tcp.options.mptcp.subtype': 0,
      'tcp.options.mptcp.sendkey': kA,
      'tcp.options.mptcp.recvkey': kB,
      'mptcp.expected_token': tokenOf(kA),
      'mptcp.expected_idsn': idsnA,
    },
  });
  // First data: MP_CAPABLE with data-level length and checksum (24 bytes).
  const first = enc.encode('hello');
  pkts.push({
    src: a,
    dst: b,
    seg: seg(
      pa,
      pb,
      ACK | PSH,
      isnA + 1,
      isnB + 1,
      [
        mp({
          subtype: 'MP_CAPABLE',
          version: 1,
          a: true,
          b: false,
          c: false,
          h: true,
          flags: 0,
          senderKey: kA,
          receiverKey: kB,
          dataLength: first.length,
          checksum: dssChecksum(idsnA + 1n, 1, first.length, first),
        }),
      ],
      first,
    ),
    expect: {
      'tcp.options.mptcp.subtype': 0,
      'tcp.options.mptcp.sendkey': kA,
      'tcp.options.mptcp.recvkey': kB,
      'tcp.options.mptcp.datalvllen': first.length,
      'tcp.options.mptcp.checksum': dssChecksum(idsnA + 1n, 1, first.length, first),
    },
  });
  // DSS: 8-byte data ACK only, with SACK blocks beside it.
  pkts.push({
    src: b,
    dst: a,
    seg: seg(pb, pa, ACK, isnB + 1, isnA + 6, [
      { kind: 'timestamps', tsval: 201, tsecr: 101 },
      { kind: 'sack', blocks: [{ left: isnA + 100, right: isnA + 200 }] },
      mp({ subtype: 'DSS', dataAck: idsnA + 6n, dataAck8: true, dataFin: false }),
    ]),
    expect: {
      'tcp.options.sack_le': isnA + 100,
      'tcp.options.sack_re': isnA + 200,
      'tcp.options.mptcp.subtype': 2,
      'tcp.options.mptcp.flags': 0x03,
      'tcp.options.mptcp.dataackpresent.flag': 1,
      'tcp.options.mptcp.dataack8.flag': 1,
      'tcp.options.mptcp.dseqnpresent.flag': 0,
      'tcp.options.mptcp.rawdataack': idsnA + 6n,
    },
  });
  // DSS full: 8-byte data ACK, 8-byte DSN, subflow seq, length, checksum; with timestamps.
  const data = new Uint8Array(1000).map((_, i) => (i * 7 + base) & 0xff);
  const dsn = idsnA + 6n;
  const ck = dssChecksum(dsn, 6, data.length, data);
  pkts.push({
    src: a,
    dst: b,
    seg: seg(
      pa,
      pb,
      ACK | PSH,
      isnA + 6,
      isnB + 1,
      [
        { kind: 'timestamps', tsval: 102, tsecr: 201 },
        mp({
          subtype: 'DSS',
          dataAck: idsnB + 1n,
          dataAck8: true,
          dataFin: false,
          mapping: { dsn, dsn8: true, ssn: 6, length: data.length, checksum: ck },
        }),
      ],
      data,
    ),
    expect: {
      'tcp.options.mptcp.subtype': 2,
      'tcp.options.mptcp.flags': 0x0f,
      'tcp.options.mptcp.datafin.flag': 0,
      'tcp.options.mptcp.dseqn8.flag': 1,
      'tcp.options.mptcp.dseqnpresent.flag': 1,
      'tcp.options.mptcp.rawdataack': idsnB + 1n,
      'tcp.options.mptcp.rawdataseqno': dsn,
      'tcp.options.mptcp.subflowseqno': 6,
      'tcp.options.mptcp.datalvllen': data.length,
    },
    dssChecksum: true,
  });
  // DSS with 4-byte data ACK and DSN and DATA_FIN (no payload: the DATA_FIN takes one DSN).
  const dsn32 = (dsn + BigInt(data.length)) & 0xffffffffn;
  pkts.push({
    src: a,
    dst: b,
    seg: seg(pa, pb, ACK, isnA + 1006, isnB + 1, [
      mp({
        subtype: 'DSS',
        dataAck: (idsnB + 1n) & 0xffffffffn,
        dataAck8: false,
        dataFin: true,
        mapping: {
          dsn: dsn32,
          dsn8: false,
          ssn: 0,
          length: 1,
          checksum: dssChecksum(dsn32, 0, 1, new Uint8Array(0)),
        },
      }),
    ]),
    expect: {
      'tcp.options.mptcp.subtype': 2,
      'tcp.options.mptcp.flags': 0x15,
      'tcp.options.mptcp.datafin.flag': 1,
      'tcp.options.mptcp.dseqn8.flag': 0,
      'tcp.options.mptcp.dataack8.flag': 0,
      'tcp.options.mptcp.rawdataack': (idsnB + 1n) & 0xffffffffn,
      'tcp.options.mptcp.rawdataseqno': dsn32,
      'tcp.options.mptcp.subflowseqno': 0,
      'tcp.options.mptcp.datalvllen': 1,
    },
    dssChecksum: true,
  });
  // ADD_ADDR, every length for this family: HMAC with/without port, echo with/without port.
  const hp = addAddrHmac(kB, kA, 7, b2, 8443);
  const hn = addAddrHmac(kB, kA, 8, b2);
  const addAddrs: [MptcpOption, Expect][] = [
    [
      { subtype: 'ADD_ADDR', echo: false, addressId: 7, address: b2, port: 8443, hmac: hp },
      {
        'tcp.options.mptcp.echo': 0,
        'tcp.options.mptcp.addrid': 7,
        [ipf]: b2,
        'tcp.options.mptcp.port': 8443,
        'tcp.options.mptcp.addaddrtrunchmac': hp,
      },
    ],
    [
      { subtype: 'ADD_ADDR', echo: false, addressId: 8, address: b2, hmac: hn },
      {
        'tcp.options.mptcp.echo': 0,
        'tcp.options.mptcp.addrid': 8,
        [ipf]: b2,
        'tcp.options.mptcp.port': [],
        'tcp.options.mptcp.addaddrtrunchmac': hn,
      },
    ],
  ];
  for (const [m, e] of addAddrs) {
    pkts.push({
      src: b,
      dst: a,
      seg: seg(pb, pa, ACK, isnB + 1, isnA + 1006, [mp(m)]),
      expect: { 'tcp.options.mptcp.subtype': 3, ...e },
    });
  }
  const echoes: [MptcpOption, Expect][] = [
    [
      { subtype: 'ADD_ADDR', echo: true, addressId: 7, address: b2, port: 8443 },
      {
        'tcp.options.mptcp.echo': 1,
        'tcp.options.mptcp.addrid': 7,
        [ipf]: b2,
        'tcp.options.mptcp.port': 8443,
        'tcp.options.mptcp.addaddrtrunchmac': [],
      },
    ],
    [
      { subtype: 'ADD_ADDR', echo: true, addressId: 8, address: b2 },
      {
        'tcp.options.mptcp.echo': 1,
        'tcp.options.mptcp.addrid': 8,
        [ipf]: b2,
        'tcp.options.mptcp.port': [],
        'tcp.options.mptcp.addaddrtrunchmac': [],
      },
    ],
  ];
  for (const [m, e] of echoes) {
    pkts.push({
      src: a,
      dst: b,
      seg: seg(pa, pb, ACK, isnA + 1006, isnB + 1, [mp(m)]),
      expect: { 'tcp.options.mptcp.subtype': 3, ...e },
    });
  }
  // MP_JOIN subflow from a2 to b: SYN (token of B's key), SYN/ACK (truncated HMAC), ACK (HMAC).
  const rA = 0x0a0b0c0d + base;
  const rB = 0x01020304 + base;
  const pj = 50000 + base;
  const jIsnA = 5_000_000 + base;
  const jIsnB = 7_000_000 + base;
  const tHmac = joinSynAckHmac(kB, kA, rB, rA);
  const ackHmac = joinAckHmac(kA, kB, rA, rB);
  pkts.push({
    src: a2,
    dst: b,
    seg: seg(pj, pb, SYN, jIsnA, 0, [
      { kind: 'mss', mss: 1460 },
      mp({ subtype: 'MP_JOIN', form: 'syn', backup: true, addressId: 2, token: tokenOf(kB), nonce: rA }),
    ]),
    expect: {
      'tcp.options.mptcp.subtype': 1,
      'tcp.options.mptcp.backup.flag': 1,
      'tcp.options.mptcp.addrid': 2,
      'tcp.options.mptcp.recvtok': tokenOf(kB),
      'tcp.options.mptcp.sendrand': rA,
    },
  });
  pkts.push({
    src: b,
    dst: a2,
    seg: seg(pb, pj, SYN | ACK, jIsnB, jIsnA + 1, [
      { kind: 'mss', mss: 1460 },
      mp({
        subtype: 'MP_JOIN',
        form: 'synack',
        backup: false,
        addressId: 0,
        truncatedHmac: tHmac,
        nonce: rB,
      }),
    ]),
    expect: {
      'tcp.options.mptcp.subtype': 1,
      'tcp.options.mptcp.backup.flag': 0,
      'tcp.options.mptcp.addrid': 0,
      'tcp.options.mptcp.sendtrunchmac': tHmac,
      'tcp.options.mptcp.sendrand': rB,
    },
  });
  pkts.push({
    src: a2,
    dst: b,
    seg: seg(pj, pb, ACK, jIsnA + 1, jIsnB + 1, [mp({ subtype: 'MP_JOIN', form: 'ack', hmac: ackHmac })]),
    expect: { 'tcp.options.mptcp.subtype': 1, 'tcp.options.mptcp.sendhmac': hex(ackHmac) },
  });
  // Control suboptions on the master subflow.
  const controls: [number, MptcpOption, Expect][] = [
    [
      ACK,
      { subtype: 'REMOVE_ADDR', addressIds: [2, 9, 200] },
      { 'tcp.options.mptcp.addrid': [2, 9, 200], 'mptcp.rm_addr.count': 3 },
    ],
    [ACK, { subtype: 'MP_PRIO', backup: true }, { 'tcp.options.mptcp.backup.flag': 1 }],
    [
      ACK,
      { subtype: 'MP_PRIO', backup: false },
      { 'tcp.options.mptcp.backup.flag': 0, 'tcp.option_kind': [30, 1] },
    ],
    [
      ACK,
      { subtype: 'MP_PRIO', backup: true, addressId: 42 },
      { 'tcp.options.mptcp.backup.flag': 1, 'tcp.options.mptcp.addrid': 42, 'tcp.option_len': [4] },
    ],
    [
      ACK,
      { subtype: 'MP_FAIL', dsn: 0x0123456789abcdefn },
      { 'tcp.options.mptcp.rawdataseqno': 0x0123456789abcdefn },
    ],
    [
      RST,
      { subtype: 'MP_TCPRST', u: false, v: false, w: false, t: true, reason: TCPRST_TOO_MUCH_OUTSTANDING },
      {
        'tcp.options.mptcp.flag_T.flag': 1,
        'tcp.options.mptcp.flag_U.flag': 0,
        'tcp.options.mptcp.rst_reason': TCPRST_TOO_MUCH_OUTSTANDING,
      },
    ],
    [
      ACK | RST,
      { subtype: 'MP_TCPRST', u: true, v: true, w: true, t: false, reason: 6 },
      {
        'tcp.options.mptcp.flag_U.flag': 1,
        'tcp.options.mptcp.flag_V.flag': 1,
        'tcp.options.mptcp.flag_W.flag': 1,
        'tcp.options.mptcp.flag_T.flag': 0,
        'tcp.options.mptcp.rst_reason': 6,
      },
    ],
    [ACK, { subtype: 'MP_FASTCLOSE', receiverKey: kB }, { 'tcp.options.mptcp.recvkey': kB }],
  ];
  const subNum: Record<string, number> = {
    REMOVE_ADDR: 4,
    MP_PRIO: 5,
    MP_FAIL: 6,
    MP_FASTCLOSE: 7,
    MP_TCPRST: 8,
  };
  for (const [flags, m, e] of controls) {
    pkts.push({
      src: a,
      dst: b,
      seg: seg(pa, pb, flags, isnA + 1006, isnB + 1, [mp(m)]),
      expect: { 'tcp.options.mptcp.subtype': subNum[m.subtype]!, ...e },
      // Wireshark flags every RST as a warning; that is the point of these packets.
      ...(flags & RST ? { allowExpert: ['Connection reset (RST)'] } : {}),
    });
  }
  // A final FIN carrying DATA_ACK + DATA_FIN in one DSS (no mapping): flags A|F.
  pkts.push({
    src: b,
    dst: a,
    seg: seg(pb, pa, ACK | FIN, isnB + 1, isnA + 1006, [
      mp({ subtype: 'DSS', dataAck: idsnA + 1007n, dataAck8: true, dataFin: true }),
    ]),
    expect: {
      'tcp.options.mptcp.subtype': 2,
      'tcp.options.mptcp.flags': 0x13,
      'tcp.options.mptcp.rawdataack': idsnA + 1007n,
    },
  });
  return pkts;
}

/** tshark prints numbers in decimal or 0x-hex, booleans as 1/0 or True/False, bytes with or without ':'. */
function norm(v: string): string {
  const s = v.trim();
  if (/^0x[0-9a-f]+$/i.test(s) || /^[0-9]+$/.test(s)) return BigInt(s).toString();
  if (s === 'True') return '1';
  if (s === 'False') return '0';
  if (/^([0-9a-f]{2}:)+[0-9a-f]{2}$/i.test(s)) return s.replaceAll(':', '').toLowerCase();
  return s.toLowerCase();
}
function normExpected(v: Val): string {
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'bigint' || typeof v === 'number') return BigInt(v).toString();
  return norm(v);
}

const CHECK_FIELDS = [
  'frame.number',
  'frame.time_epoch',
  'tcp.checksum.status',
  'ip.checksum.status',
  '_ws.malformed',
  '_ws.expert.message',
  '_ws.expert.severity',
  'mptcp.stream',
  'tcp.stream',
];
const SEVERITY_WARN = 6291456; // PI_WARN; PI_ERROR is 8388608

function tshark(file: string, fields: string[]): Map<string, string[]>[] {
  const out = execFileSync(
    'tshark',
    [
      '-r',
      file,
      '-o',
      'mptcp.analyze_mptcp:TRUE',
      '-o',
      'mptcp.relative_sequence_numbers:FALSE',
      '-o',
      'tcp.check_checksum:TRUE',
      '-o',
      'ip.check_checksum:TRUE',
      '-o',
      'tcp.relative_sequence_numbers:FALSE',
      '-o',
      'tcp.analyze_sequence_numbers:FALSE',
      '-T',
      'fields',
      '-E',
      'separator=\t',
      '-E',
      'occurrence=a',
      '-E',
      'aggregator=|',
      ...fields.flatMap((f) => ['-e', f]),
    ],
    { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  return out
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const cols = line.split('\t');
      const m = new Map<string, string[]>();
      fields.forEach((f, i) => {
        const c = cols[i] ?? '';
        m.set(f, c === '' ? [] : c.split('|'));
      });
      return m;
    });
}

describe.skipIf(!caps.tshark)('wire: tshark dissects what we encode', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'mplab-wire-'));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const cases: { name: string; link: 'raw' | 'ethernet'; pkts: Pkt[] }[] = [
    {
      name: 'IPv4, raw IP',
      link: 'raw',
      pkts: connection('10.0.0.1', '10.0.0.2', '10.0.1.1', '10.0.1.2', 0),
    },
    {
      name: 'IPv6, raw IP',
      link: 'raw',
      pkts: connection('2001:db8::1', '2001:db8::2', '2001:db8:1::1', 'fd00:1:2:3::42', 1),
    },
    {
      name: 'IPv4, Ethernet',
      link: 'ethernet',
      pkts: connection('192.168.7.1', '192.168.7.2', '192.168.8.1', '192.168.8.2', 2),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: every field equals what was encoded; no malformed, no bad checksum`, () => {
      const pcap = new MemoryPcap({ linktype: c.link });
      let t = 1_700_000_000_000 + 0.5;
      for (const p of c.pkts) pcap.writeSegment((t += 1.25), p.src, p.dst, p.seg);
      const file = join(dir, `${c.name.replace(/\W+/g, '_')}.pcap`);
      writeFileSync(file, pcap.bytes());

      const fieldSet = new Set<string>(CHECK_FIELDS);
      for (const p of c.pkts) for (const k of Object.keys(p.expect)) fieldSet.add(k);
      if (c.link === 'ethernet') fieldSet.add('eth.type');
      for (const f of [
        'tcp.options',
        'tcp.payload',
        'tcp.options.mptcp.rawdataseqno',
        'tcp.options.mptcp.subflowseqno',
        'tcp.options.mptcp.datalvllen',
      ])
        fieldSet.add(f);
      const fields = [...fieldSet];
      const rows = tshark(file, fields);
      expect(rows).toHaveLength(c.pkts.length);

      rows.forEach((row, i) => {
        const p = c.pkts[i]!;
        const where = `${c.name} packet ${i + 1}`;
        expect(row.get('frame.number'), where).toEqual([String(i + 1)]);
        // Timestamps: 1.25 ms apart from 1700000000.0005 s, to the microsecond.
        const epochUs = Math.round(Number(row.get('frame.time_epoch')![0]) * 1e6);
        expect(epochUs, `${where}: timestamp`).toBe(1_700_000_000_000_500 + (i + 1) * 1250);
        // 1 = PROTO_CHECKSUM_E_GOOD.
        expect(row.get('tcp.checksum.status'), `${where}: TCP checksum`).toEqual(['1']);
        if (!p.src.includes(':'))
          expect(row.get('ip.checksum.status'), `${where}: IP checksum`).toEqual(['1']);
        expect(row.get('_ws.malformed'), `${where}: malformed`).toEqual([]);
        const sev = row.get('_ws.expert.severity')!.map(Number);
        const msgs = row.get('_ws.expert.message')!;
        const serious = msgs.filter(
          (m, k) => (sev[k] ?? 0) >= SEVERITY_WARN && !(p.allowExpert ?? []).includes(m),
        );
        expect(serious, `${where}: expert warnings/errors`).toEqual([]);
        if (c.link === 'ethernet')
          expect(row.get('eth.type')!.map(norm), where).toEqual([p.src.includes(':') ? '34525' : '2048']);
        if (p.dssChecksum) checkDssChecksum(row, where);
        for (const [field, want] of Object.entries(p.expect)) {
          const got = (row.get(field) ?? []).map(norm);
          const exp = (Array.isArray(want) ? want : [want]).map(normExpected);
          // A field with no expected values must be absent; a flag field listed once must be there.
          if (Array.isArray(want) && want.length === 0 && field === 'tcp.options.sack_perm') {
            expect(row.get(field)!.length, `${where}: ${field} present`).toBeGreaterThan(0);
            continue;
          }
          expect(got, `${where}: ${field}`).toEqual(exp);
        }
      });

      // MPTCP analysis: the MP_JOIN subflow (its token is tokenOf(B's key)) joins the connection of the
      // master subflow, so both TCP streams share one MPTCP stream.
      const joinIdx = c.pkts.findIndex((p) =>
        p.seg.options.some((o) => o.kind === 'mptcp' && o.mp.subtype === 'MP_JOIN'),
      );
      const master = rows[2]!; // the master's third ACK (both keys)
      expect(master.get('mptcp.stream')).toHaveLength(1);
      const joinAck = rows[joinIdx + 2]!; // the join's third ACK
      expect(master.get('tcp.stream')).not.toEqual(joinAck.get('tcp.stream'));
      expect(joinAck.get('mptcp.stream')).toEqual(master.get('mptcp.stream'));
    });
  }

  it('a DSS whose flags disagree with its length is reported malformed (the check is live)', () => {
    const good = encodeSegment(
      {
        srcPort: 1,
        dstPort: 2,
        seq: 1,
        ack: 1,
        flags: ACK,
        window: 100,
        checksum: 0,
        urgent: 0,
        options: [mp({ subtype: 'DSS', dataAck: 5n, dataAck8: true, dataFin: false })],
        payload: new Uint8Array(0),
      },
      '10.0.0.1',
      '10.0.0.2',
    );
    const bad = new Uint8Array(good);
    bad[23] = 0x0f; // flags A a M m: 26 bytes needed, the length byte says 12
    const pcap = new MemoryPcap();
    pcap.writeSegment(1, '10.0.0.1', '10.0.0.2', bad);
    pcap.writeSegment(2, '10.0.0.1', '10.0.0.2', good);
    const file = join(dir, 'malformed.pcap');
    writeFileSync(file, pcap.bytes());
    const rows = tshark(file, ['_ws.malformed', '_ws.expert.severity']);
    expect(rows[0]!.get('_ws.malformed')!.length).toBeGreaterThan(0);
    expect(rows[0]!.get('_ws.expert.severity')!.map(Number)).toContain(8388608);
    expect(rows[1]!.get('_ws.malformed')).toEqual([]);
  });

  it('a corrupted payload byte is reported as a bad TCP checksum (the check is live)', () => {
    const pcap = new MemoryPcap();
    const pkts = connection('10.9.0.1', '10.9.0.2', '10.9.1.1', '10.9.1.2', 3);
    const p = pkts[5]!; // the DSS data segment
    const raw = new MemoryPcap();
    raw.writeSegment(1, p.src, p.dst, p.seg);
    const ip = raw.bytes().slice(24 + 16); // skip the global and record headers: the IP packet
    ip[ip.length - 1] = ip[ip.length - 1]! ^ 0x01;
    pcap.writeIpPacket(1, ip);
    const file = join(dir, 'corrupt.pcap');
    writeFileSync(file, pcap.bytes());
    const rows = tshark(file, ['tcp.checksum.status']);
    // 0 = PROTO_CHECKSUM_E_BAD
    expect(rows[0]!.get('tcp.checksum.status')).toEqual(['0']);
  });
});
