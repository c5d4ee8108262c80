/**
 * The controller's record of a multi-host lab: /run/mplab/<lab>/cluster.json beside the state of
 * this machine's own share. Written before any remote host is asked to build anything, so `down`
 * after a crash of `up` knows every host to clean; each host keeps its own share's state itself.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { labDir } from '../state';
import type { LabModel } from '../topology/model';
import type { CrossLink } from './placement';

export interface ClusterHostRecord {
  name: string;
  address: string;
  port: number;
  user: string;
  /** Path of the private key on this machine (the key itself is never stored or copied). */
  identity: string;
  /** Keys this lab trusts for the host: pinned in the inventory, or accepted with --accept-new-host-keys. */
  hostKeys: string[];
  underlay: string;
  /** Where host.js, agent.js and emulator.js were deployed on the host. */
  deployDir: string;
  /** `sudo -n` in front of every command (the user is not root). */
  sudo: boolean;
  nodes: string[];
}

export interface ClusterRecord {
  version: 1;
  lab: string;
  inventory: string;
  /** The whole lab's model (this machine's share is in state.json). */
  model: LabModel;
  hosts: ClusterHostRecord[];
  /** Node -> host (`local` for this machine). */
  hostOf: Record<string, string>;
  cross: CrossLink[];
  vxlanPort: number;
}

export function clusterPath(lab: string): string {
  return join(labDir(lab), 'cluster.json');
}

export function readClusterRecord(lab: string): ClusterRecord | undefined {
  try {
    const r = JSON.parse(readFileSync(clusterPath(lab), 'utf8')) as ClusterRecord;
    return r.version === 1 && r.lab === lab ? r : undefined;
  } catch {
    return undefined;
  }
}

export function writeClusterRecord(r: ClusterRecord): void {
  const file = clusterPath(r.lab);
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(r, null, 1)}\n`, { mode: 0o600 });
  renameSync(tmp, file);
}
