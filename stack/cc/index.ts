/**
 * The congestion-control registry, by name. 'reno' and 'cubic' are built in; the MPTCP layer
 * registers its coupled algorithms ('lia', 'olia', 'balia') with `registerCc`.
 */
import { createCubic } from './cubic';
import { createReno } from './reno';
import type { CcFactory, CcInit, CongestionControl } from './types';

export type { AckSample, CcFactory, CcGroup, CcInit, CcSubflowView, CongestionControl } from './types';
export { LossBasedCc } from './types';
export { Reno, createReno } from './reno';
export { Cubic, createCubic, CUBIC_BETA, CUBIC_C } from './cubic';

const registry = new Map<string, CcFactory>([
  ['reno', createReno],
  ['cubic', createCubic],
]);

export function registerCc(name: string, factory: CcFactory): void {
  registry.set(name, factory);
}

export function ccNames(): string[] {
  return [...registry.keys()];
}

export function hasCc(name: string): boolean {
  return registry.has(name);
}

export function getCcFactory(name: string): CcFactory {
  const f = registry.get(name);
  if (!f) throw new Error(`unknown congestion control '${name}' (known: ${ccNames().join(', ')})`);
  return f;
}

export function createCc(name: string, init: CcInit): CongestionControl {
  return getCcFactory(name)(init);
}
