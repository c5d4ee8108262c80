import type { Command } from 'commander';
import { Lab } from '../../lab/lab';
import { printJson, printView } from '../ui/output';
import { StatusView } from '../ui/StatusView';
import type { CommandModule } from './types';

export const status: CommandModule = {
  name: 'status',
  register(program: Command) {
    program
      .command('status [lab]')
      .description('show nodes, links (parameters, counters) and agents of a lab')
      .option('--json', 'print JSON instead of the human view')
      .action(async (name: string | undefined, opts: { json?: boolean }) => {
        const s = await Lab.open(name).status();
        if (opts.json) printJson(s);
        else printView(<StatusView s={s} />);
      });
  },
};
