import { Box, Text } from 'ink';

export interface TableProps {
  head: string[];
  rows: string[][];
  /** Per-row colour of the first cell (e.g. green alive, red dead). */
  colors?: (string | undefined)[];
}

/** A plain aligned table: header in bold, columns padded to the widest cell. */
export function Table({ head, rows, colors }: TableProps) {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (s: string, i: number) => s.padEnd(widths[i] ?? 0);
  return (
    <Box flexDirection="column">
      <Text bold>{head.map(pad).join('  ')}</Text>
      {rows.map((r, ri) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: static rows
        <Text key={ri}>
          <Text color={colors?.[ri]}>{pad(r[0] ?? '', 0)}</Text>
          {r.length > 1
            ? `  ${r
                .slice(1)
                .map((c, i) => pad(c, i + 1))
                .join('  ')}`
            : ''}
        </Text>
      ))}
    </Box>
  );
}
