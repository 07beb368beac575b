/** Reads one figure from a node's /metrics (the soak's memory split). */

/** A metric's value in Prometheus's text format, or null if it is not there. */
export function metricValue(text: string, name: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`))
  // `name{labels} value [timestamp]`
  const rest = line?.slice(line.startsWith(`${name}{`) ? line.indexOf('} ') + 2 : name.length + 1)
  const value = rest === undefined ? NaN : Number(rest.trim().split(' ')[0])
  return Number.isFinite(value) ? value : null
}
