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
  for (const f of FLAGS) {
    const v = env[f.env]
    if (v !== undefined && v !== '') given.set(f.flag, v)
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
      value = argv[++i]
      if (value === undefined) throw new ConfigError(`${name} needs a value`)
    }
    given.set(name, value)
  }
  const settings: Partial<Record<keyof Config, unknown>> = {}
  for (const f of FLAGS) {
    const v = given.get(f.flag)
    if (v !== undefined) settings[f.key] = f.parse(v)
  }
  return resolveConfig(settings as Partial<Config>)
}
