/**
 * Packet capture on a node's interface. tcpdump is not installed here; Wireshark's own capture
 * engine, dumpcap, is (it comes with tshark). It runs inside the node's namespace (`ip netns exec`),
 * writes classic libpcap (-P, so any tool reads it, Wireshark included) straight to the file, and
 * reports its packet count when it stops: lighter and more robust than tshark (no dissection) or a
 * hand-written AF_PACKET reader (no ring buffer, no BPF, no pcap header details to get right).
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { AgentClient } from '../stack/agent/client';
import { RuntimeFailure } from './errors';

export interface CaptureOptions {
  /** Stop after this many seconds. */
  seconds?: number;
  /** Stop after this many packets. */
  packets?: number;
  /** Capture filter (BPF syntax, e.g. "udp port 8684"). */
  filter?: string;
  /** Bytes kept per packet (default: whole packets). */
  snaplen?: number;
  /**
   * Capture inside our stack instead of on the interface: the node's agent writes every segment it
   * sends and receives as a real IP + TCP packet (what the UDP phy carries, unwrapped), so Wireshark
   * dissects the MPTCP options directly. For `stack: ts` nodes.
   */
  stack?: boolean;
}

export interface CaptureResult {
  file: string;
  packets: number;
  /** Packets the kernel dropped before dumpcap got them. */
  dropped: number;
}

export interface CaptureHandle {
  file: string;
  pid: number;
  /** Stops the capture (SIGINT: dumpcap finishes the file) and resolves with the counts. */
  stop(): Promise<CaptureResult>;
  /** Resolves when the capture ends by itself (seconds/packets reached) or after stop(). */
  done: Promise<CaptureResult>;
}

/**
 * dumpcap's argv (after the command name) for `iface`, writing to `out` ("-" for stdout): classic
 * libpcap, quiet, with the options' stop conditions, snaplen and filter.
 */
export function dumpcapArgs(iface: string, out: string, options: CaptureOptions): string[] {
  const args = ['-i', iface, '-w', out, '-P', '-q'];
  if (options.seconds !== undefined) args.push('-a', `duration:${Math.max(1, Math.ceil(options.seconds))}`);
  if (options.packets !== undefined) args.push('-c', String(options.packets));
  if (options.snaplen !== undefined) args.push('-s', String(options.snaplen));
  if (options.filter) args.push('-f', options.filter);
  return args;
}

/** dumpcap says this on stderr once it captures. */
export const DUMPCAP_READY = 'Capturing on';

/**
 * The capture's result from what dumpcap printed on stderr when it ended; undefined when it
 * printed no packet count (it failed, or was interrupted before it could).
 */
export function dumpcapResult(file: string, stderr: string): CaptureResult | undefined {
  const m = /Packets captured: (\d+)/.exec(stderr);
  if (!m) return undefined;
  const d = /received\/dropped on interface [^:]*: \d+\/(\d+)/.exec(stderr);
  return { file, packets: Number(m[1]), dropped: d ? Number(d[1]) : 0 };
}

/** Starts dumpcap in `handle` on `iface`; resolves once it is capturing. */
export function startCapture(
  handle: string,
  iface: string,
  file: string,
  options: CaptureOptions = {},
): Promise<CaptureHandle> {
  const out = resolve(file);
  const args = ['netns', 'exec', handle, 'dumpcap', ...dumpcapArgs(iface, out, options)];
  const child = spawn('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let ready: (() => void) | undefined;
  const started = new Promise<void>((r) => {
    ready = r;
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    if (stderr.includes(DUMPCAP_READY)) ready?.();
  });
  const done = new Promise<CaptureResult>((res, rej) => {
    child.on('error', (e) => rej(new RuntimeFailure(`capture: cannot run dumpcap: ${e.message}`)));
    child.on('close', (code, signal) => {
      const result = dumpcapResult(out, stderr);
      if (code !== 0 && !result && signal !== 'SIGINT')
        rej(
          new RuntimeFailure(
            `capture on ${handle}:${iface} failed: ${stderr.trim() || `exit ${code ?? signal}`}`,
          ),
        );
      else res(result ?? { file: out, packets: 0, dropped: 0 });
    });
  });
  return new Promise((res, rej) => {
    done.catch(rej);
    started.then(() =>
      res({
        file: out,
        pid: child.pid ?? 0,
        done,
        stop: () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
          return done;
        },
      }),
    );
  });
}

/** A capture by the node's agent (see CaptureOptions.stack). */
export async function startStackCapture(
  agent: AgentClient,
  file: string,
  options: CaptureOptions = {},
): Promise<CaptureHandle> {
  const out = resolve(file);
  await agent.call('capture.start', { file: out });
  let stopped: Promise<CaptureResult> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let finish: (r: CaptureResult) => void = () => {};
  let fail: (e: Error) => void = () => {};
  const done = new Promise<CaptureResult>((res, rej) => {
    finish = res;
    fail = rej;
  });
  const stop = (): Promise<CaptureResult> => {
    if (timer) clearTimeout(timer);
    stopped ??= agent
      .call('capture.stop')
      .then((r) => ({ file: r.file, packets: r.packets, dropped: 0 }))
      .finally(() => agent.close())
      .then(
        (r) => {
          finish(r);
          return r;
        },
        (e: Error) => {
          fail(e);
          throw e;
        },
      );
    return stopped;
  };
  if (options.seconds !== undefined)
    timer = setTimeout(() => void stop().catch(() => {}), options.seconds * 1000);
  return { file: out, pid: 0, stop, done };
}
