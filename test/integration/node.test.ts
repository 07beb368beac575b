import { test } from 'uvu'
import { rejects } from 'node:assert/strict'
import { createServer } from 'node:net'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { freeTcpPort, freeUdpPorts } from '../../scripts/lib/ports.ts'
import { eventually } from '../helpers/cluster.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const MB = 1024 * 1024
import * as assert from 'uvu/assert'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { startTestNode, tempDir } from '../helpers/node.ts'
import { assertValidPdf } from '../helpers/pdf.ts'
import type { Generator } from '../../src/downloads/generator.ts'
import type { RunningNode } from '../../src/node.ts'

test('request, progress, ready, file, dismiss; a second request while one is live is refused', async () => {
  const dir = await tempDir()
  const node = await startTestNode({ name: 'n1', dataDir: dir.path, workMs: 1500 })
  try {
    const cookie = await sessionCookie(node.url)
    const client = await Client.connect(node.url, cookie)
    const first = await client.next((m) => m.type === 'download')
    assert.equal(first, { type: 'download', download: null })

    client.send({ type: 'request' })
    const pending = await client.download((d) => d !== null)
    assert.ok(pending)
    assert.ok(['pending', 'processing'].includes(pending.state))
    assert.is(pending.owner, node.id)
    assert.is(pending.ownerName, 'n1')
    assert.is(pending.checkpoint, undefined, 'internal state is not sent')

    client.send({ type: 'request' })
    const refused = await client.next((m) => m.type === 'error')
    assert.match((refused as { message: string }).message, /already have a download/)
    assert.is((refused as { code?: string }).code, 'conflict', 'a page can tell it from others')

    const mid = await client.download(
      (d) => d?.state === 'processing' && d.progress > 0 && d.progress < 100,
    )
    assert.is(mid?.id, pending.id)
    const ready = await client.download((d) => d?.state === 'ready', 10_000, 'ready')
    assert.ok(ready)
    assert.is(ready.progress, 100)
    assert.is(ready.fileUrl, `/downloads/${pending.id}`)

    // Progress only ever rose.
    const progress = client.messages.flatMap((m) =>
      m.type === 'download' && m.download ? [m.download.progress as number] : [],
    )
    for (let i = 1; i < progress.length; i++)
      assert.ok(progress[i]! >= progress[i - 1]!, `progress went back: ${progress}`)

    const res = await fetch(node.url + ready.fileUrl, { headers: { cookie } })
    assert.is(res.status, 200)
    assert.is(res.headers.get('content-type'), 'application/pdf')
    assert.match(
      res.headers.get('content-disposition') ?? '',
      /attachment; filename="report-.+\.pdf"/,
    )
    assertValidPdf(Buffer.from(await res.arrayBuffer()))

    client.send({ type: 'dismiss' })
    assert.is(await client.download((d) => d === null), null)
    // A new request is accepted once the old one is dismissed.
    client.send({ type: 'request' })
    const again = await client.download((d) => d !== null && d.id !== pending.id)
    assert.ok(again)
    client.close()
  } finally {
    await node.close()
    await dir.remove()
  }
})

test('a generator that throws on its last attempt leaves the record in error; the user dismisses and requests again', async () => {
  const dir = await tempDir()
  let calls = 0
  const generator: Generator = {
    name: 'flaky',
    async run(job, ctx) {
      calls++
      if (calls === 1) {
        ctx.report(30, {})
        throw new Error('the printer is on fire')
      }
      ctx.report(50, {})
      return {
        bytes: Buffer.from('%PDF-1.4 fake'),
        filename: 'x.pdf',
        contentType: 'application/pdf',
      }
    },
  }
  const node = await startTestNode({ name: 'n1', dataDir: dir.path, attempts: 1 }, { generator })
  try {
    const client = await Client.connect(node.url, await sessionCookie(node.url))
    client.send({ type: 'request' })
    const failed = await client.download((d) => d?.state === 'error')
    assert.is(failed?.error, 'the printer is on fire')
    assert.is(failed?.attempt, 1)
    assert.is(failed?.attempts, 1)
    client.send({ type: 'request' })
    await client.next((m) => m.type === 'error')
    client.send({ type: 'dismiss' })
    await client.download((d) => d === null)
    client.send({ type: 'request' })
    const ok = await client.download((d) => d?.state === 'ready')
    assert.ok(ok && ok.id !== failed?.id)
    client.close()
  } finally {
    await node.close()
    await dir.remove()
  }
})

test('a node stopped mid-download resumes it after a restart on the same data dir', async () => {
  const dir = await tempDir()
  let node: RunningNode = await startTestNode({ name: 'n1', dataDir: dir.path, workMs: 3000 })
  try {
    const cookie = await sessionCookie(node.url)
    let client = await Client.connect(node.url, cookie)
    client.send({ type: 'request' })
    const mid = await client.download((d) => d?.state === 'processing' && d.progress >= 30)
    assert.ok(mid)
    await node.close()
    await client.closed

    const log = recordingLogger()
    node = await startTestNode({ name: 'n1', dataDir: dir.path, workMs: 3000 }, { log })
    assert.equal(log.events('unclean-stop'), [], 'it was stopped, not killed (run-marker.ts)')
    client = await Client.connect(node.url, cookie)
    const first = await client.next((m) => m.type === 'download')
    const after = (first as { download: Record<string, any> }).download
    assert.is(after?.id, mid.id, 'the record survived the restart')
    assert.ok(after.progress >= 30, `resumed from ${after.progress}%, not from zero`)
    const ready = await client.download((d) => d?.state === 'ready')
    const res = await fetch(node.url + ready!.fileUrl, { headers: { cookie } })
    assertValidPdf(Buffer.from(await res.arrayBuffer()))
    client.close()
  } finally {
    await node.close()
    await dir.remove()
  }
})

test('closing a node takes under a second and is safe to call twice', async () => {
  const dir = await tempDir()
  const node = await startTestNode({ name: 'n1', dataDir: dir.path })
  const client = await Client.connect(node.url, await sessionCookie(node.url))
  client.send({ type: 'request' })
  await client.download((d) => d?.state === 'processing')
  const started = Date.now()
  await Promise.all([node.close(), node.close()])
  assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`)
  const { code } = await client.closed
  assert.is(code, 1001)
  await dir.remove()
})

test('a node that cannot start says why, and leaves nothing open behind it', async () => {
  const [a, b] = [await tempDir(), await tempDir()]
  const [dhtA, dhtB] = await freeUdpPorts(2)
  const first = await startTestNode({ name: 'n1', dataDir: a.path, dhtPort: dhtA! })
  try {
    // The HTTP port is taken: refused before the store is even opened.
    await rejects(
      () => startTestNode({ name: 'n2', dataDir: b.path, port: first.port }),
      new RegExp(`cannot listen on 127.0.0.1:${first.port}: .*EADDRINUSE`),
    )
    // The data directory belongs to a running node: said in those words, its port given back.
    const port = await freeTcpPort()
    const refusedLog = recordingLogger()
    const runOf = async () =>
      JSON.parse(await readFile(join(a.path, 'running.json'), 'utf8').catch(() => '{}')).run
    const markerBefore = await runOf()
    assert.type(markerBefore, 'string')
    await rejects(
      () => startTestNode({ name: 'n2', dataDir: a.path, port }, { log: refusedLog }),
      new RegExp(`the data directory ${a.path} is in use by another running node`),
    )
    // Nor did it take the running node's marker for a dead run's, or remove it (run-marker.ts).
    assert.equal(refusedLog.events('unclean-stop'), [])
    assert.is(await runOf(), markerBefore, "n1's marker stays")
    const probe = createServer()
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject)
      probe.listen(port, '127.0.0.1', resolve)
    })
    probe.close()
    // A data directory that cannot be made (a file stands in its path): the flag is named.
    await writeFile(join(b.path, 'a-file'), 'x')
    const inFile = join(b.path, 'a-file', 'n2')
    await rejects(
      () => startTestNode({ name: 'n2', dataDir: inFile }),
      new RegExp(`^Error: cannot use the data directory ${inFile} \\(--data\\): ENOTDIR`),
    )
    // The DHT port is taken: the store it had opened is closed again, so it can start later.
    await rejects(
      () => startTestNode({ name: 'n2', dataDir: b.path, dhtPort: dhtA! }),
      new RegExp(`--dht-port ${dhtA} is already in use`),
    )
    const second = await startTestNode({ name: 'n2', dataDir: b.path, dhtPort: dhtB! })
    await second.close()
  } finally {
    await first.close()
    await a.remove()
    await b.remove()
  }
})

test('a node whose disk runs low says so, refuses new downloads, pauses its workers, and resumes when space is back', async () => {
  const dir = await tempDir()
  const disk = { free: 10_000 * MB }
  const log = recordingLogger()
  const node = await startTestNode(
    { name: 'n1', dataDir: dir.path, workMs: 2000, minFreeMb: 64 },
    { freeBytes: async () => disk.free, log },
  )
  try {
    const cookie = await sessionCookie(node.url)
    const client = await Client.connect(node.url, cookie)
    client.send({ type: 'request' })
    const running = await client.seen((d) => d?.state === 'processing' && d.progress >= 20)

    disk.free = 10 * MB
    await eventually(() => node.manager.running === 0, 'the worker paused')
    const health = await fetch(node.url + '/healthz')
    assert.is(health.status, 503)
    const body = (await health.json()) as { ok: boolean; problems: string[] }
    assert.is(body.ok, false)
    assert.match(body.problems[0] ?? '', /^disk nearly full: 10 MB free in /)
    assert.equal(
      log.events('disk-low').map((e) => e.fields.freeMb),
      [10],
    )
    const other = await Client.connect(node.url, await sessionCookie(node.url))
    other.send({ type: 'request' })
    const refused = (await other.next((m) => m.type === 'error')) as { message: string }
    assert.match(refused.message, /low on disk space/)
    other.close()

    disk.free = 10_000 * MB
    const ready = await client.seen((d) => d?.state === 'ready', 15_000, 'resumed and finished')
    assert.is(ready!.id, running!.id)
    assert.is((await fetch(node.url + '/healthz')).status, 200)
    assert.ok(log.events('resume').length >= 1, 'resumed from its checkpoint')
    client.close()
  } finally {
    await node.close()
    await dir.remove()
  }
})

test('a failure that repeats every second is written five times, then with how many were held back, not once a second', async () => {
  const dir = await tempDir()
  const log = recordingLogger()
  let measured = 0
  const node = await startTestNode(
    { name: 'n1', dataDir: dir.path },
    {
      freeBytes: async () => {
        measured++
        throw new Error('EACCES: permission denied, statfs')
      },
      log,
    },
  )
  try {
    await eventually(() => measured >= 7, 'measured seven times', 15_000)
    const lines = log.events('disk-measure-failed')
    assert.is(lines.length, 5, `measured ${measured} times, written five times`)
    assert.is(lines[0]!.level, 'error')
    assert.match(String(lines[0]!.fields.message), /--min-free-mb guard keeps its last reading/)
  } finally {
    await node.close()
    await dir.remove()
  }
  // What was held back is counted when the node stops.
  const held = log.events('disk-measure-failed')[5]
  assert.ok(Number(held?.fields.repeats) >= 2, `repeats=${held?.fields.repeats}`)
})

test('a node whose loop stood still says so and counts it (pdfcluster_stalls_total)', async () => {
  const dir = await tempDir()
  const log = recordingLogger()
  const node = await startTestNode({ name: 'n1', dataDir: dir.path }, { log })
  try {
    // Longer than peers wait before declaring a member dead (800 ms by default): as a paused
    // process, or a starved one.
    const until = Date.now() + 1200
    while (Date.now() < until) {
      // Busy: the loop stands still.
    }
    await eventually(() => log.events('stalled').length > 0, 'the stall is told', 5000)
    const { body } = await node.metrics.scrape()
    assert.match(body, /^pdfcluster_stalls_total 1$/m)
  } finally {
    await node.close()
    await dir.remove()
  }
})

test.run()
