/** Bundles the agent like the release does (esbuild, one file) and runs it as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { AgentClient } from '../../../stack/agent/client';

let bundled: string | undefined;

/** Bundles stack/agent/main.ts into a scratch dir with no node_modules around it. */
export async function bundleAgent(): Promise<string> {
  if (bundled) return bundled;
  const dir = mkdtempSync(join(tmpdir(), 'mplab-agent-'));
  const out = join(dir, 'agent.js');
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  await build({
    entryPoints: [new URL('../../../stack/agent/main.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    outfile: out,
    define: { __MPLAB_VERSION__: JSON.stringify(pkg.version) },
    banner: {
      js: "import { createRequire as __mplabCreateRequire } from 'node:module'; const require = __mplabCreateRequire(import.meta.url);",
    },
    logLevel: 'warning',
  });
  bundled = out;
  return out;
}

export interface RunningAgent {
  proc: ChildProcess;
  socket: string;
  log: string;
  client: AgentClient;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Starts `node agent.js` (optionally inside a namespace) and connects a client once it is ready. */
export async function startAgent(
  agentJs: string,
  dir: string,
  name: string,
  args: string[],
  netns?: string,
): Promise<RunningAgent> {
  const socket = join(dir, `${name}.sock`);
  const log = join(dir, `${name}.log`);
  const argv = [agentJs, '--socket', socket, '--log', log, ...args];
  const proc = netns
    ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  let out = '';
  proc.stderr!.on('data', (d) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`agent ${name} not ready: ${err}`)), 15_000);
    proc.stdout!.on('data', (d) => {
      out += d;
      if (out.includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`agent ${name} exited ${code}: ${err}`));
    });
  });
  const client = await AgentClient.connect(socket);
  return { proc, socket, log, client, stderr: () => err, exited };
}

/** SIGTERM and wait (SIGKILL after 5 s). */
export async function stopAgent(a: RunningAgent | undefined): Promise<number | null> {
  if (!a) return null;
  await a.client.close().catch(() => {});
  if (a.proc.exitCode !== null) return a.proc.exitCode;
  a.proc.kill('SIGTERM');
  const t = setTimeout(() => a.proc.kill('SIGKILL'), 5000);
  const code = await a.exited;
  clearTimeout(t);
  return code;
}
