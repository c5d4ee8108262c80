import type { Command } from 'commander';
import { UsageError } from '../../lab/errors';
import type { CommandModule } from './types';

/**
 * A command the architecture plans whose issue has not landed yet: it shows in --help with its
 * purpose, and running it says which issue brings it and exits 2 rather than pretending.
 */
export function planned(
  name: string,
  args: string,
  summary: string,
  issue: number,
  title: string,
): CommandModule {
  return {
    name,
    plannedIssue: issue,
    register(program: Command) {
      program
        .command(`${name}${args ? ` ${args}` : ''}`)
        .description(`${summary} (not available yet: issue #${issue})`)
        .allowUnknownOption(true)
        .allowExcessArguments(true)
        .helpOption('-h, --help', 'show help for this command')
        .addHelpText('after', `\nThis command lands with issue #${issue}: ${title}.`)
        .action(() => {
          throw new UsageError(`${name}: not available yet; it lands with issue #${issue} (${title}).`);
        });
    },
  };
}
