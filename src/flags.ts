/**
 * The command line: the flags of flag-table.ts, each with the environment variable beside it.
 * A flag wins over its variable; settings not given take config.ts's defaults.
 */
import { ConfigError, resolveConfig, type Config } from './config.ts'
import { FLAGS } from './flag-table.ts'

export function helpText(): string {
  const rows = FLAGS.map(
    (f) =>
      `  ${`${f.flag} <value>`.padEnd(24)} ${f.env.padEnd(15)} ${f.help} (default ${f.default})`,
  )
  return [
    'Usage: npm run node -- [flags]   (or, installed: pdf-cluster [flags])',
    '',
    'Starts one node. Every flag can also be given as the environment variable beside it;',
    'a flag wins over its variable.',
    '',
    ...rows,
    `  ${'--help'.padEnd(24)} ${''.padEnd(15)} print this and exit`,
  ].join('\n')
}

/** Parses flags over environment variables over defaults. Throws ConfigError with one line. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = {}): Config | 'help' {
  const given = new Map<string, string>()
  /** The flags whose value came from their environment variable: a bad one names it. */
  const fromEnv = new Set<string>()
  for (const f of FLAGS) {
    const v = env[f.env]
    if (v !== undefined && v !== '') {
      given.set(f.flag, v)
      fromEnv.add(f.flag)
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    if (arg === '--help' || arg === '-h') return 'help'
    const eq = arg.indexOf('=')
    const name = eq > 0 ? arg.slice(0, eq) : arg
    if (!FLAGS.some((f) => f.flag === name)) {
      throw new ConfigError(`unknown flag ${JSON.stringify(arg)}; see --help`)
    }
    let value: string | undefined
    if (eq > 0) value = arg.slice(eq + 1)
    else {
      const next = argv[++i]
      if (next === undefined) throw new ConfigError(`${name} needs a value`)
      // `--port --name foo`: the value was left out, not "--name" meant as one.
      if (FLAGS.some((f) => f.flag === next || next.startsWith(`${f.flag}=`)))
        throw new ConfigError(
          `${name} needs a value, and ${next} is a flag (${name}=${next} if that is the value)`,
        )
      value = next
    }
    given.set(name, value)
    fromEnv.delete(name)
  }
  const settings: Partial<Record<keyof Config, unknown>> = {}
  for (const f of FLAGS) {
    const v = given.get(f.flag)
    if (v === undefined) continue
    try {
      settings[f.key] = f.parse(v)
    } catch (err) {
      if (!fromEnv.has(f.flag) || !(err instanceof ConfigError)) throw err
      throw new ConfigError(`${err.message} (from the environment variable ${f.env})`)
    }
  }
  return resolveConfig(settings as Partial<Config>)
}
