/**
 * Errors that carry their exit code, so the CLI (and scripts) can tell a user's mistake from a
 * failure of the machine: 2 = usage or validation error (nothing was created), 1 = runtime failure
 * (whatever was half-built has been cleaned up).
 */
export class MplabError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad arguments or input: exit 2. */
export class UsageError extends MplabError {
  constructor(message: string) {
    super(message, 2);
  }
}

/** The machine or a node failed at run time: exit 1. */
export class RuntimeFailure extends MplabError {
  constructor(message: string) {
    super(message, 1);
  }
}

export function exitCodeOf(err: unknown): 1 | 2 {
  if (err instanceof MplabError) return err.exitCode;
  if (err && typeof err === 'object' && 'exitCode' in err && (err as { exitCode: unknown }).exitCode === 2)
    return 2;
  return 1;
}
