/** The commands ../shared/architecture.md plans for `mplab`: --help must list every one. */
export const ARCHITECTURE_COMMANDS = [
  'up',
  'down',
  'status',
  'exec',
  'sysctl',
  'link',
  'run',
  'report',
  'capture',
  'demo',
  'campaign',
  'image',
] as const;
