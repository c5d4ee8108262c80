/**
 * The per-VM boot configuration (contract B of the live image): `/etc/mplab/node.json` in a second
 * initramfs archive that the VM backend appends to the image's base initramfs. The guest's /init in
 * `mplab.mode=node` renames each NIC found by MAC, applies addresses, routes, rules and sysctls with
 * iproute2, installs the SSH host key mplab generated and the lab's authorized key, starts dropbear
 * and prints `mplab: node ready` on the serial console.
 *
 * Built from the planned NodeModel alone, so a VM node gets exactly the addresses, routes and source
 * rules a namespace node would.
 */
import { createHash } from 'node:crypto';
import { routeLine, ruleLine } from '../topology/iproute';
import type { NodeModel } from '../topology/model';

/** The management network (QEMU user-mode networking); lab plans must not overlap it. */
export const MGMT_NET = '10.254.254.0/24';
export const MGMT_HOST = '10.254.254.2';
export const MGMT_GUEST = '10.254.254.15';

export interface NodeBootConfig {
  hostname: string;
  /** `name`: the management NIC's name in the guest (the live image's default is eth0). */
  mgmt: { mac: string; name?: string; address: string; gateway: string };
  interfaces: { mac: string; name: string; mtu: number; addresses: string[] }[];
  /** `ip` argv arrays (without the leading "ip"), applied in order. */
  routes: string[][];
  rules: string[][];
  sysctls: Record<string, string>;
  sshHostKey: string;
  authorizedKeys: string[];
  /** The agent /init starts at boot when the image's own has this hash (node-config.ts). */
  agent?: BootAgent;
}

/** The image's agent bundle /init may start: the host bundle's SHA-256 (hex) and its arguments. */
export interface BootAgent {
  sha256: string;
  args: string[];
}

/** A locally administered unicast MAC derived from the lab, node and interface (stable across runs). */
export function vmMac(lab: string, node: string, iface: string): string {
  const h = createHash('sha256').update(`vm\0${lab}\0${node}\0${iface}`).digest();
  // 52:54:00 is QEMU's prefix; the rest from the hash keeps MACs of different VMs apart.
  return ['52', '54', '00', ...[0, 1, 2].map((i) => (h[i] as number).toString(16).padStart(2, '0'))].join(
    ':',
  );
}

/** The guest's configuration for a VM node. */
export function bootConfigOf(
  lab: string,
  node: NodeModel,
  keys: { hostPrivateKey: string; authorizedKey: string },
  agent?: BootAgent,
): NodeBootConfig {
  const sysctls: Record<string, string> = {};
  for (const [k, v] of Object.entries(node.sysctls)) sysctls[k] = String(v);
  if (node.forwarding) {
    sysctls['net.ipv4.ip_forward'] ??= '1';
    sysctls['net.ipv6.conf.all.forwarding'] ??= '1';
  }
  return {
    // a host name takes letters, digits and '-' only (node names may also have '_' and '.')
    hostname: node.name.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 63),
    mgmt: {
      mac: vmMac(lab, node.name, '@mgmt'),
      name: 'mgmt0',
      address: `${MGMT_GUEST}/24`,
      gateway: MGMT_HOST,
    },
    interfaces: node.interfaces.map((i) => ({
      mac: i.mac,
      name: i.name,
      mtu: i.mtu,
      addresses: i.addresses.map((a) => `${a.address}/${a.prefix}`),
    })),
    // the netns backend's own batch lines, as argv for `ip` in the guest (rules take their family
    // from the command line, not from the address)
    routes: node.routes.map((r) => routeLine(r).split(' ')),
    rules: node.rules.map((r) => [...(r.family === 6 ? ['-6'] : []), ...ruleLine(r).split(' ')]),
    sysctls,
    sshHostKey: keys.hostPrivateKey,
    authorizedKeys: [keys.authorizedKey],
    ...(agent ? { agent } : {}),
  };
}
