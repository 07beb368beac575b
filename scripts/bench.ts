/**
 * `npm run bench -- [scenario…] [--quick] [--cluster-only] [--json FILE] [--users N] [--connections N]`
 *
 * Measures this cluster and, side by side, what a Node team would pick instead (BullMQ on
 * Redis, progress relayed from QueueEvents to WebSockets), through the same WebSocket
 * protocol, the way browsers use it. Every figure comes from the run. Scenarios: throughput,
 * relay, failover, convergence, connections, storage (all by default).
 */
import { writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { parseArgs, sizesFor } from './bench-args.ts'
import { scenarios } from './bench-scenarios.ts'
import { renderTable, type Row } from './bench-table.ts'
import { baselineSystem, clusterSystem, type Scenario, type System } from './bench-systems.ts'
import { describeDisk, diskFacts } from './lib/disk-facts.ts'

const args = parseArgs(process.argv.slice(2))
const size = sizesFor(args)
const rows: Row[] = []
let label = ''
const add = (scenario: Scenario, figure: string, value: number, unit: string) =>
  rows.push({ system: label, scenario, figure, value: Math.round(value * 100) / 100, unit })
let system: System = clusterSystem
const RUN = scenarios({ size, system: () => system, add })

const started = Date.now()
// The nodes' data directories are made under the system's temporary directory (temp-dir.ts).
const disk = diskFacts(tmpdir())
const systems: System[] = [clusterSystem]
if (!args.clusterOnly) {
  const baseline = await baselineSystem(args.quick)
  if (typeof baseline === 'string') process.stderr.write(`baseline skipped: ${baseline}\n`)
  else systems.push(...baseline)
}
for (const sys of systems) {
  system = sys
  label = sys.label
  for (const s of args.scenarios) {
    if (!sys.scenarios.includes(s)) continue
    const t = Date.now()
    process.stderr.write(`${sys.label}: ${s}…\n`)
    try {
      await RUN[s]()
    } catch (err) {
      process.stderr.write(`${sys.label}: ${s} failed: ${(err as Error).message}\n`)
      add(s, 'FAILED', NaN, '')
    }
    process.stderr.write(`  ${((Date.now() - t) / 1000).toFixed(1)} s\n`)
  }
}

const labels = systems.map((x) => x.label)
console.log(
  `\npdf-cluster bench (${args.quick ? 'quick' : 'full'}), ${new Date().toISOString()}, ${((Date.now() - started) / 1000).toFixed(0)} s\n${describeDisk(disk)}\n`,
)
for (const line of renderTable(rows, labels)) console.log(line)
if (args.json)
  writeFileSync(
    args.json,
    JSON.stringify(
      { at: new Date().toISOString(), quick: args.quick, systems: labels, disk, rows },
      null,
      2,
    ) + '\n',
  )
process.exit(rows.some((r) => r.figure === 'FAILED') ? 1 : 0)
