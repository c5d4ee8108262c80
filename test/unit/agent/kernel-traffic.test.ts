/**
 * The kernel end's struct decoding: buffers laid out as Linux fills them for getsockopt(SOL_MPTCP,
 * MPTCP_TCPINFO / MPTCP_SUBFLOW_ADDRS) and TCP_INFO (offsets from linux/tcp.h and linux/mptcp.h).
 */
import { describe, expect, it } from 'vitest';
import {
  decodeSockaddr,
  decodeSubflowData,
  decodeSubflows,
  decodeTcpInfo,
  ipv6Text,
  SUBFLOW_ADDRS_SIZE,
  SUBFLOW_DATA_SIZE,
  sockaddrOf,
  subflowDataRequest,
  TCP_INFO_SIZE,
} from '../../../stack/agent/kernel-traffic';

interface Info {
  mss: number;
  rttUs: number;
  cwnd: number;
  retrans: number;
  acked: bigint;
  received: bigint;
  sent: bigint;
}

function tcpInfo(b: Buffer, off: number, i: Info): void {
  b[off] = 1; // TCP_ESTABLISHED
  b.writeUInt32LE(i.mss, off + 16);
  b.writeUInt32LE(i.rttUs, off + 68);
  b.writeUInt32LE(i.cwnd, off + 80);
  b.writeUInt32LE(i.retrans, off + 100);
  b.writeBigUInt64LE(i.acked, off + 120);
  b.writeBigUInt64LE(i.received, off + 128);
  b.writeBigUInt64LE(i.sent, off + 200);
}

/** What the kernel writes back: the header with the count and its sizes, then the elements. */
function answer(
  elem: number,
  kernelSize: number,
  n: number,
  fill: (b: Buffer, off: number, k: number) => void,
) {
  const b = subflowDataRequest(elem, 4);
  b.writeUInt32LE(n, 4);
  b.writeUInt32LE(kernelSize, 8);
  for (let k = 0; k < Math.min(n, 4); k++) fill(b, SUBFLOW_DATA_SIZE + k * elem, k);
  return b;
}

const v4 = (b: Buffer, off: number, a: string, port: number) => sockaddrOf(a, port, false).copy(b, off);

describe('kernel traffic end: struct decoding', () => {
  it('the request header carries its own size and the element size, the rest zero', () => {
    const b = subflowDataRequest(TCP_INFO_SIZE, 2);
    expect(b.length).toBe(16 + 2 * 232);
    expect([b.readUInt32LE(0), b.readUInt32LE(4), b.readUInt32LE(8), b.readUInt32LE(12)]).toEqual([
      16, 0, 0, 232,
    ]);
    expect(decodeSubflowData(Buffer.alloc(8))).toBeUndefined();
  });

  it('sockaddr_in and sockaddr_in6 (v4-mapped shown as IPv4, zero runs compressed)', () => {
    const a = Buffer.alloc(16);
    a.writeUInt16LE(2, 0);
    a.writeUInt16BE(5001, 2);
    a.set([10, 0, 1, 2], 4);
    expect(decodeSockaddr(a)).toBe('10.0.1.2:5001');
    expect(decodeSockaddr(sockaddrOf('fd00:0:0:1::2', 443, true))).toBe('fd00:0:0:1::2:443');
    expect(decodeSockaddr(sockaddrOf('::ffff:10.0.2.1', 80, true))).toBe('10.0.2.1:80');
    expect(decodeSockaddr(sockaddrOf('', 7, true))).toBe(':::7');
    expect(decodeSockaddr(Buffer.alloc(16))).toBe('');
    expect(ipv6Text(Buffer.from('20010db8000000010000000000000001', 'hex'))).toBe('2001:db8:0:1::1');
    expect(ipv6Text(Buffer.from('20010db8000100020003000400050006', 'hex'))).toBe('2001:db8:1:2:3:4:5:6');
    expect(() => sockaddrOf('10.0.1', 1, false)).toThrow(/IPv4/);
    expect(() => sockaddrOf('fd00::g', 1, true)).toThrow(/IPv6/);
  });

  it('tcp_info fields at their offsets; a shorter kernel struct reads as zero past its end', () => {
    const b = Buffer.alloc(TCP_INFO_SIZE);
    tcpInfo(b, 0, { mss: 1448, rttUs: 2500, cwnd: 10, retrans: 3, acked: 5n, received: 6n, sent: 7n });
    expect(decodeTcpInfo(b)).toEqual({
      state: 1,
      mss: 1448,
      rttUs: 2500,
      cwndSegments: 10,
      totalRetrans: 3,
      bytesAcked: 5,
      bytesReceived: 6,
      bytesSent: 7,
    });
    expect(decodeTcpInfo(b, 0, 192).bytesSent).toBe(0);
    expect(decodeTcpInfo(b, 0, 192).bytesReceived).toBe(6);
  });

  it('MPTCP_TCPINFO + MPTCP_SUBFLOW_ADDRS: one figure per subflow, in the kernel order', () => {
    const infos: Info[] = [
      { mss: 1448, rttUs: 1200, cwnd: 20, retrans: 1, acked: 1_000_000n, received: 1n, sent: 1_000_100n },
      { mss: 1400, rttUs: 30_000, cwnd: 5, retrans: 0, acked: 2_000_000n, received: 1n, sent: 2_000_000n },
    ];
    // the kernel's tcp_info is larger than ours (a newer kernel): it copies our size, strides by it
    const ti = answer(TCP_INFO_SIZE, 248, 2, (b, off, k) => tcpInfo(b, off, infos[k] as Info));
    const ad = answer(SUBFLOW_ADDRS_SIZE, SUBFLOW_ADDRS_SIZE, 2, (b, off, k) => {
      v4(b, off, `10.0.${k + 1}.1`, 40000 + k);
      v4(b, off + 128, `10.0.${k + 1}.2`, 5001);
    });
    expect(decodeSubflows(ti, ad)).toEqual([
      {
        local: '10.0.1.1:40000',
        peer: '10.0.1.2:5001',
        bytesSent: 1_000_100,
        bytesAcked: 1_000_000,
        bytesReceived: 1,
        cwnd: 20 * 1448,
        rttMs: 1.2,
        mss: 1448,
        retrans: 1,
      },
      {
        local: '10.0.2.1:40001',
        peer: '10.0.2.2:5001',
        bytesSent: 2_000_000,
        bytesAcked: 2_000_000,
        bytesReceived: 1,
        cwnd: 5 * 1400,
        rttMs: 30,
        mss: 1400,
        retrans: 0,
      },
    ]);
  });

  it('an older kernel (smaller tcp_info) leaves the fields past its size zero', () => {
    const ti = answer(TCP_INFO_SIZE, 192, 1, (b, off) =>
      tcpInfo(b, off, { mss: 1448, rttUs: 1, cwnd: 1, retrans: 0, acked: 9n, received: 0n, sent: 9n }),
    );
    const ad = answer(SUBFLOW_ADDRS_SIZE, SUBFLOW_ADDRS_SIZE, 1, (b, off) => {
      v4(b, off, '10.0.1.1', 1);
      v4(b, off + 128, '10.0.1.2', 2);
    });
    const [s] = decodeSubflows(ti, ad) ?? [];
    expect(s?.bytesAcked).toBe(9);
    expect(s?.bytesSent).toBe(0);
  });

  it('counts that disagree (a subflow joined between the calls) ask for another try', () => {
    const ti = answer(TCP_INFO_SIZE, TCP_INFO_SIZE, 2, () => {});
    const ad = answer(SUBFLOW_ADDRS_SIZE, SUBFLOW_ADDRS_SIZE, 3, () => {});
    expect(decodeSubflows(ti, ad)).toBeUndefined();
  });

  it('more subflows than the buffer holds: the ones it holds', () => {
    const ti = answer(TCP_INFO_SIZE, TCP_INFO_SIZE, 6, () => {});
    const ad = answer(SUBFLOW_ADDRS_SIZE, SUBFLOW_ADDRS_SIZE, 6, (b, off, k) => {
      v4(b, off, '10.0.1.1', k + 1);
      v4(b, off + 128, '10.0.1.2', 9);
    });
    expect(decodeSubflows(ti, ad)?.map((s) => s.local)).toEqual([
      '10.0.1.1:1',
      '10.0.1.1:2',
      '10.0.1.1:3',
      '10.0.1.1:4',
    ]);
  });
});
