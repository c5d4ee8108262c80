/**
 * The node agent's control protocol carried over SSH, so lab code talks to a remote or VM agent
 * through the same AgentClient it uses for a local one. Two transports:
 *
 * - `streamlocal`: an OpenSSH direct-streamlocal channel straight to the agent's unix socket;
 * - `exec`: an exec channel running `node agent.js --relay SOCKET` (works with dropbear, which has
 *   no streamlocal forwarding).
 *
 * `auto` (the default) tries streamlocal and falls back to exec where the server refuses it
 * (dropbear, or an OpenSSH with AllowTcpForwarding/AllowStreamLocalForwarding off).
 * Either way the agent listens on nothing but its unix socket (mode 0600) on the remote side.
 */
import { AgentClient, type AgentClientOptions } from '../../stack/agent/client';
import { type SshSession, shellQuote } from './ssh';

export interface RemoteAgentOptions extends AgentClientOptions {
  /** The agent's control socket on the remote side. */
  socket: string;
  transport?: 'auto' | 'streamlocal' | 'exec';
  /** With `exec`: the deployed agent.js on the remote side and the node binary (default `node`). */
  agentScript?: string;
  node?: string;
  /** With `exec`: argv run before node (e.g. `['ip','netns','exec',NS]` or sudo); default none. */
  prefix?: string[];
}

/** Connects to a remote agent and checks it answers `ping`; the error carries the remote stderr. */
export async function connectRemoteAgent(session: SshSession, o: RemoteAgentOptions): Promise<AgentClient> {
  const transport = o.transport ?? 'auto';
  if (transport === 'auto') {
    let ch: Awaited<ReturnType<SshSession['openUnixSocket']>> | undefined;
    try {
      ch = await session.openUnixSocket(o.socket);
    } catch (e) {
      if (!o.agentScript || !session.isOpen) throw e;
    }
    if (ch) return ping(session, AgentClient.fromStream(ch, o), o, async () => '');
    return connectRemoteAgent(session, { ...o, transport: 'exec' });
  }
  if (transport === 'streamlocal') {
    return ping(
      session,
      AgentClient.fromStream(await session.openUnixSocket(o.socket), o),
      o,
      async () => '',
    );
  }
  {
    if (!o.agentScript) throw new Error('connectRemoteAgent: the exec transport needs agentScript');
    const argv = [...(o.prefix ?? []), o.node ?? 'node', o.agentScript, '--relay', o.socket];
    const ch = await session.spawn(shellQuote(argv));
    const err: Buffer[] = [];
    ch.stderr.on('data', (b: Buffer) => err.push(b));
    // The relay's complaint arrives just before its channel closes: give it a moment.
    const stderr = async () => {
      await Promise.race([ch.exitCode, new Promise((r) => setTimeout(r, 1000))]);
      return Buffer.concat(err).toString('utf8').trim();
    };
    return ping(session, AgentClient.fromStream(ch, o), o, stderr);
  }
}

async function ping(
  session: SshSession,
  client: AgentClient,
  o: RemoteAgentOptions,
  stderr: () => Promise<string>,
): Promise<AgentClient> {
  try {
    await client.call('ping', undefined, { timeoutMs: o.connectTimeoutMs ?? 10_000 });
  } catch (e) {
    await client.close().catch(() => {});
    const why = (await stderr()) || (e as Error).message;
    throw new Error(`${session.label}: agent at ${o.socket} does not answer: ${why}`);
  }
  return client;
}
