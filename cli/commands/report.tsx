import type { Command } from 'commander';
import { formatReport } from '../../lab/report';
import { labOptions, openLab } from '../ui/common';
import { printJson } from '../ui/output';
import type { CommandModule } from './types';

export const report: CommandModule = {
  name: 'report',
  register(program: Command) {
    labOptions(
      program
        .command('report [node]')
        .description("print the stack's state report with the mapping table (every ts node by default)"),
    ).action(async (node: string | undefined, opts: { lab?: string; json?: boolean }) => {
      const reports = await openLab(opts).report(node);
      if (opts.json) printJson(reports);
      else process.stdout.write(`${reports.map((r) => formatReport(r.node, r.report)).join('\n\n')}\n`);
    });
  },
};
