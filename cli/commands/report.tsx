import type { Command } from 'commander';
import { formatKernelReport, kernelReport } from '../../lab/kernel/report';
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
        .description(
          "print the stack's state report with the mapping table (every ts node by default); on a " +
            'stack: kernel node, what ss -Mi and ip mptcp know',
        ),
    ).action(async (node: string | undefined, opts: { lab?: string; json?: boolean }) => {
      const lab = openLab(opts);
      const kernelNodes = lab.model.nodes.filter((n) => n.stack === 'kernel' && (!node || n.name === node));
      const reports = node && kernelNodes.length > 0 ? [] : await lab.report(node);
      const kernel = await Promise.all(kernelNodes.map((n) => kernelReport(lab, n.name)));
      if (opts.json)
        printJson(
          kernel.length > 0 ? [...reports, ...kernel.map((k) => ({ node: k.node, kernel: k }))] : reports,
        );
      else {
        const texts = [
          ...reports.map((r) => formatReport(r.node, r.report)),
          ...kernel.map(formatKernelReport),
        ];
        process.stdout.write(`${texts.join('\n\n')}\n`);
      }
    });
  },
};
