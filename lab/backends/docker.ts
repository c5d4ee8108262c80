/**
 * The Docker backend: each Docker node is a container (network mode none, labelled
 * `mplab.lab=<lab>`) whose network namespace is attached under the same name a namespace node
 * would have (`ip netns attach mplab-<lab>-<node> <pid>`). From then on links, addresses, routes,
 * shaping and the emulator treat both kinds alike through `ip -n`, which is what lets one topology
 * run in namespaces, in containers, or in both at once. Only what touches the node's own filesystem
 * differs: `exec` and the agent run inside the container (the image carries node and the agent).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { RuntimeFailure } from '../errors';
import type { CommandResult } from '../exec';
import { ipBatch } from '../exec';
import { runDir } from '../state';
import { NetnsBackend, parallel } from './netns';
import type { NodeModel } from '../topology/model';
import type { Backend, ExecOptions, WireSpec } from './types';

export const LAB_LABEL = 'mplab.lab';
export const NODE_LABEL = 'mplab.node';
const DOCKER_SOCKET = '/var/run/docker.sock';

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

/** dockerode, loaded on first use so commands that never touch Docker don't pay for it. */
export async function dockerApi(): Promise<Docker> {
  const { default: Dockerode } = await import('dockerode');
  return new Dockerode();
}

export class DockerBackend implements Backend {
  readonly kind = 'docker';
  private client: Docker | undefined;
  private readonly dockerHandles: Set<string>;
  /** Everything done through `ip -n` is the same for both kinds of node. */
  private readonly ns = new NetnsBackend();

  constructor(private readonly options: DockerBackendOptions) {
    this.client = options.docker;
    this.dockerHandles = new Set(options.dockerHandles);
  }

  private async docker(): Promise<Docker> {
    this.client ??= await dockerApi();
    return this.client;
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
    // Agent sockets and logs live in the run directory, mounted at the same path inside containers.
    const dir = runDir();
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    const pids = new Map<string, number>();
    await parallel(containers, 4, async (handle) => {
      const node = handle.slice(`mplab-${this.options.lab}-`.length);
      const c = await (await this.docker()).createContainer({
        name: handle,
        Hostname: node.slice(0, 63),
        Image: this.options.image,
        Labels: { [LAB_LABEL]: this.options.lab, [NODE_LABEL]: node },
        HostConfig: {
          NetworkMode: 'none',
          CapAdd: ['NET_ADMIN', 'NET_RAW'],
          Binds: [`${dir}:${dir}`],
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

  async exec(handle: string, argv: string[], options: ExecOptions = {}): Promise<CommandResult> {
    if (!this.isContainer(handle)) return this.ns.exec(handle, argv, options);
    const docker = await this.docker();
    const container = docker.getContainer(handle);
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
    docker.modem.demuxStream(stream, out, err);
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
    const container = (await this.docker()).getContainer(handle);
    // The shell redirects output to the log (a bind-mounted path) and execs the command, so the pid
    // docker reports is the command's own.
    const quoted = cmd.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const exec = await container.exec({
      Cmd: ['/bin/sh', '-c', `exec ${quoted} >>'${logFile}' 2>&1`],
    });
    // A detached start still answers with a stream; left open it would keep the CLI alive.
    const started = (await exec.start({ Detach: true })) as unknown as { destroy?: () => void } | undefined;
    started?.destroy?.();
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
    if (this.dockerHandles.size > 0)
      await removeContainers(await this.containersOf(handles), await this.docker());
    // Drop the attachments (and the namespaces of namespace nodes).
    await this.ns.destroy(handles);
  }

  /** Ids of existing containers named like the handles (or any of this lab's, when labelled). */
  private async containersOf(handles: string[]): Promise<string[]> {
    const wanted = new Set(handles);
    const list = await (await this.docker()).listContainers({ all: true, filters: { label: [LAB_LABEL] } });
    return list.filter((c) => c.Names.some((n) => wanted.has(n.replace(/^\//, '')))).map((c) => c.Id);
  }
}

/** Every container any mplab lab made (for `down --all`), as ids. */
export async function allLabContainers(lab?: string, filter?: (lab: string) => boolean): Promise<string[]> {
  if (!existsSync(DOCKER_SOCKET)) return [];
  try {
    const docker = await dockerApi();
    const list = await docker.listContainers({
      all: true,
      filters: { label: [lab ? `${LAB_LABEL}=${lab}` : LAB_LABEL] },
    });
    return list.filter((c) => !filter || filter(c.Labels[LAB_LABEL] ?? '')).map((c) => c.Id);
  } catch {
    return []; // no dockerd: there can be no containers either
  }
}

export async function removeContainers(ids: string[], docker?: Docker): Promise<void> {
  if (ids.length === 0) return;
  const api = docker ?? (await dockerApi());
  await parallel(ids, 4, async (id) => {
    await api
      .getContainer(id)
      .remove({ force: true, v: true })
      .catch(() => {});
  });
}

/** True when a Docker engine answers on its socket. */
export async function dockerAvailable(): Promise<boolean> {
  if (!existsSync(DOCKER_SOCKET)) return false;
  try {
    await (await dockerApi()).ping();
    return true;
  } catch {
    return false;
  }
}
