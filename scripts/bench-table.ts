/** The bench's figures as one table: a row per figure, a column per system, and ratios. */
import type { Scenario } from './bench-systems.ts'

export type Row = {
  system: string
  scenario: Scenario
  figure: string
  value: number
  unit: string
}

/** Lines of text; each baseline is also given as its ratio to the first system (the cluster). */
export function renderTable(rows: Row[], labels: string[]): string[] {
  const keys = [...new Set(rows.map((r) => `${r.scenario}\u0000${r.figure}`))]
  const table = keys.map((key) => {
    const [scenario, figure] = key.split('\u0000') as [string, string]
    const cells = labels.map((l) =>
      rows.find((r) => r.system === l && r.scenario === scenario && r.figure === figure),
    )
    const base = cells[0]?.value
    const ratios = cells
      .slice(1)
      .map((r) =>
        r && base && Number.isFinite(r.value) && Number.isFinite(base)
          ? `${(r.value / base).toFixed(2)}x`
          : '-',
      )
    return [
      scenario,
      figure,
      ...cells.map((r) => (r ? `${r.value} ${r.unit}`.trim() : '-')),
      ...ratios,
    ]
  })
  const header = ['scenario', 'figure', ...labels, ...labels.slice(1).map((l) => `${l} / cluster`)]
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')
  return [line(header), ...table.map(line)]
}
