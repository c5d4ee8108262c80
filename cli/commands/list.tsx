import type { Command } from 'commander';
import { listLabSummaries } from '../../lab/inspect-list';
import { printJson } from '../ui/output';
import type { CommandModule } from './types';

export const list: CommandModule = {
  name: 'list',
  register(program: Command) {
    program
      .command('list')
      .alias('ls')
      .description('list the labs on this machine with their state (up, degraded, stale…)')
      .option('--json', 'print JSON')
      .action((opts: { json?: boolean }) => {
        const labs = listLabSummaries();
        if (opts.json) return printJson(labs);
        if (labs.length === 0) {
          process.stdout.write('no lab on this machine (mplab up FILE makes one)\n');
          return;
        }
        const rows = [
          ['LAB', 'STATE', 'BACKEND', 'NODES', 'LINKS', 'PROCESSES', 'CREATED', 'TOPOLOGY'],
          ...labs.map((l) => [
            l.name,
            l.state,
            l.backend,
            String(l.nodes),
            String(l.links),
            `${l.processes.alive}/${l.processes.recorded}`,
            l.createdAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
            l.file,
          ]),
        ];
        const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
        for (const r of rows)
          process.stdout.write(
            `${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}\n`,
          );
        const stale = labs.filter((l) => l.state === 'stale' || l.state === 'failed');
        if (stale.length > 0)
          process.stdout.write(
            `\n${stale.map((l) => l.name).join(', ')}: left half-built; \`mplab down <lab>\` removes it\n`,
          );
      });
  },
};
