/**
 * Segments the Linux kernel's MPTCP (6.18, DSS checksums on) sent in test/integration/wire/kernel
 * .test.ts, kept as fixtures so every unit run checks our codec and crypto against an
 * implementation nobody here wrote, even where namespaces are unavailable. Payloads of the two data
 * segments are cut to their first 48 or 64 bytes (their TCP checksum is then not checked).
 */
import { describe, expect, it } from 'vitest';
import {
  addAddrHmac,
  decodeSegment,
  type Dss,
  encodeSegment,
  idsnOf,
  joinAckHmac,
  joinSynAckHmac,
  type MptcpOption,
  ParseError,
  type TcpSegment,
  tokenOf,
  verifySegmentChecksum,
} from '../../../stack/wire/index';

const A1 = '10.91.1.1';
const B1 = '10.91.1.2';
const A2 = '10.91.2.1';
const B2 = '10.91.2.2';

const fixtures: { name: string; src: string; dst: string; hex: string; complete: boolean }[] = [
  {
    name: 'SYN, MP_CAPABLE (4)',
    src: A1,
    dst: B1,
    complete: true,
    hex: '88d81451618c44c200000000b002faf057680000020405b40402080a18e55305000000000103030a1e040181',
  },
  {
    name: 'SYN/ACK, MP_CAPABLE (12)',
    src: B1,
    dst: A1,
    complete: true,
    hex: '145188d81ea8791a618c44c3d012fe880e3a0000020405b40402080a02b63a2418e553050103030a1e0c01814780a703e1e28071',
  },
  {
    name: 'ACK, MP_CAPABLE (20)',
    src: A1,
    dst: B1,
    complete: true,
    hex: '88d81451618c44c31ea8791bd010003f197700000101080a18e5530502b63a241e140181279cfadd1d43c20e4780a703e1e28071',
  },
  {
    name: 'ADD_ADDR (16)',
    src: B1,
    dst: A1,
    complete: true,
    hex: '145188d81ea8791b618c44c3c010003f27db00000101080a02b63a2418e553051e1030050a5b0202c63569594e179bc0',
  },
  {
    name: 'ADD_ADDR echo (8)',
    src: A1,
    dst: B1,
    complete: true,
    hex: '88d81451618c44c31ea8791ba010003f605200000101080a18e5530502b63a241e0831050a5b0202',
  },
  {
    name: 'SYN, MP_JOIN (12)',
    src: A2,
    dst: B2,
    complete: true,
    hex: '979514516806d74c00000000d002faf0852f0000020405b40402080a4b7258dc000000000103030a1e0c100196a1893d09839820',
  },
  {
    name: 'SYN/ACK, MP_JOIN (16)',
    src: B2,
    dst: A2,
    complete: true,
    hex: '14519795a3f6f5646806d74de012fe889ac50000020405b40402080a24dbb5a74b7258dc0103030a1e1010059baeff2494ba729769cf1864',
  },
  {
    name: 'ACK, MP_JOIN (24)',
    src: A2,
    dst: B2,
    complete: true,
    hex: '979514516806d74da3f6f565e010003fef4400000101080a4b7258dc24dbb5a71e18100093a064e71b5b3be309aac91d4fd1c8a9b279ef64',
  },
  {
    name: 'DSS data ACK (8)',
    src: B2,
    dst: A2,
    complete: true,
    hex: '14519795a3f6f5656806d74da010003f668a00000101080a24dbb5a74b7258dc1e0820010322929f',
  },
  {
    name: 'DSS mapping + checksum (24), data',
    src: A1,
    dst: B1,
    complete: false,
    hex: `88d81451618c44c31ea8791be010003f839000000101080a18e5543202b63a241e18200d8ec92470a610a7b90322929f000000010fa00cd3${'00'.repeat(48)}`,
  },
  {
    name: 'DSS 8-byte data ACK (12)',
    src: B1,
    dst: A1,
    complete: true,
    hex: '145188d81ea8791b618c4a53b0100040823200000101080a02b63b5118e554321e0c2003a610a7b90322929f',
  },
  {
    name: 'DSS + MP_PRIO (3)',
    src: B2,
    dst: A2,
    complete: true,
    hex: '14519795a3f6f5656806d74dc01000407a6800000101080a24dbb7a74b7258dc1e0c2003a610a7b903259fe01e035101',
  },
  {
    name: 'DSS + REMOVE_ADDR (4)',
    src: B1,
    dst: A1,
    complete: true,
    hex: '145188d81ea8791b618f5203c0100040fd8b00000101080a02b63c2418e555011e0c2003a610a7b903259fe01e044005',
  },
  {
    name: 'DSS 8/8 + checksum (28), data',
    src: B1,
    dst: A1,
    complete: false,
    hex: '145188d81ea8791b618f5203f0180040296f00000101080a02b63dda18e555011e1c200fa610a7b903259fe0e305a6968ec924700000000100406138366161363334386532346136653933333737323663623066336435366633383632373638626362363237373638386166',
  },
  {
    name: 'RST, MP_FASTCLOSE + MP_TCPRST',
    src: B1,
    dst: A1,
    complete: true,
    hex: '145188d81ea8795b618f5203c0140040581a00000101080a02b63ea318e556bb1e0c7000279cfadd1d43c20e1e048000',
  },
];

function decoded(name: string): TcpSegment {
  const f = fixtures.find((x) => x.name === name)!;
  const s = decodeSegment(new Uint8Array(Buffer.from(f.hex, 'hex')));
  if (s instanceof ParseError) throw new Error(`${name}: ${s}`);
  return s;
}
function mptcp(name: string): MptcpOption[] {
  return decoded(name).options.flatMap((o) => (o.kind === 'mptcp' ? [o.mp] : []));
}

describe('wire: segments sent by the Linux kernel MPTCP', () => {
  for (const f of fixtures) {
    it(`${f.name}: decodes fully and re-encodes byte for byte`, () => {
      const bytes = new Uint8Array(Buffer.from(f.hex, 'hex'));
      const s = decodeSegment(bytes);
      if (s instanceof ParseError) throw new Error(String(s));
      expect(s.options.filter((o) => o.kind === 'unknown')).toEqual([]);
      expect(Buffer.from(encodeSegment(s)).toString('hex')).toBe(f.hex);
      if (f.complete) {
        expect(verifySegmentChecksum(bytes, f.src, f.dst)).toBe(true);
        expect(Buffer.from(encodeSegment(s, f.src, f.dst)).toString('hex')).toBe(f.hex);
      }
    });
  }

  const keyB = 0x4780a703e1e28071n;
  const keyA = 0x279cfadd1d43c20en;

  it('keys, token and IDSN', () => {
    expect(mptcp('SYN/ACK, MP_CAPABLE (12)')).toEqual([
      {
        subtype: 'MP_CAPABLE',
        version: 1,
        a: true,
        b: false,
        c: false,
        h: true,
        flags: 0x81,
        senderKey: keyB,
      },
    ]);
    expect(mptcp('ACK, MP_CAPABLE (20)')[0]).toMatchObject({ senderKey: keyA, receiverKey: keyB });
    expect(mptcp('SYN, MP_JOIN (12)')[0]).toMatchObject({ token: tokenOf(keyB) });
    // The client's first data byte has DSN = IDSN(keyA) + 1; its 4-byte data ACK is the low 32 bits
    // of IDSN(keyB) + 1 (nothing received yet).
    const dss = mptcp('DSS mapping + checksum (24), data')[0] as Dss;
    expect(dss.mapping).toMatchObject({ dsn: idsnOf(keyA) + 1n, ssn: 1, length: 4000, checksum: 0x0cd3 });
    expect(dss.dataAck).toBe((idsnOf(keyB) + 1n) & 0xffffffffn);
    expect(mptcp('RST, MP_FASTCLOSE + MP_TCPRST')).toEqual([
      { subtype: 'MP_FASTCLOSE', receiverKey: keyA },
      { subtype: 'MP_TCPRST', u: false, v: false, w: false, t: false, reason: 0 },
    ]);
  });

  it('MP_JOIN and ADD_ADDR HMACs', () => {
    const syn = mptcp('SYN, MP_JOIN (12)')[0] as { nonce: number };
    const synAck = mptcp('SYN/ACK, MP_JOIN (16)')[0] as {
      nonce: number;
      truncatedHmac: bigint;
      addressId: number;
    };
    const ack = mptcp('ACK, MP_JOIN (24)')[0] as { hmac: Uint8Array };
    expect(synAck.truncatedHmac).toBe(joinSynAckHmac(keyB, keyA, synAck.nonce, syn.nonce));
    expect(Buffer.from(ack.hmac).toString('hex')).toBe(
      Buffer.from(joinAckHmac(keyA, keyB, syn.nonce, synAck.nonce)).toString('hex'),
    );
    const add = mptcp('ADD_ADDR (16)')[0] as { addressId: number; address: string; hmac: bigint };
    expect(add).toMatchObject({ addressId: 5, address: B2 });
    expect(add.hmac).toBe(addAddrHmac(keyB, keyA, 5, B2));
    expect(mptcp('DSS + REMOVE_ADDR (4)')[1]).toEqual({ subtype: 'REMOVE_ADDR', addressIds: [5] });
    expect(mptcp('DSS + MP_PRIO (3)')[1]).toEqual({ subtype: 'MP_PRIO', backup: true });
  });
});
