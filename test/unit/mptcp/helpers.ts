import { MptcpHost, type MptcpHostOptions } from '../../../stack/mptcp/host';
import type { CoreFactory } from '../../../stack/sim/types';
import { Sysctl } from '../../../stack/sysctl';

/** A factory of MPTCP hosts for the simulator, with knobs; seeded randomness, no CSPRNG needed. */
export function mptcpFactory(
  knobs: Record<string, number | string> = {},
  extra: Partial<MptcpHostOptions> = {},
): CoreFactory {
  return (info) => {
    const rng = info.rng.fork('mptcp');
    return new MptcpHost({
      sysctl: new Sysctl(knobs),
      random: () => rng.nextU32(),
      isnSecret: new Uint8Array(16).map(() => rng.nextU32() & 0xff),
      keygen: () => (BigInt(rng.nextU32()) << 32n) | BigInt(rng.nextU32()) || 1n,
      ...extra,
    });
  };
}

export function hostOf(core: unknown): MptcpHost {
  if (!(core instanceof MptcpHost)) throw new Error('not an MptcpHost');
  return core;
}
