/**
 * The lab state: /run/mplab/<lab>/state.json holds everything needed to tear a lab down after a
 * crash. It is an intent log: every host object (namespace, veth, process, file) is recorded BEFORE
 * it is created, so `down` after a kill -9 in the middle of `up` still finds all of it. Writes are
 * atomic (temp file + rename) and synchronous, so a record is on disk before the next step runs.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from './errors';
import type { LabModel } from './topology/model';

export const STATE_VERSION = 1;

/** The directory all labs live under; MPLAB_RUN_DIR overrides it (tests, unprivileged dry runs). */
export function runDir(): string {
  return process.env.MPLAB_RUN_DIR ?? '/run/mplab';
}

export function labDir(lab: string): string {
  return join(runDir(), lab);
}

export type LabPhase = 'creating' | 'up' | 'failed' | 'destroying';

export interface VethRecord {
  /** Link id from the model. */
  link: string;
  a: { ns: string; ifname: string };
  b: { ns: string; ifname: string };
  /** Host (root namespace) names while the pair is being created, when the backend used any. */
  tmp?: [string, string];
}

export interface ProcessRecord {
  /** What the process is: an agent of a node, the link emulator, a capture. */
  kind: 'agent' | 'emulator' | 'capture' | 'vm';
  /** Node name (agents, captures) or link ids (emulator). */
  owner: string;
  /** The namespace it runs in, when it runs in one. */
  ns?: string;
  /** Known once spawned; absent means it may or may not have started (intent only). */
  pid?: number;
  /** Unix control socket, when it has one. */
  socket?: string;
  log?: string;
  /** A VM node's QEMU process (kind 'vm'): what status, exec, console and down need. */
  vm?: VmRecord;
}

export interface VmRecord {
  accel: 'kvm' | 'tcg';
  memoryMib: number;
  cpus: number;
  sshPort: number;
  /** The guest's pinned host key (OpenSSH public key line). */
  hostKey: string;
  qmp: string;
  console: string;
  serial: string;
  /** When QEMU was started and when the guest answered on SSH (ISO times). */
  startedAt?: string;
  readyAt?: string;
}

/** Current parameters of one direction of a link, as applied (for status and runtime changes). */
export interface AppliedLink {
  id: string;
  up: boolean;
  /** 'tc' (kernel qdiscs) or 'emulator' (userspace), or 'none' (plain veth, unshaped). */
  via: 'tc' | 'emulator' | 'none';
}

export interface LabState {
  version: number;
  lab: string;
  backend: string;
  /** The topology file it came from (absolute path). */
  file: string;
  createdAt: string;
  phase: LabPhase;
  /** The CLI/script process that ran `up`. */
  creator: number;
  /** Namespaces (netns backend) or containers: recorded before each is created. */
  namespaces: string[];
  veths: VethRecord[];
  processes: ProcessRecord[];
  /** Other files to remove on down (captures' temp files, logs outside the lab dir...). */
  files: string[];
  links: AppliedLink[];
  /** The resolved model, so status/link/exec work without the topology file. */
  model?: LabModel;
  /** Build timings in ms, by step. */
  timings?: Record<string, number>;
}

export function statePath(lab: string): string {
  return join(labDir(lab), 'state.json');
}

/** Thrown when `up` finds the lab already present. */
export class LabExistsError extends UsageError {
  constructor(readonly lab: string) {
    super(`lab '${lab}' already exists (${labDir(lab)}); run 'mplab down ${lab}' first`);
  }
}

/**
 * A state file being written: every mutation is followed by a synchronous atomic write.
 * `record()` is the intent-log primitive: mutate, persist, then the caller creates the object.
 */
export class StateFile {
  private constructor(
    readonly dir: string,
    readonly state: LabState,
  ) {}

  /** Claims /run/mplab/<lab> (atomic mkdir) and writes the initial state; refuses an existing lab. */
  static create(
    init: Omit<
      LabState,
      'version' | 'createdAt' | 'phase' | 'creator' | 'namespaces' | 'veths' | 'processes' | 'files' | 'links'
    >,
  ): StateFile {
    const dir = labDir(init.lab);
    mkdirSync(runDir(), { recursive: true, mode: 0o755 });
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new LabExistsError(init.lab);
      throw e;
    }
    const state: LabState = {
      version: STATE_VERSION,
      createdAt: new Date().toISOString(),
      phase: 'creating',
      creator: process.pid,
      namespaces: [],
      veths: [],
      processes: [],
      files: [],
      links: [],
      ...init,
    };
    const f = new StateFile(dir, state);
    f.save();
    return f;
  }

  /** Opens an existing lab's state for updates (down, link changes). */
  static open(lab: string): StateFile | undefined {
    const state = readState(lab);
    return state ? new StateFile(labDir(lab), state) : undefined;
  }

  /** Applies a change and persists it before returning. */
  record(mutate: (s: LabState) => void): void {
    mutate(this.state);
    this.save();
  }

  save(): void {
    const file = join(this.dir, 'state.json');
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(this.state, null, 1)}\n`, { mode: 0o600 });
    renameSync(tmp, file);
  }
}

/** Reads a lab's state; undefined when the lab has no state directory or the file is unreadable. */
export function readState(lab: string): LabState | undefined {
  let text: string;
  try {
    text = readFileSync(statePath(lab), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const s = JSON.parse(text) as LabState;
    if (typeof s !== 'object' || s === null || s.lab !== lab) return undefined;
    s.namespaces ??= [];
    s.veths ??= [];
    s.processes ??= [];
    s.files ??= [];
    s.links ??= [];
    return s;
  } catch {
    return undefined;
  }
}

/** Labs that have a directory under the run dir (with or without a readable state file). */
export function listLabs(): string[] {
  try {
    return readdirSync(runDir(), { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  } catch {
    return [];
  }
}

export function removeLabDir(lab: string): void {
  rmSync(labDir(lab), { recursive: true, force: true });
}
