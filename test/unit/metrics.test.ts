import { test } from 'uvu'
import * as assert from 'uvu/assert'
import parsePrometheus from 'parse-prometheus-text-format'
import { Metrics } from '../../src/metrics.ts'
import type { DownloadState } from '../../src/store/record.ts'

type Family = {
  name: string
  metrics: { value?: string; count?: string; labels?: Record<string, string> }[]
}

async function families(m: Metrics): Promise<Map<string, Family>> {
  const { body, contentType } = await m.scrape()
  assert.match(contentType, /^text\/plain/)
  return new Map((parsePrometheus(body) as Family[]).map((f) => [f.name, f]))
}

const sample = (f: Map<string, Family>, name: string, labels: Record<string, string> = {}) => {
  const s = f
    .get(name)
    ?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  return Number(s?.count ?? s?.value)
}

function sources() {
  return {
    downloads: [{ state: 'ready' }, { state: 'ready' }, { state: 'processing' }] as {
      state: DownloadState
    }[],
    members: [{ status: 'alive' }, { status: 'alive' }, { status: 'dead' }],
    free: 5_000_000,
  }
}

test('counters and histograms move with what the downloads layer tells; gauges read their sources', async () => {
  const s = sources()
  const m = new Metrics({
    downloads: () => s.downloads,
    workersRunning: () => 1,
    members: () => s.members,
    logLength: () => 42,
    logBehind: () => 3,
    dataBytes: async () => 123_456,
    diskFree: () => s.free,
    diskLow: () => s.free < 1000,
    diskReserve: () => 1000,
    websocketConnections: () => 7,
  })
  m.requested()
  m.requested()
  m.waited(0.02)
  m.completed(6.1)
  m.failed()
  m.tookOver('n2', 40)
  m.relayed(0.004)
  m.heartbeat(0.0008)
  m.logReopened()
  m.stalled()
  const f = await families(m)
  assert.is(sample(f, 'pdfcluster_downloads_requested_total'), 2)
  assert.is(sample(f, 'pdfcluster_downloads_completed_total'), 1)
  assert.is(sample(f, 'pdfcluster_downloads_failed_total'), 1)
  assert.is(sample(f, 'pdfcluster_takeovers_total'), 1)
  assert.is(sample(f, 'pdfcluster_log_reopens_total'), 1)
  assert.is(sample(f, 'pdfcluster_stalls_total'), 1)
  assert.is(sample(f, 'pdfcluster_job_duration_seconds'), 1)
  assert.is(sample(f, 'pdfcluster_job_wait_seconds'), 1)
  assert.is(sample(f, 'pdfcluster_relay_latency_seconds'), 1)
  assert.is(sample(f, 'pdfcluster_heartbeat_rtt_seconds'), 1)
  assert.is(sample(f, 'pdfcluster_downloads', { state: 'ready' }), 2)
  assert.is(sample(f, 'pdfcluster_downloads', { state: 'processing' }), 1)
  assert.is(sample(f, 'pdfcluster_downloads', { state: 'error' }), 0, 'every state, even at 0')
  assert.is(sample(f, 'pdfcluster_members', { status: 'alive' }), 2)
  assert.is(sample(f, 'pdfcluster_members', { status: 'suspect' }), 0)
  assert.is(sample(f, 'pdfcluster_workers_running'), 1)
  assert.is(sample(f, 'pdfcluster_log_operations'), 42)
  assert.is(sample(f, 'pdfcluster_log_behind_operations'), 3)
  assert.is(sample(f, 'pdfcluster_data_bytes'), 123_456)
  assert.is(sample(f, 'pdfcluster_websocket_connections'), 7)
  assert.is(sample(f, 'pdfcluster_disk_free_bytes'), 5_000_000)
  assert.is(sample(f, 'pdfcluster_disk_low'), 0)
  assert.is(sample(f, 'pdfcluster_disk_reserve_bytes'), 1000)
  assert.ok(f.has('process_resident_memory_bytes'), 'default process metrics')

  // The gauges follow their sources at the next scrape.
  s.downloads = [{ state: 'error' }]
  s.free = 10
  const g = await families(m)
  assert.is(sample(g, 'pdfcluster_disk_free_bytes'), 10)
  assert.is(sample(g, 'pdfcluster_disk_low'), 1)
  assert.is(sample(g, 'pdfcluster_downloads', { state: 'ready' }), 0)
  assert.is(sample(g, 'pdfcluster_downloads', { state: 'error' }), 1)
})

test('two nodes in one process keep separate figures', async () => {
  const make = () =>
    new Metrics({
      downloads: () => [],
      workersRunning: () => 0,
      members: () => [],
      logLength: () => 0,
      logBehind: () => 0,
      dataBytes: async () => 0,
      diskFree: () => NaN,
      diskLow: () => false,
      diskReserve: () => 0,
      websocketConnections: () => 0,
    })
  const a = make()
  const b = make()
  a.completed(1)
  assert.is(sample(await families(a), 'pdfcluster_downloads_completed_total'), 1)
  assert.is(sample(await families(b), 'pdfcluster_downloads_completed_total'), 0)
})

test.run()
