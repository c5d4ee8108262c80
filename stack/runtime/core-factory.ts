/**
 * The one place that builds the protocol core for the runtime. Everything else codes against
 * NetCore (stack/core/contract.ts), so the core can be swapped here.
 *
 * The core is the MPTCP host (stack/mptcp/host.ts); it also serves plain TCP peers (fallback) and
 * runs plain TCP when net.mptcp.mptcp_enabled = 0. `kind: 'tcp'` builds the plain-TCP host
 * (stack/tcp/host.ts) instead, for comparisons.
 */
import type { NetCore } from '../core/contract';
import { MptcpHost } from '../mptcp/host';
import type { CoreReport } from '../report';
import type { Sysctl } from '../sysctl';
import type { TcbConfig } from '../tcp/tcb';
import { TcpHost } from '../tcp/host';

export type CoreKind = 'mptcp' | 'tcp';

export interface CoreFactoryOptions {
  sysctl: Sysctl;
  kind?: CoreKind;
  /** Extra subflow settings (e.g. userTimeoutMs, rcvBuf). */
  tcb?: Partial<TcbConfig>;
  /** Compute and verify TCP checksums (default true; the UDP checksum also covers the datagram). */
  checksums?: boolean;
  /** Path-specific MSS per local address (the MPTCP host reads it by reference). */
  mssByAddress?: Record<string, number>;
}

export interface BuiltCore {
  core: NetCore;
  kind: CoreKind;
  /** The core's state report (stack/report.ts), when the core has one. */
  report?: () => CoreReport;
  /** Segments the core dropped as undecodable or with a bad checksum. */
  dropped?: () => number;
}

export function createCore(options: CoreFactoryOptions): BuiltCore {
  if (options.kind === 'tcp') {
    const core = new TcpHost({ tcb: options.tcb, checksums: options.checksums });
    return { core, kind: 'tcp', dropped: () => core.counters.badSegments };
  }
  // The host takes its MSS per address from mssByAddress; our tcb.mss (the plain host's) stays out.
  const { mss: _plainMss, ...tcb } = options.tcb ?? {};
  const core = new MptcpHost({
    sysctl: options.sysctl,
    tcb,
    checksums: options.checksums,
    mssByAddress: options.mssByAddress,
  });
  return {
    core,
    kind: 'mptcp',
    report: () => core.report(),
    dropped: () => core.stats.badSegments + core.stats.badChecksums,
  };
}
