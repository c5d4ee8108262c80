/**
 * The kernel node report's parsers, on output captured from this machine's kernel (6.18, iproute2
 * 6.1): a client with a master subflow and two joins (one from its `subflow` endpoint, one to the
 * address the server announced).
 */
import { describe, expect, it } from 'vitest';
import {
  buildKernelReport,
  formatKernelReport,
  parseEndpoints,
  parseLimits,
  parseSsMptcp,
  parseSsSubflows,
  parseSysctl,
} from '../../../lab/kernel/report';

const SS_M =
  'ESTAB 0      0      10.77.1.1:36480 10.77.1.2:5201\n\t subflows:2 add_addr_accepted:1 subflows_max:4 add_addr_accepted_max:4 remote_key token:5d9e7d9 write_seq:48b92b346dd1857c snd_una:48b92b346dd1857c rcv_nxt:8c05c94ed3531e7f\n';
const SS_T =
  'ESTAB 0      0           10.77.1.1:36480 10.77.1.2:5201\n\t bbr wscale:10,10 rto:208 rtt:5.417/10.746 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:57 bytes_sent:66240 bytes_retrans:1080 bytes_acked:65161 segs_out:50 segs_in:8 data_segs_out:47 bbr:(bw:4170239472bps,mrtt:0.044,pacing_gain:2.88672,cwnd_gain:2.88672) send 121891822bps lastsnd:976 lastrcv:984 lastack:940 pacing_rate 11917925400bps delivery_rate 3262024bps delivered:48 busy:44ms retrans:0/1 dsack_dups:1 rcv_space:14480 rcv_ssthresh:64088 minrtt:0.044 snd_wnd:21504 tcp-ulp-mptcp flags:Mmec token:0000(id:0)/5d9e7d9(id:0) seq:8c05c94ed3531e7f sfseq:1 ssnoff:b66bab1c maplen:0\nESTAB 0      0           10.77.2.1:42551 10.77.2.2:5201\n\t bbr wscale:10,10 rto:208 rtt:4.118/8.208 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:32 bytes_sent:28968 bytes_acked:28969 segs_out:24 segs_in:6 data_segs_out:22 bbr:(bw:4633599720bps,mrtt:0.005,pacing_gain:2.88672,cwnd_gain:2.88672) send 90016513bps lastsnd:928 lastrcv:984 lastack:928 pacing_rate 19473735600bps delivery_rate 4633600000bps delivered:23 busy:44ms rcv_space:14480 rcv_ssthresh:64088 minrtt:0.005 snd_wnd:11264 tcp-ulp-mptcp flags:Jjec token:53d1262(id:1)/5d9e7d9(id:1) seq:8c05c94ed3531e7f sfseq:0 ssnoff:c7a84dda maplen:0                                        \nESTAB 0      0      10.77.2.1%fxa2:59979 10.77.1.2:5201\n\t bbr wscale:10,10 rto:212 rtt:10.663/18.649 mss:1448 pmtu:1500 rcvmss:536 advmss:1448 cwnd:36 bytes_sent:34544 bytes_acked:34545 segs_out:28 segs_in:4 data_segs_out:26 bbr:(bw:3619392bps,mrtt:0.011,pacing_gain:2.88672,cwnd_gain:2.88672) send 39109444bps lastsnd:920 lastrcv:984 lastack:892 pacing_rate 30095773920bps delivery_rate 3619696bps delivered:27 busy:92ms rcv_space:14480 rcv_ssthresh:64088 minrtt:0.011 snd_wnd:10240 tcp-ulp-mptcp flags:Jjec token:53d1262(id:0)/5d9e7d9(id:1) seq:8c05c94ed3531e7f sfseq:0 ssnoff:44ebf344 maplen:0                                            \n';
const ENDPOINTS = '[{"address":"10.77.2.1","id":1,"subflow":true,"dev":"fxa2"}]\n';
const LIMITS = 'add_addr_accepted 4 subflows 4 \n';
const SYSCTL =
  'net.mptcp.add_addr_timeout = 120\nnet.mptcp.allow_join_initial_addr_port = 1\nnet.mptcp.available_path_managers = kernel userspace\nnet.mptcp.available_schedulers = default\nnet.mptcp.blackhole_timeout = 3600\nnet.mptcp.checksum_enabled = 0\nnet.mptcp.close_timeout = 60\nnet.mptcp.enabled = 1\nnet.mptcp.path_manager = kernel\nnet.mptcp.pm_type = 0\nnet.mptcp.scheduler = default\nnet.mptcp.stale_loss_cnt = 4\nnet.mptcp.syn_retrans_before_tcp_fallback = 2\n';

describe('kernel report parsers', () => {
  it('ss -Mni: the MPTCP socket with its mptcp_info', () => {
    const [s, ...rest] = parseSsMptcp(SS_M);
    expect(rest).toEqual([]);
    expect(s).toMatchObject({
      state: 'ESTAB',
      local: '10.77.1.1:36480',
      peer: '10.77.1.2:5201',
      token: '5d9e7d9',
      subflows: 2,
      subflowsMax: 4,
      addAddrAccepted: 1,
      addAddrAcceptedMax: 4,
      writeSeq: '48b92b346dd1857c',
      sndUna: '48b92b346dd1857c',
      rcvNxt: '8c05c94ed3531e7f',
    });
    expect(s?.flags).toContain('remote_key');
  });

  it('ss -tni: subflows with token pair, ids, flags and figures', () => {
    const sfs = parseSsSubflows(SS_T);
    expect(sfs).toHaveLength(3);
    const [master, join1, join2] = sfs;
    expect(master).toMatchObject({
      local: '10.77.1.1:36480',
      token: '5d9e7d9',
      localId: 0,
      flags: 'Mmec',
      join: false,
      mss: 1448,
      cwnd: 57,
      bytesSent: 66240,
      bytesAcked: 65161,
      bytesRetrans: 1080,
    });
    expect(master?.rttMs).toBeCloseTo(5.417);
    expect(join1).toMatchObject({
      local: '10.77.2.1:42551',
      peer: '10.77.2.2:5201',
      join: true,
      localId: 1,
      remoteId: 1,
    });
    expect(join2).toMatchObject({
      local: '10.77.2.1:59979',
      dev: 'fxa2',
      peer: '10.77.1.2:5201',
      join: true,
      localId: 1,
      remoteId: 0,
    });
    // Plain TCP sockets are not subflows.
    expect(parseSsSubflows('ESTAB 0 0 10.0.0.1:22 10.0.0.2:5000\n\t cubic rtt:1/1 cwnd:10\n')).toEqual([]);
  });

  it('ip mptcp endpoint / limits, sysctl', () => {
    expect(parseEndpoints(ENDPOINTS)).toEqual([
      { address: '10.77.2.1', id: 1, dev: 'fxa2', flags: ['subflow'] },
    ]);
    expect(parseEndpoints('')).toEqual([]);
    expect(parseEndpoints('[{"address":"10.0.0.1","id":3,"flags":["signal","backup"]}]')[0]?.flags).toEqual([
      'signal',
      'backup',
    ]);
    expect(parseLimits(LIMITS)).toEqual({ subflows: 4, addAddrAccepted: 4 });
    const sc = parseSysctl(SYSCTL);
    expect(sc['net.mptcp.enabled']).toBe('1');
    expect(sc['net.mptcp.checksum_enabled']).toBe('0');
  });

  it('builds the report: every subflow under its connection, and a readable text', () => {
    const r = buildKernelReport('k1', {
      ssMptcp: SS_M,
      ssTcp: SS_T,
      endpoints: ENDPOINTS,
      limits: LIMITS,
      sysctl: SYSCTL,
    });
    expect(r.connections).toHaveLength(1);
    expect(r.connections[0]?.subflowList).toHaveLength(3);
    expect(r.orphanSubflows).toEqual([]);
    const text = formatKernelReport(r);
    expect(text).toMatch(/net\.mptcp\.enabled=1/);
    expect(text).toMatch(/limits: subflows 4, add_addr_accepted 4/);
    expect(text).toMatch(/id 1 +10\.77\.2\.1 dev fxa2 +subflow/);
    expect(text).toMatch(
      /connection 10\.77\.1\.1:36480 -> 10\.77\.1\.2:5201 ESTAB token 5d9e7d9 +subflows 2\/4/,
    );
    expect(text.match(/^ {2}(master|join)/gm)).toHaveLength(3);
  });

  it('IPv6 and IPv4-mapped endpoints', () => {
    const s = parseSsMptcp('ESTAB 0 0 [::ffff:10.0.0.1]:5201 [fd00::2]:40000\n\t subflows:1 token:abc\n');
    expect(s[0]?.local).toBe('10.0.0.1:5201');
    expect(s[0]?.peer).toBe('[fd00::2]:40000');
  });
});
