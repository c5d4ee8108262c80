/**
 * tshark options that keep a capture's payload opaque. The tests send random bytes; a payload
 * dissector that claims them says nothing about IP, TCP or MPTCP but can still mark packets
 * malformed: a heuristic one (random bytes that look like Thrift), or one registered on a port the
 * connection uses (an ephemeral port that is TDS's or ENIP's), which then reassembles "PDUs" across
 * our retransmissions and reports "New fragment overlaps old data (retransmission?)".
 */
import { execFileSync } from 'node:child_process';

let tcpHeuristics: string[] | undefined;

/**
 * Every TCP heuristic dissector turned off, and the payload on `ports` (the listener's, the low
 * port, which Wireshark tries first) decoded as plain data.
 */
export function opaquePayload(ports: readonly number[] = []): string[] {
  tcpHeuristics ??= execFileSync('tshark', ['-G', 'heuristic-decodes'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  })
    .split('\n')
    .map((l) => l.split('\t'))
    .filter((c) => c[0] === 'tcp' && c[1])
    .map((c) => c[1]!);
  return [
    ...tcpHeuristics.flatMap((h) => ['--disable-protocol', h]),
    ...ports.flatMap((p) => ['-d', `tcp.port==${p},data`]),
  ];
}
