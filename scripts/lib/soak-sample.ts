/**
 * One of the soak's samples of a node: its data directory's bytes, its resident memory and,
 * from its /metrics, V8's heap; its log's length and the records it shows, from /healthz.
 */
import { dirBytes } from '../../src/disk-space.ts'
import { metricValue } from './metric-value.ts'
import { nodeRssKb, type NodeProcess } from './processes.ts'

export interface NodeSample {
  bytes: number
  rssKb: number
  /** V8's heap (what it has reserved, used or not), from the node's /metrics; null without. */
  heapBytes: number | null
  /** Of it, what is in use (live objects and garbage not collected yet); null without. */
  heapUsedBytes: number | null
  logLength: number
  records: number
}

export async function sample(n: NodeProcess): Promise<NodeSample> {
  // Not `du`: it fails when a file is unlinked while it walks (a purge), which is all the time.
  const bytes = await dirBytes(n.dataDir, true)
  const [health, metrics] = await Promise.all([
    fetch(n.url + '/healthz').then(
      (r) => r.json() as Promise<{ records: number; log: { length: number } }>,
    ),
    fetch(n.url + '/metrics').then((r) => (r.ok ? r.text() : '')),
  ])
  return {
    bytes,
    rssKb: nodeRssKb(n),
    heapBytes: metricValue(metrics, 'nodejs_heap_size_total_bytes'),
    heapUsedBytes: metricValue(metrics, 'nodejs_heap_size_used_bytes'),
    logLength: health.log.length,
    records: health.records,
  }
}
