import type { Command } from 'commander';
import { UsageError } from '../../lab/errors';
import type { LinkChangeRequest } from '../../lab/lab';
import { percentArg, rateArg, timeArg } from '../../lab/topology/units';
import { labOptions, openLab } from '../ui/common';
import { printJson, printView } from '../ui/output';
import { LinksTable } from '../ui/StatusView';
import type { CommandModule } from './types';

interface LinkOpts {
  lab?: string;
  json?: boolean;
  rate?: string;
  delay?: string;
  jitter?: string;
  loss?: string;
  up?: boolean;
  down?: boolean;
  dir?: string;
}

export const link: CommandModule = {
  name: 'link',
  register(program: Command) {
    labOptions(
      program
        .command('link <endpoint>')
        .description('change a link at run time: mplab link a:eth1 --rate 5mbit | --down | --up')
        .option('--rate <rate>', 'rate, e.g. 20mbit, 500kbit (none: unlimited)')
        .option('--delay <time>', 'one-way delay, e.g. 10ms (none: no delay)')
        .option('--jitter <time>', 'delay variation, e.g. 2ms')
        .option('--loss <pct>', 'random loss, e.g. 1%')
        .option('--dir <dir>', 'both (default), egress (out of the endpoint) or ingress', 'both')
        .option('--up', 'bring the link up')
        .option('--down', 'take the link down'),
    ).action(async (endpoint: string, opts: LinkOpts) => {
      if (opts.up && opts.down) throw new UsageError('link: --up and --down together');
      if (opts.dir !== 'both' && opts.dir !== 'egress' && opts.dir !== 'ingress')
        throw new UsageError(`link: --dir must be both, egress or ingress, not '${opts.dir}'`);
      const change: LinkChangeRequest = { dir: opts.dir };
      if (opts.rate !== undefined) change.rateMbps = rateArg(opts.rate, 'link: --rate');
      if (opts.delay !== undefined) change.delayMs = timeArg(opts.delay, 'link: --delay');
      if (opts.jitter !== undefined) change.jitterMs = timeArg(opts.jitter, 'link: --jitter');
      if (opts.loss !== undefined) change.lossPct = percentArg(opts.loss, 'link: --loss');
      if (opts.up) change.up = true;
      if (opts.down) change.up = false;
      if (Object.keys(change).length === 1)
        throw new UsageError(
          'link: nothing to change (give --rate, --delay, --jitter, --loss, --up or --down)',
        );
      const lab = openLab(opts);
      const st = await lab.link(endpoint, change);
      if (opts.json) printJson(st);
      else printView(<LinksTable links={[st]} />);
    });
  },
};
