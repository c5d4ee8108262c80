import type { Command } from 'commander';

/** One CLI command: it adds itself to the program; its action calls into lab/. */
export interface CommandModule {
  name: string;
  /** Set while the command's issue has not landed: the issue number that brings it. */
  plannedIssue?: number;
  register(program: Command): void;
}
