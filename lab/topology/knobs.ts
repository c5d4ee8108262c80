// Knob checks at load time, per node stack: names and values of `stack: ts` nodes against the
// stack's own registry (stack/sysctl.ts); `stack: kernel` nodes accept the knobs the lab maps onto
// the kernel's MPTCP, the kernel-compatible TCP knobs, and the kernel's own net.mptcp names.

import { KNOBS, normalizeKnobName, Sysctl, SysctlError } from '../../stack/sysctl';
import type { StackKind } from './model';
import { didYouMean } from './suggest';

/** Our knobs the lab translates for a kernel node (sysctl or `ip mptcp limits`). */
export const KERNEL_MAPPED_KNOBS: readonly string[] = [
  'net.mptcp.mptcp_enabled',
  'net.mptcp.mptcp_checksum',
  'net.mptcp.mptcp_ndiffports',
];

/** Knobs of our registry that have the same name and meaning in the kernel. */
export const KERNEL_SHARED_KNOBS: readonly string[] = [
  'net.ipv4.tcp_rmem',
  'net.ipv4.tcp_wmem',
  'net.ipv4.tcp_congestion_control',
  'net.ipv4.tcp_sack',
  'net.ipv4.tcp_timestamps',
  'net.ipv4.tcp_window_scaling',
  'net.ipv4.tcp_syn_retries',
  'net.ipv4.tcp_fin_timeout',
];

/** The Linux kernel's own net.mptcp sysctls (upstream MPTCP, v5.6+), written through as they are. */
export const KERNEL_NATIVE_KNOBS: readonly string[] = [
  'net.mptcp.enabled',
  'net.mptcp.checksum_enabled',
  'net.mptcp.add_addr_timeout',
  'net.mptcp.allow_join_initial_addr_port',
  'net.mptcp.stale_loss_cnt',
  'net.mptcp.pm_type',
  'net.mptcp.path_manager',
  'net.mptcp.scheduler',
  'net.mptcp.close_timeout',
  'net.mptcp.blackhole_timeout',
];

const TS_NAMES = KNOBS.map((k) => k.name);

export type KnobCheck =
  | { ok: true; name: string; value: string | number }
  | { ok: false; where: 'key' | 'value'; message: string };

/** Validates one knob for a node running `stack`. Returns the normalized name and value. */
export function checkKnob(stack: StackKind, rawName: string, value: string | number): KnobCheck {
  const name = normalizeKnobName(rawName);
  if (stack === 'none')
    return { ok: false, where: 'key', message: 'a node without a stack (stack: none) takes no knobs' };
  const registry = new Sysctl();
  if (stack === 'kernel') {
    if (KERNEL_NATIVE_KNOBS.includes(name)) {
      if (typeof value === 'number' && !Number.isInteger(value))
        return { ok: false, where: 'value', message: `${name} takes a whole number or a string` };
      return { ok: true, name, value };
    }
    if (!KERNEL_MAPPED_KNOBS.includes(name) && !KERNEL_SHARED_KNOBS.includes(name)) {
      if (registry.has(name))
        return {
          ok: false,
          where: 'key',
          message:
            `knob "${rawName}" exists only in mplab's stack (stack: ts); the kernel's MPTCP has no ` +
            `equivalent. A kernel node accepts ${[...KERNEL_MAPPED_KNOBS, ...KERNEL_SHARED_KNOBS].join(', ')} ` +
            `and the kernel's own net.mptcp.* names`,
        };
      const all = [...KERNEL_MAPPED_KNOBS, ...KERNEL_SHARED_KNOBS, ...KERNEL_NATIVE_KNOBS];
      return {
        ok: false,
        where: 'key',
        message: `unknown knob "${rawName}" for a kernel node${didYouMean(name, all)}`,
      };
    }
  }
  if (!registry.has(name))
    return { ok: false, where: 'key', message: `unknown knob "${rawName}"${didYouMean(name, TS_NAMES)}` };
  try {
    return { ok: true, name, value: registry.set(name, value) };
  } catch (e) {
    if (e instanceof SysctlError) return { ok: false, where: 'value', message: e.message };
    throw e;
  }
}
