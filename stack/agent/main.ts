/**
 * The node agent's entry (bundled to dist/agent.js; runs with `node agent.js` alone).
 *
 *   node agent.js --socket PATH --log FILE [--addresses a,b] [--phy udp|tun] [--udp-port 8684] [--proxy-port 8685]
 *                 [--include-loopback] [--version] [--help]
 *   node agent.js --relay PATH     (stdin/stdout <-> the control socket of a running agent)
 *   node agent.js --kernel-traffic sink|send ARGS…   (the kernel's end of a run: kernel-traffic.ts)
 */
import { connect as netConnect } from 'node:net';
import { parseArgs } from 'node:util';
import { VERSION } from '../version';
import { Agent } from './agent';
import { kernelTrafficMain } from './kernel-traffic';
import { DEFAULT_PROXY_PORT, DEFAULT_UDP_PORT } from './protocol';

const HELP = `mplab node agent ${VERSION}

Usage: node agent.js --socket PATH --log FILE [options]
       node agent.js --relay PATH
       node agent.js --kernel-traffic sink|send PROTO HOST PORT ...

  --relay PATH          carry stdin/stdout to and from the running agent's control socket PATH
                        (how a controller reaches an agent over an SSH exec channel)

  --kernel-traffic ...  run one end of a kernel MPTCP (PROTO 262) or TCP (PROTO 0) transfer and
                        print JSON lines with this end's subflow figures (needs koffi)

  --socket PATH         control socket (unix, mode 0600; newline-delimited JSON-RPC 2.0)
  --log FILE            log file (appended)
  --addresses a,b       local addresses to use (default: every non-loopback address, followed)
  --phy udp|tun         udp (default): segments in UDP datagrams; tun: real IP packets through a TUN
                        device, TCP to the stack's addresses steered to it (root; needs koffi)
  --tun-name NAME       TUN device name with --phy tun (default mptun0)
  --udp-port N          UDP port of the phy (default ${DEFAULT_UDP_PORT})
  --control-tcp N       also serve the control protocol on 127.0.0.1:N (VM guests; default off)
  --proxy-port N        stack port for incoming TCP-proxy connections (default ${DEFAULT_PROXY_PORT}; 0 = off)
  --include-loopback    also use loopback addresses when learning them from the host
  --user-timeout MS     abort a connection whose data stays unacknowledged this long (default: off)
  --mss N               MSS on every address (default: each address's MTU minus IP/UDP/TCP headers;
                        larger values ride IP-fragmented datagrams)
  --version             print the version and exit
  --help                print this help and exit
`;

function fail(msg: string): never {
  process.stderr.write(`agent: ${msg}\n`);
  process.exit(2);
}

function intArg(v: string | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`--${name} must be a port number, got "${v}"`);
  return n;
}

function msArg(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--user-timeout must be milliseconds, got "${v}"`);
  return n;
}

function mssArg(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 536 || n > 65487)
    fail(`--mss must be an integer in 536..65487, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  // its own positional grammar (the one lab/run/kernel.ts speaks), so before the options parser
  if (process.argv[2] === '--kernel-traffic') {
    kernelTrafficMain(process.argv.slice(3));
    return;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({
      options: {
        socket: { type: 'string' },
        log: { type: 'string' },
        addresses: { type: 'string' },
        'udp-port': { type: 'string' },
        phy: { type: 'string' },
        'tun-name': { type: 'string' },
        'proxy-port': { type: 'string' },
        'control-tcp': { type: 'string' },
        'include-loopback': { type: 'boolean' },
        'user-timeout': { type: 'string' },
        mss: { type: 'string' },
        relay: { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    fail(`${(e as Error).message}\n\n${HELP}`);
  }
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write(`${VERSION}\n`);
    return;
  }
  if (typeof values.relay === 'string') {
    relay(values.relay);
    return;
  }
  const socketPath = values.socket as string | undefined;
  if (!socketPath) fail('--socket is required (see --help)');
  const addresses =
    typeof values.addresses === 'string' ? values.addresses.split(',').filter(Boolean) : undefined;
  const phy = (values.phy as string | undefined) ?? 'udp';
  if (phy !== 'udp' && phy !== 'tun') fail(`--phy must be udp or tun, got "${phy}"`);
  const tunName = values['tun-name'] as string | undefined;
  const agent = new Agent({
    socketPath,
    logFile: values.log as string | undefined,
    addresses,
    udpPort: intArg(values['udp-port'] as string | undefined, 'udp-port', DEFAULT_UDP_PORT),
    proxyPort: intArg(values['proxy-port'] as string | undefined, 'proxy-port', DEFAULT_PROXY_PORT),
    controlTcpPort: intArg(values['control-tcp'] as string | undefined, 'control-tcp', 0),
    includeLoopback: values['include-loopback'] === true,
    userTimeoutMs: msArg(values['user-timeout'] as string | undefined),
    mss: mssArg(values.mss as string | undefined),
    onShutdown: () => process.exit(0),
    ...(phy === 'tun' ? { stack: { phy, ...(tunName ? { tunName } : {}) } } : {}),
  });
  let exiting = false;
  const onSignal = (sig: string) => {
    if (exiting) return;
    exiting = true;
    agent.log(`got ${sig}`);
    void agent.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
  process.on('uncaughtException', (e) => {
    agent.log(`uncaught: ${e.stack ?? e.message}`);
  });
  try {
    await agent.start();
  } catch (e) {
    const err = e as Error & { code?: string };
    agent.log(`start failed: ${err.code ?? ''} ${err.message}`);
    await agent.stop().catch(() => {});
    fail(err.message);
  }
  process.stdout.write(`ready ${socketPath}\n`);
}

/**
 * Pipes stdio to the control socket; ends when either side does. The agent itself never listens on
 * the network, so an SSH exec channel running this is how a remote controller talks to it.
 */
function relay(path: string): void {
  const sock = netConnect({ path });
  sock.once('error', (e) => {
    process.stderr.write(`agent relay: ${path}: ${e.message}\n`);
    process.exit(1);
  });
  sock.once('connect', () => {
    process.stdin.pipe(sock);
    sock.pipe(process.stdout);
    process.stdin.once('end', () => sock.end());
    sock.once('close', () => process.exit(0));
  });
}

void main();
