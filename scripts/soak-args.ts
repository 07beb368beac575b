/** The command line of `npm run soak`: how long, how many users, what the nodes are given. */
export interface SoakArgs {
  minutes: number
  users: number
  workMs: number
  retentionMs: number
  warmupMinutes: number | null
  maxGrowth: number
  /** Passed to the nodes (their --log-compact-ops); null: their default. */
  logCompactOps: number | null
  /** Where to write every sample as JSON at the end; null: nowhere. */
  samplesFile: string | null
  /** Seconds between two SIGKILLs of a node (scripts/lib/chaos.ts); null: no node is killed. */
  killEverySeconds: number | null
  /** How long a killed node stays down before it is started again, in seconds. */
  downSeconds: number
  /** Where to write each node's log lines at the end (`<name>.log`); null: nowhere. */
  logsDir: string | null
}

const HELP = `Usage: npm run soak -- [--minutes N] [--users N] [--work-ms MS] [--retention-ms MS]
                      [--warmup-minutes M] [--max-growth PERCENT] [--log-compact-ops N]
                      [--samples FILE] [--logs DIR] [--kill-every S] [--down S]
  --minutes         how long to load the cluster (default 10; at least 7 past the warm-up;
                    the two measures of the disk at rest add a few minutes)
  --users           users making downloads at once (default 30)
  --work-ms         each download's work (default 1000)
  --retention-ms    how long a finished download is kept (default 20000)
  --warmup-minutes  samples before this are not judged (default: a third of the run, at least 1)
  --max-growth      growth over the judged span that fails the run, in percent (default 10)
  --log-compact-ops the nodes' --log-compact-ops (default: theirs)
  --samples FILE    write every sample (each node's disk every second, the ten-second
                    samples) to FILE as JSON at the end
  --logs DIR        write each node's log lines, every run of it, to DIR/<name>.log at the end
  --kill-every      SIGKILL a node every S seconds, each in turn, and start it again after
                    --down S (default 15); its users go on through the other nodes, as
                    behind a load balancer. Disk and memory are then reported, not judged
                    (a restart empties a node's memory and compacts its store)`

export function parseArgs(argv: string[]): SoakArgs {
  const o: SoakArgs = {
    minutes: 10,
    users: 30,
    workMs: 1000,
    retentionMs: 20_000,
    warmupMinutes: null,
    maxGrowth: 10,
    logCompactOps: null,
    samplesFile: null,
    killEverySeconds: null,
    downSeconds: 15,
    logsDir: null,
  }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!
    if (flag === '--help' || flag === '-h') {
      console.log(HELP)
      process.exit(0)
    }
    if (flag === '--samples' || flag === '--logs') {
      const path = argv[++i]
      if (!path || path.startsWith('--'))
        throw new Error(`${flag} needs a ${flag === '--logs' ? 'directory' : 'file name'}`)
      if (flag === '--logs') o.logsDir = path
      else o.samplesFile = path
      continue
    }
    const value = Number(argv[++i])
    if (!Number.isFinite(value) || value <= 0) {
      throw new Error(`${flag} needs a number above 0, got ${JSON.stringify(argv[i])}`)
    }
    if (flag === '--minutes') o.minutes = value
    else if (flag === '--users') o.users = Math.round(value)
    else if (flag === '--work-ms') o.workMs = value
    else if (flag === '--retention-ms') o.retentionMs = value
    else if (flag === '--warmup-minutes') o.warmupMinutes = value
    else if (flag === '--max-growth') o.maxGrowth = value
    else if (flag === '--log-compact-ops') o.logCompactOps = Math.round(value)
    else if (flag === '--kill-every') o.killEverySeconds = value
    else if (flag === '--down') o.downSeconds = value
    else throw new Error(`unknown flag ${flag}; see --help`)
  }
  if (o.killEverySeconds !== null && o.killEverySeconds <= o.downSeconds)
    throw new Error(
      `--kill-every (${o.killEverySeconds} s) must be longer than --down (${o.downSeconds} s): ` +
        'one node down at a time',
    )
  return o
}
