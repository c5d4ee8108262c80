/**
 * The commands ../shared/architecture.md plans for `mplab`, and the containerlab/Mininet-style
 * tools (list, graph) users expect beside them: --help must list every one.
 */
export const ARCHITECTURE_COMMANDS = [
  'up',
  'down',
  'status',
  'list',
  'graph',
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
