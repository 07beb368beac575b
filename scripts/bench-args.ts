/** The command line of `npm run bench`: which scenarios, what size, where the figures go. */
import { ALL as SCENARIOS, type Scenario } from './bench-systems.ts'

export interface BenchArgs {
  quick: boolean
  clusterOnly: boolean
  json: string
  users: number
  connections: number
  scenarios: Scenario[]
}

export function parseArgs(argv: string[]): BenchArgs {
  const o: BenchArgs = {
    quick: false,
    clusterOnly: false,
    json: '',
    users: 0,
    connections: 0,
    scenarios: [],
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!
    const value = () => {
      const v = argv[++i]
      if (v === undefined) throw new Error(`${a} needs a value`)
      return v
    }
    if (a === '--quick') o.quick = true
    else if (a === '--cluster-only') o.clusterOnly = true
    else if (a === '--json') o.json = value()
    else if (a === '--users') o.users = Number(value())
    else if (a === '--connections') o.connections = Number(value())
    else if ((SCENARIOS as string[]).includes(a)) o.scenarios.push(a as Scenario)
    else if (a === '--help' || a === '-h') {
      console.log(
        `Usage: npm run bench -- [${SCENARIOS.join('|')} …] [--quick] [--cluster-only] [--json FILE] [--users N] [--connections N]`,
      )
      process.exit(0)
    } else throw new Error(`unknown argument ${JSON.stringify(a)}; see --help`)
  }
  if (o.scenarios.length === 0) o.scenarios = [...SCENARIOS]
  return o
}

/** How big each scenario runs: reduced by --quick, some set by flags. */
export function sizesFor(args: BenchArgs) {
  return {
    users: args.users || (args.quick ? 60 : 300),
    /** Bursts before the warm one is measured (the first, cold, is measured too). */
    warmRounds: args.quick ? 1 : 3,
    /** The steady load after the bursts: users, each one download after another, and seconds. */
    steadyUsers: 30,
    steadySeconds: args.quick ? 10 : 30,
    relayUsers: args.quick ? 6 : 30,
    failoverRounds: args.quick ? 1 : 3,
    failoverUsers: args.quick ? 18 : 36,
    convergence: args.quick ? 20 : 100,
    connections: args.connections || (args.quick ? 1000 : 5000),
    storage: args.quick ? 20 : 100,
  }
}

export type Sizes = ReturnType<typeof sizesFor>
