/**
 * The node's metrics in the Prometheus text format (`GET /metrics`), through prom-client, with
 * its default process and event-loop metrics. Each node has its own registry, so several
 * nodes run in one process (tests, createNode). Counters count what this node did (summing
 * over the nodes gives the cluster's figure); gauges of downloads are this node's view of the
 * whole cluster's table. No metric carries a user id. README, "Metrics".
 */
import {
  Counter,
  Gauge,
  Histogram,
  Registry,
  collectDefaultMetrics,
  type CounterConfiguration,
} from 'prom-client'
import { STATES, type DownloadState } from './store/record.ts'
import type { DownloadObserver } from './downloads/observer.ts'

export interface MetricSources {
  /** The records this node shows now, every user's. */
  downloads(): readonly { state: DownloadState }[]
  workersRunning(): number
  members(): readonly { status: string }[]
  /** Operations in the log this node is on. */
  logLength(): number
  /** How many operations the most advanced peer on the same log holds that this node lacks. */
  logBehind(): number
  /** Bytes the data directory takes on disk (cheap to ask: cached by the caller). */
  dataBytes(): Promise<number>
  /** Bytes free on the data directory's file system, as last measured (NaN before). */
  diskFree(): number
  /** Whether that is below the node's reserve (--min-free-mb): it takes no new downloads. */
  diskLow(): boolean
  /** The reserve, in bytes (--min-free-mb). */
  diskReserve(): number
  websocketConnections(): number
}

const STATUSES = ['alive', 'suspect', 'dead', 'left'] as const

export class Metrics implements DownloadObserver {
  readonly registry = new Registry()
  private readonly requestedTotal: Counter
  private readonly completedTotal: Counter
  private readonly failedTotal: Counter
  private readonly takeoversTotal: Counter
  private readonly logReopensTotal: Counter
  private readonly stallsTotal: Counter
  private readonly jobDuration: Histogram
  private readonly jobWait: Histogram
  private readonly heartbeatRtt: Histogram
  private readonly relayLatency: Histogram

  constructor(sources: MetricSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    const counter = (c: Omit<CounterConfiguration<string>, 'registers'>) =>
      new Counter({ ...c, registers })
    this.requestedTotal = counter({
      name: 'pdfcluster_downloads_requested_total',
      help: 'Downloads requested through this node',
    })
    this.completedTotal = counter({
      name: 'pdfcluster_downloads_completed_total',
      help: 'Downloads this node made ready',
    })
    this.failedTotal = counter({
      name: 'pdfcluster_downloads_failed_total',
      help: 'Downloads this node failed for good (their last attempt threw)',
    })
    this.takeoversTotal = counter({
      name: 'pdfcluster_takeovers_total',
      help: 'Downloads this node took over from a dead owner',
    })
    this.logReopensTotal = counter({
      name: 'pdfcluster_log_reopens_total',
      help: "Times this node's log stopped applying for good and was closed and opened again",
    })
    this.stallsTotal = counter({
      name: 'pdfcluster_stalls_total',
      help: "Times this node's event loop stood still longer than peers wait before declaring a member dead (a paused process, CPU starvation): its workers were fenced",
    })
    this.jobDuration = new Histogram({
      name: 'pdfcluster_job_duration_seconds',
      help: 'Working time of the attempt that made a download ready, on the node that ran it',
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800],
      registers,
    })
    this.jobWait = new Histogram({
      name: 'pdfcluster_job_wait_seconds',
      help: 'From a request to its first progress, on the node that ran it',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers,
    })
    this.heartbeatRtt = new Histogram({
      name: 'pdfcluster_heartbeat_rtt_seconds',
      help: 'Round trip of a heartbeat to a member and its echo back',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    })
    this.relayLatency = new Histogram({
      name: 'pdfcluster_relay_latency_seconds',
      help: 'From a worker on another node measuring progress to the tick arriving here',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers,
    })

    new Gauge({
      name: 'pdfcluster_downloads',
      help: "Downloads in the cluster by state, as this node's table shows them",
      labelNames: ['state'],
      registers,
      collect() {
        const counts = new Map<string, number>(STATES.map((s) => [s, 0]))
        for (const d of sources.downloads()) counts.set(d.state, (counts.get(d.state) ?? 0) + 1)
        for (const [state, n] of counts) this.set({ state }, n)
      },
    })
    new Gauge({
      name: 'pdfcluster_workers_running',
      help: 'Workers running on this node',
      registers,
      collect() {
        this.set(sources.workersRunning())
      },
    })
    new Gauge({
      name: 'pdfcluster_members',
      help: 'Members this node knows of (itself included), by status',
      labelNames: ['status'],
      registers,
      collect() {
        const counts = new Map<string, number>(STATUSES.map((s) => [s, 0]))
        for (const m of sources.members()) counts.set(m.status, (counts.get(m.status) ?? 0) + 1)
        for (const [status, n] of counts) this.set({ status }, n)
      },
    })
    new Gauge({
      name: 'pdfcluster_log_operations',
      help: 'Operations in the log this node is on (it compacts past --log-compact-ops)',
      registers,
      collect() {
        this.set(sources.logLength())
      },
    })
    new Gauge({
      name: 'pdfcluster_log_behind_operations',
      help: 'Blocks of the log (an operation, or a pack of several) the most advanced peer on the same log holds that this node has not applied',
      registers,
      collect() {
        this.set(sources.logBehind())
      },
    })
    new Gauge({
      name: 'pdfcluster_data_bytes',
      help: 'Bytes the data directory takes on disk (store, files, spool)',
      registers,
      async collect() {
        this.set(await sources.dataBytes().catch(() => NaN))
      },
    })
    new Gauge({
      name: 'pdfcluster_disk_free_bytes',
      help: 'Bytes free on the file system of the data directory, as last measured (each second)',
      registers,
      collect() {
        this.set(sources.diskFree())
      },
    })
    new Gauge({
      name: 'pdfcluster_disk_reserve_bytes',
      help: 'The free disk the node keeps (--min-free-mb): below it, it takes no new downloads',
      registers,
      collect() {
        this.set(sources.diskReserve())
      },
    })
    new Gauge({
      name: 'pdfcluster_disk_low',
      help: '1 from when free disk falls below --min-free-mb until it is back above 1.5 times that: no new downloads here, workers paused',
      registers,
      collect() {
        this.set(sources.diskLow() ? 1 : 0)
      },
    })
    new Gauge({
      name: 'pdfcluster_websocket_connections',
      help: 'WebSocket connections open on this node',
      registers,
      collect() {
        this.set(sources.websocketConnections())
      },
    })
  }

  requested(): void {
    this.requestedTotal.inc()
  }
  waited(seconds: number): void {
    this.jobWait.observe(seconds)
  }
  completed(workSeconds: number): void {
    this.completedTotal.inc()
    this.jobDuration.observe(workSeconds)
  }
  failed(): void {
    this.failedTotal.inc()
  }
  tookOver(_from: string, _progress: number): void {
    this.takeoversTotal.inc()
  }
  /** The log's update stalled and the node opened it again (record-log.ts, 'reopened'). */
  logReopened(): void {
    this.logReopensTotal.inc()
  }
  stalled(): void {
    this.stallsTotal.inc()
  }
  relayed(seconds: number): void {
    this.relayLatency.observe(seconds)
  }
  heartbeat(rttSeconds: number): void {
    this.heartbeatRtt.observe(rttSeconds)
  }

  /** The exposition, and its content type. */
  async scrape(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType }
  }
}
