import type { Command } from 'commander';

/** One CLI command: it adds itself to the program; its action calls into lab/. */
export interface CommandModule {
  name: string;
  register(program: Command): void;
}
