// IPv4/IPv6 address and prefix arithmetic for the addressing plan. Addresses are bigints so both
// families share one code path; formatting follows RFC 5952 for IPv6.

import { formatIPv6, parseIPv4, parseIPv6 } from '../../stack/wire/ip';
import type { Family } from './model';

export interface Ip {
  family: Family;
  value: bigint;
}

export interface Cidr {
  family: Family;
  /** The address as written (not masked). */
  addr: bigint;
  prefix: number;
}

export function bits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** Big-endian bytes as one number. */
function toBig(b: Uint8Array): bigint {
  let v = 0n;
  for (let i = 0; i < b.length; i++) v = (v << 8n) | BigInt(b[i]!);
  return v;
}

/** IPv4 text as a number, by the stack's one parser (stack/wire/ip.ts). */
export function parseIpv4(s: string): bigint | undefined {
  const b = parseIPv4(s);
  return b ? toBig(b) : undefined;
}

/** IPv6 text (RFC 4291 §2.2, embedded IPv4 tail allowed) as a number, by the stack's parser. */
export function parseIpv6(s: string): bigint | undefined {
  const b = parseIPv6(s);
  return b ? toBig(b) : undefined;
}

export function parseIpValue(s: string): Ip | undefined {
  const v4 = parseIpv4(s);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = s.includes(':') ? parseIpv6(s) : undefined;
  if (v6 !== undefined) return { family: 6, value: v6 };
  return undefined;
}

export type CidrResult = { ok: true; cidr: Cidr } | { ok: false; message: string };

/** "10.0.1.1/24", "fd00::1/64". `requirePrefix` false lets a bare address default to /32 or /128. */
export function parseCidr(s: string, requirePrefix = true): CidrResult {
  const slash = s.indexOf('/');
  const addrText = slash < 0 ? s : s.slice(0, slash);
  const ip = parseIpValue(addrText.trim());
  if (!ip) return { ok: false, message: `"${addrText}" is not an IPv4 or IPv6 address` };
  let prefix = bits(ip.family);
  if (slash < 0) {
    if (requirePrefix)
      return {
        ok: false,
        message: `"${s}" has no prefix length: write it as "${s}/${ip.family === 4 ? 24 : 64}"`,
      };
  } else {
    const p = s.slice(slash + 1).trim();
    if (!/^[0-9]{1,3}$/.test(p) || Number(p) > bits(ip.family))
      return {
        ok: false,
        message: `bad prefix length "/${p}" in "${s}": expected 0..${bits(ip.family)} for IPv${ip.family}`,
      };
    prefix = Number(p);
  }
  return { ok: true, cidr: { family: ip.family, addr: ip.value, prefix } };
}

export function mask(family: Family, prefix: number): bigint {
  const b = BigInt(bits(family));
  const hostBits = b - BigInt(prefix);
  return ((1n << b) - 1n) ^ ((1n << hostBits) - 1n);
}

export function network(c: Cidr): bigint {
  return c.addr & mask(c.family, c.prefix);
}

export function hostPart(c: Cidr): bigint {
  return c.addr & ~mask(c.family, c.prefix) & ((1n << BigInt(bits(c.family))) - 1n);
}

/** Whether two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  const p = Math.min(a.prefix, b.prefix);
  const m = mask(a.family, p);
  return (a.addr & m) === (b.addr & m);
}

export function formatIpv4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
}

/** RFC 5952 text (the wire codec's formatter): lower case, the longest zero run as "::". */
export function formatIpv6(v: bigint): string {
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = Number((v >> BigInt((15 - i) * 8)) & 0xffn);
  return formatIPv6(b);
}

export function formatIp(family: Family, v: bigint): string {
  return family === 4 ? formatIpv4(v) : formatIpv6(v);
}

/** "10.0.1.0/24" — the masked network. */
export function formatSubnet(c: Cidr): string {
  return `${formatIp(c.family, network(c))}/${c.prefix}`;
}

/** Number of usable host numbers in a subnet: 1 .. size-2 for IPv4 (< /31), else all but 0. */
export function hostRange(family: Family, prefix: number): { first: bigint; last: bigint } {
  const size = 1n << BigInt(bits(family) - prefix);
  if (family === 4 && prefix >= 31) return { first: 0n, last: size - 1n };
  if (family === 4) return { first: 1n, last: size - 2n };
  if (prefix >= 127) return { first: 0n, last: size - 1n };
  return { first: 1n, last: size - 1n };
}
