/**
 * The per-VM configuration of a live image booted in `mplab.mode=node` (contract B in the VM
 * work): a second, uncompressed initramfs archive appended after the image's own, holding
 * /etc/mplab/node.json as the lab wrote it and the files /init applies — node.sh (NIC renames by
 * MAC, the ip batch, sysctls), ip.batch, the SSH host key and root's authorized_keys.
 * Every value that reaches a command line is checked to be a plain token first, so nothing here
 * needs shell quoting and a bad value is refused with its JSON path, not half-applied in the guest.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import { UsageError } from '../../errors';
import { type CpioEntry, cpioArchive } from './cpio';
import { BOOT_AGENT_PID, GUEST_AGENT_OUT, GUEST_DIR, IMAGE_AGENT } from './layout';

const token = z
  .string()
  .regex(/^[A-Za-z0-9._:/@+,=-]+$/, 'a plain token (letters, digits, . _ : / @ + , = -)');
const mac = z
  .string()
  .regex(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/, 'a lower-case MAC address like 52:54:00:12:34:56');
const ifname = z.string().regex(/^[A-Za-z0-9_.-]{1,15}$/, 'an interface name of 1-15 letters, digits, _ . -');

export const nodeBootConfigSchema = z.strictObject({
  hostname: z.string().regex(/^[A-Za-z0-9-]{1,63}$/, 'a host name (letters, digits, -)'),
  mgmt: z.strictObject({
    mac,
    /** Name of the management NIC in the guest (default eth0). */
    name: ifname.optional(),
    address: token,
    gateway: token.optional(),
  }),
  interfaces: z
    .array(
      z.strictObject({
        mac,
        name: ifname,
        mtu: z.number().int().min(68).max(65535).optional(),
        addresses: z.array(token).default([]),
      }),
    )
    .default([]),
  /** `ip` argv after "ip", e.g. ["route","add","default","via","10.0.1.254"]. */
  routes: z.array(z.array(token).min(1)).default([]),
  rules: z.array(z.array(token).min(1)).default([]),
  sysctls: z
    .record(
      z.string().regex(/^[a-z0-9_]+(\.[A-Za-z0-9_-]+)+$/, 'a sysctl name like net.ipv4.ip_forward'),
      z.string().regex(/^[^'\n\\]*$/, 'a value without quotes, backslashes or newlines'),
    )
    .default({}),
  /** The guest's SSH host key: an OpenSSH ed25519 private key. */
  sshHostKey: z.string().includes('BEGIN OPENSSH PRIVATE KEY'),
  authorizedKeys: z
    .array(z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-\S+) [A-Za-z0-9+/=]+( .*)?$/))
    .min(1),
  /**
   * The node's agent, started by /init before the SSH server when the image's own
   * /opt/mplab/dist/agent.js has this SHA-256 (the host's bundle): Node's start, seconds under an
   * emulated CPU, then overlaps the boot. Any other image's agent is left alone and the lab copies
   * its own in over SSH.
   */
  agent: z
    .strictObject({
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'a SHA-256 in lower-case hex'),
      args: z.array(token),
    })
    .optional(),
});

export type NodeBootConfig = z.input<typeof nodeBootConfigSchema>;
type Parsed = z.output<typeof nodeBootConfigSchema>;

/** Validates a node configuration; a bad field throws a UsageError naming its path. */
export function parseNodeBootConfig(cfg: unknown): Parsed {
  const r = nodeBootConfigSchema.safeParse(cfg);
  if (r.success) {
    const names = [r.data.mgmt.name ?? 'eth0', ...r.data.interfaces.map((i) => i.name)];
    const macs = [r.data.mgmt.mac, ...r.data.interfaces.map((i) => i.mac)];
    const dupName = names.find((n, i) => names.indexOf(n) !== i);
    if (dupName) throw new UsageError(`node config: interface name ${dupName} used twice`);
    const dupMac = macs.find((m, i) => macs.indexOf(m) !== i);
    if (dupMac) throw new UsageError(`node config: MAC ${dupMac} used twice`);
    return r.data;
  }
  const issue = r.error.issues[0];
  const where = issue?.path.length ? issue.path.join('.') : '(top level)';
  throw new UsageError(`node config: ${where}: ${issue?.message ?? 'invalid'}`);
}

/** The `ip -batch` lines: links up with their MTU, addresses, the management default, routes, rules. */
export function ipBatch(cfg: Parsed): string[] {
  const mgmt = cfg.mgmt.name ?? 'eth0';
  const lines = [`link set dev ${mgmt} up`, `addr add ${cfg.mgmt.address} dev ${mgmt}`];
  // The lab's own routes may set a default; the management one only catches what nothing else does.
  if (cfg.mgmt.gateway) lines.push(`route add default via ${cfg.mgmt.gateway} dev ${mgmt} metric 1000`);
  for (const i of cfg.interfaces) {
    lines.push(`link set dev ${i.name}${i.mtu ? ` mtu ${i.mtu}` : ''} up`);
    for (const a of i.addresses) lines.push(`addr add ${a} dev ${i.name}`);
  }
  for (const r of cfg.routes) lines.push(r.join(' '));
  for (const r of cfg.rules) lines.push(r.join(' '));
  return lines;
}

/** The script /init sources (its helpers rename_nic and finish_renames are defined there). */
export function nodeScript(cfg: Parsed): string {
  const lines = [
    '# written by mplab (lab/images/live/node-config.ts) from node.json',
    'set -e',
    `hostname ${cfg.hostname}`,
    `echo ${cfg.hostname} >/etc/hostname`,
    `rename_nic ${cfg.mgmt.mac} ${cfg.mgmt.name ?? 'eth0'}`,
    ...cfg.interfaces.map((i) => `rename_nic ${i.mac} ${i.name}`),
    'finish_renames',
    'ip -batch /etc/mplab/ip.batch',
    ...Object.entries(cfg.sysctls).map(([k, v]) => `echo '${v}' >/proc/sys/${k.replace(/\./g, '/')}`),
    'set +e',
    ...(cfg.agent ? bootAgentLines(cfg.agent) : []),
  ];
  return `${lines.join('\n')}\n`;
}

function bootAgentLines(agent: NonNullable<Parsed['agent']>): string[] {
  return [
    `if [ "$(sha256sum ${IMAGE_AGENT} 2>/dev/null | cut -d' ' -f1)" = ${agent.sha256} ]; then`,
    `  mkdir -p ${GUEST_DIR}`,
    `  setsid node ${IMAGE_AGENT} ${agent.args.join(' ')} </dev/null >>${GUEST_AGENT_OUT} 2>&1 &`,
    `  echo $! >${BOOT_AGENT_PID}`,
    'fi',
  ];
}

/** The config archive's entries. */
export function nodeConfigEntries(input: NodeBootConfig | Parsed): CpioEntry[] {
  const cfg = parseNodeBootConfig(input);
  const file = (path: string, text: string, mode = 0o644): CpioEntry => ({
    kind: 'file',
    path,
    mode,
    data: Buffer.from(text),
  });
  const key = cfg.sshHostKey.endsWith('\n') ? cfg.sshHostKey : `${cfg.sshHostKey}\n`;
  return [
    { kind: 'dir', path: 'etc' },
    { kind: 'dir', path: 'etc/mplab' },
    file('etc/mplab/node.json', `${JSON.stringify(input, null, 2)}\n`, 0o600),
    file('etc/mplab/node.sh', nodeScript(cfg)),
    file('etc/mplab/ip.batch', `${ipBatch(cfg).join('\n')}\n`),
    file('etc/mplab/nic-count', `${1 + cfg.interfaces.length}\n`),
    file('etc/mplab/ssh_host_key', key, 0o600),
    { kind: 'dir', path: 'root', mode: 0o700 },
    { kind: 'dir', path: 'root/.ssh', mode: 0o700 },
    file('root/.ssh/authorized_keys', `${cfg.authorizedKeys.join('\n')}\n`, 0o600),
  ];
}

/** Writes the node's config archive (uncompressed newc) to `outPath`. */
export function writeNodeConfigCpio(cfg: NodeBootConfig, outPath: string): void {
  writeFileSync(outPath, cpioArchive(nodeConfigEntries(cfg)), { mode: 0o600 });
}

/**
 * The one -initrd file a VM boots: the node's config archive, then the image's initramfs. This
 * order, not the reverse: Linux 6.1 does not find an archive after a zstd-compressed one ("invalid
 * magic at start of compressed archive"), while an uncompressed one before it is the usual
 * early-microcode layout. The image does not hold /etc/mplab/node.json, so nothing is overwritten.
 */
export function writeNodeInitrd(baseInitrd: string, cfg: NodeBootConfig, outPath: string): void {
  writeFileSync(outPath, Buffer.concat([cpioArchive(nodeConfigEntries(cfg)), readFileSync(baseInitrd)]), {
    mode: 0o600,
  });
}
