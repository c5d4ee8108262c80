import type { Command } from 'commander';
import { labOptions, openLab } from '../ui/common';
import { printJson, printView } from '../ui/output';
import { Table } from '../ui/Table';
import type { CommandModule } from './types';

export const sysctl: CommandModule = {
  name: 'sysctl',
  register(program: Command) {
    labOptions(
      program
        .command('sysctl <target> [assignments...]')
        .description(
          "read or set the stack's /proc-style knobs: mplab sysctl all net.mptcp.mptcp_ndiffports=2",
        ),
    ).action(async (target: string, assignments: string[], opts: { lab?: string; json?: boolean }) => {
      const rows = await openLab(opts).sysctl(target, assignments);
      if (opts.json) printJson(rows);
      else
        printView(
          <Table
            head={['node', 'knob', 'value']}
            rows={rows.map((r) => [r.node, r.name, String(r.value)])}
          />,
        );
    });
  },
};
