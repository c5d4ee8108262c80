import type { Command } from 'commander';
import { Text } from 'ink';
import { UsageError } from '../../lab/errors';
import type { CaptureOptions } from '../../lab/capture';
import { labOptions, openLab } from '../ui/common';
import { printJson, printView } from '../ui/output';
import { parseTimeArg } from '../ui/run-args';
import type { CommandModule } from './types';

interface CaptureOpts {
  lab?: string;
  json?: boolean;
  output?: string;
  time?: string;
  count?: string;
  filter?: string;
  stack?: boolean;
}

export const capture: CommandModule = {
  name: 'capture',
  register(program: Command) {
    labOptions(
      program
        .command('capture <endpoint>')
        .description(
          'capture packets on a node interface (node:iface; node alone: all of them) to a pcap file',
        )
        .requiredOption('-o, --output <file>', 'pcap file to write')
        .option('--time <t>', 'stop after this long, e.g. 30, 500ms, 2min (default: until Ctrl-C)')
        .option('-c, --count <packets>', 'stop after this many packets')
        .option('-f, --filter <bpf>', 'capture filter, e.g. "udp port 8684"')
        .option('-s, --stack', "capture inside our stack (node's agent): TCP/MPTCP segments as IP packets"),
    ).action(async (endpoint: string, opts: CaptureOpts) => {
      const o: CaptureOptions = {};
      // the one time grammar of topology files and run: "30" (seconds), "500ms", "2min"
      if (opts.time !== undefined) o.seconds = parseTimeArg(opts.time, 'capture: --time') / 1000;
      if (opts.count !== undefined) {
        const c = Number(opts.count);
        if (!Number.isInteger(c) || c <= 0)
          throw new UsageError(`capture: --count must be a positive integer`);
        o.packets = c;
      }
      if (opts.filter) o.filter = opts.filter;
      if (opts.stack) o.stack = true;
      const h = await openLab(opts).capture(endpoint, opts.output ?? '', o);
      // On stderr even with --json: a script (or a test) waits for this line before sending.
      process.stderr.write(
        `capturing on ${endpoint} into ${h.file}${o.seconds ? ` for ${o.seconds} s` : ' (Ctrl-C to stop)'}\n`,
      );
      const stop = () => void h.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      const r = await h.done;
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      if (opts.json) printJson(r);
      else
        printView(
          <Text>
            <Text color="green">✔</Text> {r.packets} packet(s) written to {r.file}
            {r.dropped ? ` (${r.dropped} dropped by the kernel)` : ''}
          </Text>,
        );
    });
  },
};
