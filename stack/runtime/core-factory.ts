/**
 * The one place that builds the protocol core for the runtime. Everything else codes against
 * NetCore (stack/core/contract.ts), so the core can be swapped here.
 */
import type { NetCore } from '../core/contract';
import type { Sysctl } from '../sysctl';

export type CoreKind = 'mptcp' | 'tcp';

export interface CoreFactoryOptions {
  sysctl: Sysctl;
}

export function createCore(_options: CoreFactoryOptions): { core: NetCore; kind: CoreKind } {
  throw Object.assign(new Error('no protocol core is available yet (stack/tcp/host.ts, stack/mptcp/)'), {
    code: 'ENOSYS',
  });
}
