/**
 * What an operator sees, on three real nodes logging JSON: /metrics parsed with a Prometheus
 * text parser moves as downloads are requested, complete and fail over, the completed
 * counters summing to the downloads made; every log line is a JSON object, and one grep of a
 * download's id follows it across the nodes.
 */
import { test } from 'uvu'
import { spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as assert from 'uvu/assert'
import parsePrometheus from 'parse-prometheus-text-format'
import { processCluster, waitForCluster, type NodeProcess } from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { downloadWhere } from '../helpers/ranking.ts'

type Family = {
  name: string
  type: string
  metrics: { value?: string; labels?: Record<string, string>; count?: string }[]
}

async function scrape(n: NodeProcess): Promise<Map<string, Family>> {
  const res = await fetch(n.url + '/metrics')
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/)
  const text = await res.text()
  return new Map((parsePrometheus(text) as Family[]).map((f) => [f.name, f]))
}

/** A metric's value (with these labels), or its histogram's count. */
function value(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = families.get(name)
  assert.ok(family, `${name} is exported`)
  const sample = family!.metrics.find((m) =>
    Object.entries(labels).every(([k, v]) => m.labels?.[k] === v),
  )
  assert.ok(sample, `${name} ${JSON.stringify(labels)}`)
  return Number(sample!.count ?? sample!.value)
}

const sum = async (nodes: NodeProcess[], name: string, labels?: Record<string, string>) =>
  (await Promise.all(nodes.map(async (n) => value(await scrape(n), name, labels)))).reduce(
    (a, b) => a + b,
    0,
  )

test('metrics move as downloads run, complete and fail over; JSON logs follow a download across nodes', async () => {
  const c = await processCluster(3, ['--work-ms', '2500', '--log-format', 'json'])
  try {
    await waitForCluster(c.nodes)
    const before = await scrape(c.nodes[0]!)
    assert.is(value(before, 'pdfcluster_members', { status: 'alive' }), 3)
    assert.ok(before.has('process_cpu_user_seconds_total'), 'default process metrics')
    assert.ok(before.has('nodejs_eventloop_lag_seconds'), 'default event-loop metrics')
    await eventually(
      async () => value(await scrape(c.nodes[0]!), 'pdfcluster_heartbeat_rtt_seconds') > 0,
      'heartbeat round trips measured',
    )

    // Three users, each on a node of its own: the counters sum to three over the nodes.
    const N = 3
    const pages = await Promise.all(
      c.nodes.map(async (n) => Client.connect(n.url, await sessionCookie(n.url))),
    )
    for (const page of pages) page.send({ type: 'request' })
    await eventually(
      async () => (await sum(c.nodes, 'pdfcluster_workers_running')) === N,
      'three workers running',
    )
    // Running, their records say pending (progress travels beside the log): every node tells
    // them as processing once their worker, ticks or checkpoint copies reach it.
    await eventually(async () => {
      const each = await Promise.all(
        c.nodes.map(async (n) => {
          const m = await scrape(n)
          return [
            value(m, 'pdfcluster_downloads', { state: 'processing' }),
            value(m, 'pdfcluster_downloads', { state: 'pending' }),
          ]
        }),
      )
      return each.every(([processing, pending]) => processing === N && pending === 0)
    }, 'the three running downloads told as processing on every node')
    for (const page of pages) await page.seen((d) => d?.state === 'ready', 30_000, 'ready')
    // A page is told of an outcome as its write starts; the worker counts it a moment after
    // (its write resolves once the view has been read past it).
    await eventually(
      async () => (await sum(c.nodes, 'pdfcluster_downloads_completed_total')) === N,
      'three completions counted',
    )
    assert.is(await sum(c.nodes, 'pdfcluster_downloads_requested_total'), N)
    assert.is(await sum(c.nodes, 'pdfcluster_job_duration_seconds'), N)
    assert.is(await sum(c.nodes, 'pdfcluster_job_wait_seconds'), N)
    assert.is(await sum(c.nodes, 'pdfcluster_downloads_failed_total'), 0)
    for (const n of c.nodes) {
      const m = await scrape(n)
      assert.is(value(m, 'pdfcluster_downloads', { state: 'ready' }), N, `${n.name} sees them all`)
      assert.is(value(m, 'pdfcluster_downloads', { state: 'processing' }), 0)
      assert.ok(value(m, 'pdfcluster_websocket_connections') >= 1)
      assert.ok(value(m, 'pdfcluster_data_bytes') > 0)
      assert.ok(value(m, 'pdfcluster_disk_free_bytes') > 0, 'the real disk, measured')
      assert.is(value(m, 'pdfcluster_disk_low'), 0)
      assert.is(value(m, 'pdfcluster_disk_reserve_bytes'), 64 * 1024 * 1024, 'the default reserve')
      assert.ok(value(m, 'pdfcluster_relay_latency_seconds') >= 0)
    }
    // Operations are counted as each node's view reads them, which may trail what a page saw
    // beside the log: the requests and the outcomes, on every node.
    await eventually(async () => {
      const counts = await Promise.all(
        c.nodes.map(async (n) => value(await scrape(n), 'pdfcluster_log_operations')),
      )
      return counts.every((ops) => ops >= 2 * N)
    }, 'every node counts the requests and outcomes in its log')
    for (const page of pages) page.close()

    // A failover: the successor counts the takeover and the completion.
    const d = await downloadWhere(c.nodes, (order) => order[0] !== c.nodes[0])
    const [owner, successor] = d.order as [NodeProcess, NodeProcess]
    await d.page.seen((x) => (x?.progress ?? 0) >= 30, 30_000, '30 %')
    const doneBefore = value(await scrape(successor), 'pdfcluster_downloads_completed_total')
    c.signal(c.nodes.indexOf(owner), 'SIGKILL')
    await d.page.seen((x) => x?.id === d.id && x!.state === 'ready', 30_000, 'ready')
    // The page is told of an outcome as its write starts; the successor counts it once written.
    await eventually(
      async () =>
        value(await scrape(successor), 'pdfcluster_downloads_completed_total') === doneBefore + 1,
      'the completion counted by the successor',
    )
    const after = await scrape(successor)
    assert.is(value(after, 'pdfcluster_takeovers_total'), 1)
    assert.is(value(after, 'pdfcluster_downloads_completed_total'), doneBefore + 1)
    await eventually(
      async () => value(await scrape(successor), 'pdfcluster_members', { status: 'dead' }) === 1,
      'the dead member counted',
    )
    const text = await (await fetch(successor.url + '/metrics')).text()
    assert.not.ok(text.includes(d.user), 'no user id in the metrics')
    d.page.close()

    // Every line of every node is a JSON object; one id follows the download across nodes.
    for (const n of c.nodes) {
      for (const line of n.lines) {
        let entry: Record<string, unknown>
        try {
          entry = JSON.parse(line)
        } catch {
          throw new Error(`${n.name} wrote a line that is not JSON: ${line}`)
        }
        for (const key of ['time', 'node', 'level', 'event'])
          assert.ok(key in entry, `${key} in ${line}`)
      }
    }
    const about = c.nodes.flatMap((n) =>
      n.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.id === d.id),
    )
    const events = new Set(about.map((e) => `${e.node} ${e.event}`))
    assert.ok(events.has(`n1 request`), [...events].join(', '))
    assert.ok(events.has(`${owner.name} start`), [...events].join(', '))
    assert.ok(events.has(`${successor.name} takeover`), [...events].join(', '))
    assert.ok(events.has(`${successor.name} ready`), [...events].join(', '))
  } finally {
    await c.teardown()
  }
})

test('a node that cannot start says why in a JSON line too, for a log shipper', async () => {
  const busy = createServer().listen(0, '127.0.0.1')
  await once(busy, 'listening')
  const port = (busy.address() as AddressInfo).port
  const dir = await mkdtemp(join(tmpdir(), 'pdf-cluster-json-start-'))
  try {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/main.ts',
        '--log-format',
        'json',
        '--port',
        String(port),
        '--dht-port',
        '0',
        '--data',
        dir,
        '--secret',
        'json-start-test',
      ],
      { encoding: 'utf8', timeout: 30_000 },
    )
    assert.is(run.status, 1)
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
    const failed = lines.find((l) => l.event === 'start-failed')
    assert.ok(failed, run.stdout)
    assert.is(failed!.level, 'error')
    assert.match(String(failed!.error), /cannot listen on 127\.0\.0\.1:\d+: listen EADDRINUSE/)
    assert.match(run.stderr, /^error: cannot listen/m, 'and the plain line on stderr, as before')
  } finally {
    busy.close()
    await rm(dir, { recursive: true, force: true })
  }
})

test.run()
