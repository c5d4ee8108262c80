/**
 * The Docker backend: each Docker node is a container (network mode none, labelled
 * `mplab.lab=<lab>`) whose network namespace is attached under the same name a namespace node
 * would have (`ip netns attach mplab-<lab>-<node> <pid>`). From then on links, addresses, routes,
 * shaping and the emulator treat both kinds alike through `ip -n`, which is what lets one topology
 * run in namespaces, in containers, or in both at once. Only what touches the node's own filesystem
 * differs: `exec` and the agent run inside the container (the image carries node and the agent).
 */
import { mkdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import Docker from 'dockerode';
import { RuntimeFailure } from '../errors';
import type { RunResult } from '../exec';
import { ipBatch } from '../exec';
import { NetnsBackend, parallel } from './netns';
import type { NodeModel } from '../topology/model';
import type { Backend, ExecOptions, WireSpec } from './types';

export const LAB_LABEL = 'mplab.lab';
export const NODE_LABEL = 'mplab.node';
/** Where agent sockets and logs live; mounted at the same path inside containers. */
export const RUN_DIR = '/run/mplab';

export interface DockerBackendOptions {
  lab: string;
  /** Handles (mplab-<lab>-<node>) of the nodes that are containers; the others are namespaces. */
  dockerHandles: Iterable<string>;
  /** The node image tag (see lab/images/build.ts). */
  image: string;
  /** Path of the agent inside the image. */
  agentPath: string;
  docker?: Docker;
}

export class DockerBackend implements Backend {
  readonly kind = 'docker';
  readonly docker: Docker;
  private readonly dockerHandles: Set<string>;
  /** Everything done through `ip -n` is the same for both kinds of node. */
  private readonly ns = new NetnsBackend();

  constructor(private readonly options: DockerBackendOptions) {
    this.docker = options.docker ?? new Docker();
    this.dockerHandles = new Set(options.dockerHandles);
  }

  handleOf(lab: string, node: string): string {
    return this.ns.handleOf(lab, node);
  }

  wireLinks(links: WireSpec[]): Promise<void> {
    return this.ns.wireLinks(links);
  }

  configureNodes(nodes: { node: NodeModel; handle: string; downIfaces: Set<string> }[]): Promise<void> {
    return this.ns.configureNodes(nodes);
  }

  tc(handle: string, lines: string[], force?: boolean): Promise<void> {
    return this.ns.tc(handle, lines, force);
  }

  setIfaceUp(handle: string, node: NodeModel, ifname: string, up: boolean): Promise<void> {
    return this.ns.setIfaceUp(handle, node, ifname, up);
  }

  pids(handle: string): Promise<number[]> {
    return this.ns.pids(handle);
  }

  /** Attached container namespaces are listed with the namespace nodes. */
  findAll(prefix: string): Promise<string[]> {
    return this.ns.findAll(prefix);
  }

  isContainer(handle: string): boolean {
    return this.dockerHandles.has(handle);
  }

  async createNodes(handles: string[]): Promise<void> {
    const namespaces = handles.filter((h) => !this.isContainer(h));
    const containers = handles.filter((h) => this.isContainer(h));
    if (namespaces.length) await this.ns.createNodes(namespaces);
    if (containers.length === 0) return;
    mkdirSync(RUN_DIR, { recursive: true, mode: 0o755 });
    const pids = new Map<string, number>();
    await parallel(containers, 4, async (handle) => {
      const node = handle.slice(`mplab-${this.options.lab}-`.length);
      const c = await this.docker.createContainer({
        name: handle,
        Hostname: node.slice(0, 63),
        Image: this.options.image,
        Labels: { [LAB_LABEL]: this.options.lab, [NODE_LABEL]: node },
        HostConfig: {
          NetworkMode: 'none',
          CapAdd: ['NET_ADMIN', 'NET_RAW'],
          Binds: [`${RUN_DIR}:${RUN_DIR}`],
          Init: false,
        },
      });
      await c.start();
      const info = await c.inspect();
      if (!info.State.Pid)
        throw new RuntimeFailure(`container ${handle} did not start: ${info.State.Error || 'no pid'}`);
      pids.set(handle, info.State.Pid);
    });
    // One batch attaches every container's namespace under the node's usual name.
    await ipBatch(
      null,
      containers.map((h) => `netns attach ${h} ${pids.get(h)}`),
    );
  }

  async exec(handle: string, argv: string[], options: ExecOptions = {}): Promise<RunResult> {
    if (!this.isContainer(handle)) return this.ns.exec(handle, argv, options);
    const container = this.docker.getContainer(handle);
    const exec = await container.exec({
      Cmd: argv,
      AttachStdin: options.input !== undefined,
      AttachStdout: true,
      AttachStderr: true,
      Env: options.env ? Object.entries(options.env).map(([k, v]) => `${k}=${v ?? ''}`) : undefined,
    });
    const stream = await exec.start({
      hijack: options.input !== undefined,
      stdin: options.input !== undefined,
    });
    const out = new PassThrough();
    const err = new PassThrough();
    let stdout = '';
    let stderr = '';
    const inherit = options.stdio === 'inherit';
    out.on('data', (d: Buffer) => (inherit ? process.stdout.write(d) : (stdout += d.toString('utf8'))));
    err.on('data', (d: Buffer) => (inherit ? process.stderr.write(d) : (stderr += d.toString('utf8'))));
    this.docker.modem.demuxStream(stream, out, err);
    if (options.input !== undefined) stream.end(options.input);
    const done = new Promise<void>((res, rej) => {
      stream.on('end', res);
      stream.on('close', res);
      stream.on('error', rej);
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = options.timeoutMs
      ? new Promise<void>((_, rej) => {
          timer = setTimeout(
            () => rej(new RuntimeFailure(`${argv.join(' ')} in ${handle} timed out`)),
            options.timeoutMs,
          );
        })
      : undefined;
    try {
      await (timeout ? Promise.race([done, timeout]) : done);
    } finally {
      if (timer) clearTimeout(timer);
    }
    const info = await exec.inspect();
    const code = info.ExitCode ?? 128;
    if (code !== 0 && !options.allowFail) {
      throw new RuntimeFailure(
        `${argv.join(' ')} in ${handle} failed (exit ${code})${stderr ? `: ${stderr.trim()}` : ''}`,
      );
    }
    return { code, stdout, stderr };
  }

  /**
   * Starts a long-lived process in the container (the agent: the host's node binary and script
   * are replaced by the image's), returning its host pid so the lab can watch and stop it.
   */
  spawnDetached(handle: string, argv: string[], logFile: string): number {
    if (!this.isContainer(handle)) return this.ns.spawnDetached(handle, argv, logFile);
    throw new RuntimeFailure('spawnDetached is asynchronous for containers: use spawnDetachedAsync');
  }

  async spawnDetachedAsync(handle: string, argv: string[], logFile: string): Promise<number> {
    if (!this.isContainer(handle)) return this.ns.spawnDetached(handle, argv, logFile);
    const cmd = this.inContainer(argv);
    const container = this.docker.getContainer(handle);
    // The shell redirects output to the log (a bind-mounted path) and execs the command, so the pid
    // docker reports is the command's own.
    const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', `exec ${quoted} >>'${logFile}' 2>&1`],
    });
    await exec.start({ Detach: true });
    for (let i = 0; i < 200; i++) {
      const info = await exec.inspect();
      if (info.Pid) return info.Pid;
      if (!info.Running && info.ExitCode !== null) {
        throw new RuntimeFailure(
          `${cmd.join(' ')} in ${handle} exited at once (exit ${info.ExitCode}); see ${logFile}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new RuntimeFailure(`${cmd.join(' ')} in ${handle} did not start`);
  }

  /** Maps a host command line (node + dist/agent.js) onto the image's binaries. */
  inContainer(argv: string[]): string[] {
    const [first, second, ...rest] = argv;
    if (first === process.execPath && second?.endsWith('agent.js'))
      return ['node', this.options.agentPath, ...rest];
    if (first === process.execPath) return ['node', ...(second ? [second] : []), ...rest];
    return argv;
  }

  async destroy(handles: string[]): Promise<void> {
    const containers = await this.containersOf(handles);
    await parallel(containers, 4, async (id) => {
      await this.docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch(() => {});
    });
    // Drop the attachments (and the namespaces of namespace nodes).
    await this.ns.destroy(handles);
  }

  /** Ids of existing containers named like the handles (or any of this lab's, when labelled). */
  private async containersOf(handles: string[]): Promise<string[]> {
    const wanted = new Set(handles);
    const list = await this.docker.listContainers({ all: true, filters: { label: [LAB_LABEL] } });
    return list.filter((c) => c.Names.some((n) => wanted.has(n.replace(/^\//, '')))).map((c) => c.Id);
  }
}

/** Every container any mplab lab made (for `down --all`), as ids. */
export async function allLabContainers(docker = new Docker(), lab?: string): Promise<string[]> {
  try {
    const filter = lab ? `${LAB_LABEL}=${lab}` : LAB_LABEL;
    const list = await docker.listContainers({ all: true, filters: { label: [filter] } });
    return list.map((c) => c.Id);
  } catch {
    return []; // no dockerd: there can be no containers either
  }
}

export async function removeContainers(ids: string[], docker = new Docker()): Promise<void> {
  await parallel(ids, 4, async (id) => {
    await docker
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => {});
  });
}

/** True when a Docker engine answers on its socket. */
export async function dockerAvailable(docker = new Docker()): Promise<boolean> {
  try {
    await docker.ping();
    return true;
  } catch {
    return false;
  }
}
