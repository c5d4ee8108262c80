/**
 * `mplab proxy`: unmodified TCP applications over our MPTCP. A port on node A (127.0.0.1 inside
 * A's namespace, where `mplab exec a -- iperf3 -c 127.0.0.1` reaches it) is carried by A's agent
 * over our stack to B's agent, which opens a kernel TCP connection to the target inside B
 * (127.0.0.1:PORT by default, where `mplab exec b -- iperf3 -s` listens).
 */
import { UsageError } from './errors';
import type { Lab } from './lab';

export interface ProxyPort {
  /** Port listened on inside A. */
  listen: number;
  /** Where B connects (default 127.0.0.1, B's own loopback). */
  targetHost: string;
  targetPort: number;
}

export interface ProxyStarted {
  node: string;
  peer: string;
  peerAddress: string;
  ports: ProxyPort[];
}

function portNumber(text: string, what: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`proxy: ${what} '${text}' is not a port number`);
  const n = Number(text);
  if (n < 1 || n > 65535) throw new UsageError(`proxy: ${what} ${n} is out of range (1-65535)`);
  return n;
}

/** "5201", "8080:80" (listen:target) or "8080:10.0.5.2:80" (listen:host:target). */
export function parseProxyPort(spec: string): ProxyPort {
  const parts = spec.split(':');
  if (parts.length === 1) {
    const p = portNumber(parts[0]!, 'port');
    return { listen: p, targetHost: '127.0.0.1', targetPort: p };
  }
  if (parts.length === 2)
    return {
      listen: portNumber(parts[0]!, 'listen port'),
      targetHost: '127.0.0.1',
      targetPort: portNumber(parts[1]!, 'target port'),
    };
  if (parts.length === 3 && parts[1] !== '')
    return {
      listen: portNumber(parts[0]!, 'listen port'),
      targetHost: parts[1]!,
      targetPort: portNumber(parts[2]!, 'target port'),
    };
  throw new UsageError(`proxy: '${spec}' is not PORT, LISTEN:TARGET or LISTEN:HOST:TARGET`);
}

function stackNode(lab: Lab, name: string) {
  const n = lab.model.nodes.find((x) => x.name === name);
  if (!n)
    throw new UsageError(
      `proxy: no node '${name}' in lab '${lab.name}' (nodes: ${lab.model.nodes.map((x) => x.name).join(', ')})`,
    );
  if (n.stack !== 'ts')
    throw new UsageError(
      `proxy: node '${name}' runs stack '${n.stack}': the proxy needs our stack on both ends`,
    );
  return n;
}

export async function startProxy(
  lab: Lab,
  node: string,
  to: string,
  ports: ProxyPort[],
): Promise<ProxyStarted> {
  if (ports.length === 0) throw new UsageError('proxy: give at least one port');
  if (node === to) throw new UsageError('proxy: the two ends must be different nodes');
  stackNode(lab, node);
  const peer = stackNode(lab, to);
  const peerAddress = peer.addresses[0];
  if (!peerAddress) throw new UsageError(`proxy: node '${to}' has no address`);
  const seen = new Set<number>();
  for (const p of ports) {
    if (seen.has(p.listen)) throw new UsageError(`proxy: port ${p.listen} given twice`);
    seen.add(p.listen);
  }
  const c = await lab.agent(node);
  const started: ProxyPort[] = [];
  try {
    for (const p of ports) {
      await c.call('proxy.start', {
        listenPort: p.listen,
        peer: peerAddress,
        targetHost: p.targetHost,
        targetPort: p.targetPort,
      });
      started.push(p);
    }
  } catch (e) {
    // all or nothing: a port that failed (in use, say) stops the ones this call opened
    for (const p of started) await c.call('proxy.stop', { listenPort: p.listen }).catch(() => {});
    throw e;
  } finally {
    await c.close();
  }
  return { node, peer: to, peerAddress, ports };
}

/** Stops the proxies on a node (all of them, or those listening on `ports`). */
export async function stopProxy(lab: Lab, node: string, ports: number[] = []): Promise<number> {
  stackNode(lab, node);
  const c = await lab.agent(node);
  try {
    if (ports.length === 0) return (await c.call('proxy.stop', {})).stopped;
    let n = 0;
    for (const p of ports) n += (await c.call('proxy.stop', { listenPort: p })).stopped;
    return n;
  } finally {
    await c.close();
  }
}
