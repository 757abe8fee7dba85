// Plain column alignment, as kubectl prints tables: upper-case headers, two spaces between columns.
export function table(headers: string[], rows: string[][], indent = ''): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length;
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) =>
    indent + cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c)))).join('  ');
  return [line(headers), ...rows.map(line)].join('\n');
}
