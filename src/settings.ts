/**
 * Settings given as values rather than text (the library, createNode): each is checked by its
 * flag's own rule (flags.ts), so the library refuses what the command line refuses, in one
 * line naming the option; an option that is not a setting is refused too.
 */
import { ConfigError, DEFAULTS, type Config, type HostPort, type QuorumRule } from './config.ts'
import { formatQuorumRule } from './cluster/quorum.ts'
import { FLAGS } from './flag-table.ts'

const DEFAULTS_OF: Record<string, unknown> = { ...DEFAULTS, allowOrigins: [] }

/** Settings without a flag, for the library (createNode): tuning kept off the command line. */
const UNFLAGGED = { checkpointStep: 'a whole percent from 1 to 100', purgeIntervalMs: 'ms' }

/** The settings, checked; a typo in an option's name would otherwise take the default. */
export function parseSettings(settings: Record<string, unknown>): Partial<Config> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(settings)) {
    if (value === undefined) continue
    const flag = FLAGS.find((f) => f.key === key)
    if (!flag) {
      if (!(key in UNFLAGGED)) {
        const known = [...FLAGS.map((f) => f.key), ...Object.keys(UNFLAGGED)].join(', ')
        throw new ConfigError(`unknown option ${JSON.stringify(key)}; the options are: ${known}`)
      }
      const max = key === 'checkpointStep' ? 100 : Number.MAX_SAFE_INTEGER
      if (!Number.isSafeInteger(value) || (value as number) < 1 || (value as number) > max)
        throw new ConfigError(
          `${key} must be ${UNFLAGGED[key as keyof typeof UNFLAGGED]}, got ${JSON.stringify(value)}`,
        )
      out[key] = value
      continue
    }
    // null is "not given" where a setting may be absent (secret, metricsPort, metricsHost).
    if (value === null) continue
    // An empty list (no bootstrap: this node alone; no extra origins) has no flag text.
    if (Array.isArray(value) && value.length === 0 && Array.isArray(DEFAULTS_OF[key])) {
      out[key] = []
      continue
    }
    const wrong = shapeProblem(key, value)
    if (wrong) throw new ConfigError(wrong)
    try {
      out[key] = flag.parse(asText(value))
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err
      throw new ConfigError(err.message.split(flag.flag).join(key))
    }
  }
  return out as Partial<Config>
}

/**
 * Why a value cannot be a setting's, before it is made text: `String()` made an object
 * "[object Object]" and a list its items joined, so `secret: {…}` or `secret: ['…']` was taken,
 * a secret anyone could guess.
 */
function shapeProblem(key: string, value: unknown): string | null {
  const got = Array.isArray(value) ? 'a list' : value === null ? 'null' : typeof value
  if (key === 'secret' && typeof value !== 'string')
    return `secret must be a string (at least 8 characters), got ${got}`
  if (Array.isArray(value)) return Array.isArray(DEFAULTS_OF[key]) ? null : `${key} takes no list`
  if (typeof value === 'object' && value !== null && !(key === 'quorum' && 'kind' in value))
    return `${key} must be ${key === 'quorum' ? "'majority', a number or { kind: … }" : 'a string or a number as its flag takes'}, got an object`
  if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint')
    return `${key} cannot be ${got}`
  return null
}

/** A setting's value as its flag would be written. */
function asText(value: unknown): string {
  if (Array.isArray(value))
    return value
      .map((v) =>
        typeof v === 'object' && v !== null
          ? `${(v as HostPort).host}:${(v as HostPort).port}`
          : String(v),
      )
      .join(',')
  if (typeof value === 'object' && value !== null && 'kind' in value)
    return formatQuorumRule(value as QuorumRule)
  return String(value)
}
