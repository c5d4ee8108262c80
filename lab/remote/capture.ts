/**
 * Capture on an interface of a node that runs on a remote host: dumpcap runs there, in the node's
 * namespace, and writes libpcap to its stdout; the bytes come back over the host's pooled SSH
 * connection into the local file, so Wireshark opens the same kind of file as for a local node
 * and nothing is left in the remote host's file system. It is stopped the way a local capture is
 * (SIGINT, so dumpcap ends the file and prints its counts), by pid, in a second exec channel:
 * not every SSH server honours a channel's signal request.
 */
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import {
  type CaptureHandle,
  type CaptureOptions,
  type CaptureResult,
  DUMPCAP_READY,
  dumpcapArgs,
  dumpcapResult,
} from '../capture';
import { RuntimeFailure } from '../errors';
import type { HostSet } from './cluster';
import { shellQuote } from './ssh';

const PID_TAG = 'mplab-capture-pid';
const PID_LINE = new RegExp(`${PID_TAG} (\\d+)\\n?`);

/** Starts dumpcap on `host` in namespace `handle` on `iface`; resolves once it is capturing. */
export async function startRemoteCapture(
  hosts: HostSet,
  host: string,
  handle: string,
  iface: string,
  file: string,
  options: CaptureOptions = {},
): Promise<CaptureHandle> {
  const out = resolve(file);
  const where = `capture on ${handle}:${iface} (host ${host})`;
  // `ip netns exec` execs dumpcap in place, so the shell's pid is dumpcap's
  const inner = shellQuote(['ip', 'netns', 'exec', handle, 'dumpcap', ...dumpcapArgs(iface, '-', options)]);
  const cmd = hosts.cmd(host, ['sh', '-c', `echo ${PID_TAG} $$ >&2; exec ${inner}`]);
  const { session, release } = await hosts.pool.acquire(host);
  let ch: Awaited<ReturnType<typeof session.spawn>>;
  try {
    ch = await session.spawn(cmd);
  } catch (e) {
    release();
    throw new RuntimeFailure(`${where}: ${(e as Error).message}`);
  }
  const sink = createWriteStream(out);
  ch.pipe(sink);
  const written = new Promise<void>((res, rej) => {
    sink.on('finish', res);
    sink.on('error', (e) => rej(new RuntimeFailure(`${where}: cannot write ${out}: ${e.message}`)));
  });
  let stderr = '';
  let pid: number | undefined;
  let ready: () => void = () => {};
  const started = new Promise<void>((r) => {
    ready = r;
  });
  ch.stderr.setEncoding('utf8');
  ch.stderr.on('data', (d: string) => {
    stderr += d;
    if (pid === undefined) {
      const m = PID_LINE.exec(stderr);
      if (m) {
        pid = Number(m[1]);
        stderr = stderr.replace(PID_LINE, ''); // what remains is dumpcap's own
      }
    }
    if (stderr.includes(DUMPCAP_READY)) ready();
  });
  const done: Promise<CaptureResult> = Promise.all([ch.exitCode, written])
    .then(([code]) => {
      const result = dumpcapResult(out, stderr);
      // 130: ended by our SIGINT before it printed its counts
      if (result || code === 0 || code === 130) return result ?? { file: out, packets: 0, dropped: 0 };
      throw new RuntimeFailure(
        /dumpcap.*(No such file|not found)/.test(stderr)
          ? `${where}: dumpcap is not installed there (Debian package tshark)`
          : `${where} failed: ${stderr.trim() || `exit ${code}`}`,
      );
    })
    .finally(release);
  done.catch(() => {}); // a caller that only stops learns of a failure from stop()
  let stopping: Promise<CaptureResult> | undefined;
  const stop = (): Promise<CaptureResult> => {
    stopping ??= (async () => {
      if (pid !== undefined)
        await hosts.pool
          .with(host, (s) => s.exec(hosts.cmd(host, ['kill', '-INT', String(pid)]), { timeoutMs: 10_000 }))
          .catch(() => {}); // already gone: `done` says how it ended
      return done;
    })();
    return stopping;
  };
  const endedEarly = done.then(() => {
    throw new RuntimeFailure(`${where}: dumpcap ended before it captured: ${stderr.trim()}`);
  });
  endedEarly.catch(() => {});
  await Promise.race([started, endedEarly]);
  return { file: out, pid: 0, done, stop };
}
