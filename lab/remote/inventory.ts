/**
 * The host inventory (`mplab up FILE --hosts hosts.yaml`, or MPLAB_HOSTS): which machines a lab may
 * spread over and how to reach them. Validated like topology files: every problem is reported at
 * its file:line:col, all at once, as a TopologyError (exit 2), before anything is contacted.
 *
 *   hosts:
 *     h1: { address: 192.0.2.11, port: 22, user: root, identity: ~/.ssh/id_ed25519, hostKey: "ssh-ed25519 AAAA…" }
 *     h2: { address: 192.0.2.12, user: root, identity: ~/.ssh/id_ed25519, knownHosts: ~/.ssh/known_hosts }
 *   vxlan: { port: 4789 }        # UDP port of the cross-host links (default 4789)
 *   placeOnLocal: true           # may unpinned nodes go to this machine (the implicit host "local")?
 *
 * Private keys are read here, in the controlling process, and only ever used to sign the SSH
 * authentication; nothing copies them anywhere.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import ssh2 from 'ssh2';
import * as z from 'zod';
import { TopologyError } from '../topology/model';
import { type Path, parseYaml, readSource } from '../topology/positions';
import { hostName } from '../topology/schema';
import { parsePublicKeyLine, type SshTarget } from './ssh';

export const LOCAL_HOST = 'local';
export const DEFAULT_VXLAN_PORT = 4789;

const port = z
  .number()
  .int({ error: 'a port is a whole number' })
  .min(1, { error: 'a port is 1..65535' })
  .max(65535, { error: 'a port is 1..65535' });

const hostSchema = z.strictObject({
  address: z.string().min(1, { error: 'the address of the host (IP or DNS name) is required' }),
  port: port.optional(),
  user: z.string().min(1).optional(),
  identity: z.string().min(1).optional(),
  hostKey: z.union([z.string(), z.array(z.string())]).optional(),
  knownHosts: z.string().min(1).optional(),
  /** The address other hosts send this host's VXLAN traffic to (default: `address`, which must be an IP then). */
  underlay: z.string().optional(),
});

const inventorySchema = z.strictObject({
  hosts: z.record(z.string(), hostSchema),
  vxlan: z.strictObject({ port: port.optional() }).optional(),
  placeOnLocal: z.boolean().optional(),
});

export interface HostSpec {
  name: string;
  address: string;
  port: number;
  user: string;
  /** Absolute path of the private key file. */
  identity: string;
  privateKey: Buffer;
  /** Pinned keys (from hostKey and knownHosts); empty = unknown until --accept-new-host-keys. */
  hostKeys: string[];
  /** Underlay IP for VXLAN. */
  underlay: string;
}

export interface Inventory {
  file: string;
  hosts: Map<string, HostSpec>;
  vxlanPort: number;
  placeOnLocal: boolean;
}

/** The target for SshSession.connect. */
export function sshTargetOf(h: HostSpec, extraKeys: string[] = []): SshTarget {
  return {
    host: h.address,
    port: h.port,
    user: h.user,
    privateKey: h.privateKey,
    hostKey: [...h.hostKeys, ...extraKeys],
    label: `host ${h.name}`,
  };
}

function expandPath(p: string, baseDir: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return isAbsolute(p) ? p : resolve(baseDir, p);
}

/** Lines of a known_hosts file that name `host` (plain, [host]:port, or hashed |1|salt|hash). */
export function knownHostsKeys(text: string, host: string, port: number): string[] {
  const name = port === 22 ? host : `[${host}]:${port}`;
  const out: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const words = line.split(/\s+/);
    // @revoked and @cert-authority lines pin no host key.
    if (words[0]?.startsWith('@')) continue;
    const [hosts, type, b64] = words;
    if (!hosts || !type || !b64) continue;
    const match = hosts.split(',').some((h) => {
      if (h.startsWith('|1|')) {
        const [, , salt, hash] = h.split('|');
        if (!salt || !hash) return false;
        return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
      }
      return h === name;
    });
    if (match) out.push(`${type} ${b64}`);
  }
  return out;
}

/** Reads and validates an inventory file; throws TopologyError listing every problem. */
export function loadInventory(file: string): Inventory {
  const source = readSource(file, 'hosts');
  const { doc, issues } = parseYaml(source, file);
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  const data = doc.toJS() as unknown;
  const parsed = inventorySchema.safeParse(data ?? {});
  if (!parsed.success) {
    for (const iss of parsed.error.issues) {
      const path = iss.path as Path;
      if (iss.code === 'unrecognized_keys')
        for (const k of iss.keys) issues.atKey([...path, k], `unknown key "${k}" (${known(path)})`);
      else if (iss.code === 'invalid_type' && iss.input === undefined)
        issues.at(path, `"${String(path[path.length - 1])}" is required`);
      else issues.at(path, iss.message);
    }
    throw new TopologyError(issues.sorted());
  }
  const baseDir = dirname(resolve(file));
  const hosts = new Map<string, HostSpec>();
  const underlays = new Map<string, string>();
  for (const [name, h] of Object.entries(parsed.data.hosts)) {
    const at = (k?: string): Path => (k ? ['hosts', name, k] : ['hosts', name]);
    if (name === LOCAL_HOST) {
      issues.atKey(at(), `"local" is this machine (the implicit host); give remote hosts other names`);
      continue;
    }
    const n = hostName.safeParse(name);
    if (!n.success) {
      issues.atKey(at(), n.error.issues[0]?.message ?? 'bad host name');
      continue;
    }
    const p = h.port ?? 22;
    const identity = expandPath(h.identity ?? '~/.ssh/id_ed25519', baseDir);
    let privateKey: Buffer | undefined;
    try {
      privateKey = readFileSync(identity);
      const k = ssh2.utils.parseKey(privateKey);
      if (k instanceof Error)
        issues.at(
          at(h.identity ? 'identity' : undefined),
          `${identity}: not a usable private key (${k.message}); keys with a passphrase are not supported: use an unencrypted lab key`,
        );
    } catch (e) {
      issues.at(
        at(h.identity ? 'identity' : undefined),
        `cannot read the private key ${identity}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}${h.identity ? '' : ' (no identity given; this is the default)'}`,
      );
    }
    const hostKeys: string[] = [];
    const pins = h.hostKey === undefined ? [] : Array.isArray(h.hostKey) ? h.hostKey : [h.hostKey];
    pins.forEach((line, i) => {
      if (parsePublicKeyLine(line)) hostKeys.push(line.trim());
      else
        issues.at(
          Array.isArray(h.hostKey) ? [...at('hostKey'), i] : at('hostKey'),
          'expected an OpenSSH public key line like "ssh-ed25519 AAAAC3Nza…" (the host\'s /etc/ssh/ssh_host_ed25519_key.pub)',
        );
    });
    if (h.knownHosts !== undefined) {
      const kh = expandPath(h.knownHosts, baseDir);
      try {
        const found = knownHostsKeys(readFileSync(kh, 'utf8'), h.address, p);
        if (found.length === 0)
          issues.at(at('knownHosts'), `${kh} has no key for ${p === 22 ? h.address : `[${h.address}]:${p}`}`);
        hostKeys.push(...found);
      } catch (e) {
        issues.at(
          at('knownHosts'),
          `cannot read ${kh}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
    }
    const underlay = h.underlay ?? h.address;
    if (isIP(underlay) === 0)
      issues.at(
        at(h.underlay !== undefined ? 'underlay' : 'address'),
        h.underlay !== undefined
          ? `underlay must be an IP address, got "${underlay}"`
          : `"${h.address}" is not an IP address: give the host's IP for VXLAN as underlay: (the address other hosts reach it at)`,
      );
    const other = underlays.get(underlay);
    if (other)
      issues.at(at(h.underlay !== undefined ? 'underlay' : 'address'), `host ${other} has this address too`);
    underlays.set(underlay, name);
    if (privateKey)
      hosts.set(name, {
        name,
        address: h.address,
        port: p,
        user: h.user ?? 'root',
        identity,
        privateKey,
        hostKeys,
        underlay,
      });
  }
  if (Object.keys(parsed.data.hosts).length === 0) issues.at(['hosts'], 'the inventory lists no hosts');
  if (issues.count > 0) throw new TopologyError(issues.sorted());
  return {
    file: resolve(file),
    hosts,
    vxlanPort: parsed.data.vxlan?.port ?? DEFAULT_VXLAN_PORT,
    placeOnLocal: parsed.data.placeOnLocal ?? true,
  };
}

function known(path: Path): string {
  if (path.length === 0) return 'known: hosts, vxlan, placeOnLocal';
  if (path[0] === 'vxlan') return 'known: port';
  return 'known: address, port, user, identity, hostKey, knownHosts, underlay';
}

/** The inventory file to use: the option, else $MPLAB_HOSTS, else none. */
export function inventoryPath(option: string | undefined): string | undefined {
  return option ?? (process.env.MPLAB_HOSTS || undefined);
}
