import type { Command } from 'commander';
import { UsageError } from '../../lab/errors';
import { parseProxyPort, startProxy, stopProxy } from '../../lab/proxy';
import { labOptions, openLab } from '../ui/common';
import { printJson } from '../ui/output';
import type { CommandModule } from './types';

interface ProxyOpts {
  lab?: string;
  json?: boolean;
  to?: string;
  stop?: boolean;
}

export const proxy: CommandModule = {
  name: 'proxy',
  register(program: Command) {
    labOptions(
      program
        .command('proxy <node> [ports...]')
        .description(
          'carry TCP ports of a node over our MPTCP to another node: mplab proxy a 5201 --to b, then mplab exec a -- iperf3 -c 127.0.0.1',
        )
        .option('--to <node>', 'the node whose agent connects to the target (required unless --stop)')
        .option('--stop', 'stop the proxies on <node> (the ports given, or all)')
        .addHelpText(
          'after',
          '\nPorts: PORT (listen and connect to 127.0.0.1:PORT on the peer), LISTEN:TARGET, or\nLISTEN:HOST:TARGET (the peer connects to HOST, e.g. another node behind it).',
        ),
    ).action(async (node: string, ports: string[], opts: ProxyOpts) => {
      const lab = openLab(opts);
      if (opts.stop) {
        if (opts.to) throw new UsageError('proxy: --stop takes no --to');
        const nums = ports.map((p) => parseProxyPort(p).listen);
        const stopped = await stopProxy(lab, node, nums);
        if (opts.json) printJson({ node, stopped });
        else process.stdout.write(`stopped ${stopped} prox${stopped === 1 ? 'y' : 'ies'} on ${node}\n`);
        return;
      }
      if (!opts.to) throw new UsageError('proxy: say where the ports go: --to <node>');
      const started = await startProxy(lab, node, opts.to, ports.map(parseProxyPort));
      if (opts.json) return printJson(started);
      for (const p of started.ports)
        process.stdout.write(
          `${node} 127.0.0.1:${p.listen} ══ our MPTCP ══▶ ${started.peer} (${started.peerAddress}) ──▶ ${p.targetHost}:${p.targetPort}\n`,
        );
      process.stdout.write(`stop with: mplab proxy ${node} --stop\n`);
    });
  },
};
