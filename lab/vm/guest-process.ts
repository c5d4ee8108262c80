/**
 * A process in a VM node's guest with its stdio streamed back over SSH: what a run needs for an
 * end that is not our agent (the kernel-traffic end of the agent bundle). It runs on an SSH
 * session of its own, closed when the process ends, so a CLI that started one never stays alive
 * for a session nobody uses.
 *
 * The guest's shell prints its pid before exec'ing the program, so `kill` can stop it with a
 * SIGKILL sent over the same session (closing an exec channel does not stop its process).
 */
import { PassThrough } from 'node:stream';
import { type SshSession, shellQuote } from '../remote/ssh';

/** A running program: stdout/stderr as streams, its exit code, and a way to stop it at once. */
export interface StreamProcess {
  readonly stdout: NodeJS.ReadableStream;
  readonly stderr: NodeJS.ReadableStream;
  /** The exit code (255 when the SSH session dropped: the guest died or became unreachable). */
  readonly exited: Promise<number>;
  /** SIGKILL; resolves when the process is gone (or the session is). */
  kill(): Promise<void>;
}

export async function startGuestProcess(
  session: SshSession,
  argv: string[],
  env: Record<string, string> = {},
): Promise<StreamProcess> {
  const envArgs = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  const ch = await session.spawn(
    shellQuote(['sh', '-c', 'echo $$; exec "$@"', 'sh', 'env', ...envArgs, ...argv]),
  );
  ch.end();
  const stdout = new PassThrough();
  let pid: number | undefined;
  let head = '';
  ch.on('data', (b: Buffer) => {
    if (pid !== undefined) {
      stdout.write(b);
      return;
    }
    head += b.toString('utf8');
    const nl = head.indexOf('\n');
    if (nl < 0) return;
    pid = Number(head.slice(0, nl));
    const rest = head.slice(nl + 1);
    if (rest) stdout.write(rest);
  });
  const exited = ch.exitCode.then((code) => {
    stdout.end();
    return code;
  });
  void exited.finally(() => void session.close().catch(() => {}));
  let killing: Promise<void> | undefined;
  const kill = () => {
    killing ??= (async () => {
      if (pid !== undefined && Number.isInteger(pid) && session.isOpen)
        await session.exec(`kill -9 ${pid}`, { timeoutMs: 5000 }).catch(() => {});
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
      await session.close().catch(() => {});
    })();
    return killing;
  };
  return { stdout, stderr: ch.stderr, exited, kill };
}
