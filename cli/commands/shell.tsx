import type { Command } from 'commander';
import { Lab } from '../../lab/lab';
import { LabShell } from '../shell/shell';
import type { CommandModule } from './types';

export const shell: CommandModule = {
  name: 'shell',
  register(program: Command) {
    program
      .command('shell [lab]')
      .description(
        'an interactive prompt on a lab: node commands (a ping b), pingall, links, report… with history and Tab completion',
      )
      .action(async (name: string | undefined) => {
        const lab = Lab.open(name);
        // loaded here, not imported at the top: main.ts lists this module among its commands
        const { buildProgram, main } = await import('../main');
        const labCommands = new Set(
          buildProgram()
            .commands.filter((c) => c.options.some((o) => o.long === '--lab'))
            .map((c) => c.name()),
        );
        const io = {
          input: process.stdin,
          output: process.stdout,
          terminal: Boolean(process.stdin.isTTY && process.stdout.isTTY),
        };
        await new LabShell(lab, io, { labCommands, run: main }).run();
      });
  },
};
