/**
 * The job contract on a real node: parameters reach every attempt and the client, a generator
 * that throws is retried from its checkpoint until its attempts run out, a dismissal cancels a
 * waiting retry, and a streamed file is served whole and by range.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { startTestNode, tempDir } from '../helpers/node.ts'
import type { Generator, Job } from '../../src/downloads/generator.ts'
import type { Config } from '../../src/config.ts'
import type { RunningNode } from '../../src/node.ts'

async function withNode(
  generator: Generator,
  over: Partial<Config>,
  body: (client: Client, url: string, cookie: string, node: RunningNode) => Promise<void>,
): Promise<void> {
  const dir = await tempDir()
  const node = await startTestNode({ name: 'n1', dataDir: dir.path, ...over }, { generator })
  try {
    const cookie = await sessionCookie(node.url)
    const client = await Client.connect(node.url, cookie)
    try {
      await body(client, node.url, cookie, node)
    } finally {
      client.close()
    }
  } finally {
    await node.close()
    await dir.remove()
  }
}

const file = (text: string) => ({
  bytes: Buffer.from(text),
  filename: 'out.txt',
  contentType: 'text/plain; charset=utf-8',
})

test('parameters are validated by the generator, handed to the job and shown to the client', async () => {
  const jobs: Job[] = []
  const generator: Generator = {
    name: 'invoices',
    validate: (params) =>
      typeof params.month === 'string' && /^\d{4}-\d{2}$/.test(params.month)
        ? null
        : 'month must be YYYY-MM',
    async run(job) {
      jobs.push(job)
      return file(`invoices for ${String(job.params.month)}`)
    },
  }
  await withNode(generator, {}, async (client, url, cookie) => {
    client.send({ type: 'request', params: { month: 'March' } })
    const refused = await client.next((m) => m.type === 'error')
    assert.is((refused as { message: string }).message, 'Invalid parameters: month must be YYYY-MM')

    client.send({ type: 'request', params: ['2026-03'] })
    assert.match(
      ((await client.wait((m) => m.type === 'error')) as { message: string }).message,
      /"params" must be a JSON object/,
    )
    client.send({ type: 'request', params: { month: '2026-03', note: 'x'.repeat(2100) } })
    assert.match(
      ((await client.wait((m) => m.type === 'error')) as { message: string }).message,
      /at most 2048/,
    )
    assert.is(jobs.length, 0, 'nothing refused ran')

    client.send({ type: 'request', params: { month: '2026-03' } })
    const ready = await client.seen((d) => d?.state === 'ready')
    assert.equal(ready?.params, { month: '2026-03' })
    assert.equal(jobs[0]?.params, { month: '2026-03' })
    const res = await fetch(url + ready!.fileUrl, { headers: { cookie } })
    assert.is(await res.text(), 'invoices for 2026-03')
  })
})

test('a request without params gets {} (what worked before keeps working)', async () => {
  let seen: Job | null = null
  const generator: Generator = {
    name: 'plain',
    async run(job) {
      seen = job
      return file('ok')
    },
  }
  await withNode(generator, {}, async (client) => {
    client.send({ type: 'request' })
    const ready = await client.seen((d) => d?.state === 'ready')
    assert.equal(ready?.params, {})
    assert.equal(seen!.params, {})
  })
})

test('a job that throws is retried from its last checkpoint, and says which attempt it is on', async () => {
  const jobs: Job[] = []
  const generator: Generator = {
    name: 'flaky',
    async run(job, ctx) {
      jobs.push(job)
      if (job.attempt === 1) {
        ctx.report(40, { row: 400 })
        throw new Error('the database went away')
      }
      ctx.report(90, { row: 900 })
      return file(`from row ${String(job.checkpoint?.row)}`)
    },
  }
  await withNode(generator, { attempts: 3, retryMs: 200 }, async (client, url, cookie) => {
    client.send({ type: 'request' })
    const waiting = await client.seen((d) => d?.retryAt != null)
    assert.is(waiting?.state, 'pending')
    assert.is(waiting?.attempt, 2)
    assert.is(waiting?.attempts, 3)
    assert.is(waiting?.error, 'the database went away')
    assert.is(waiting?.progress, 40)
    const ready = await client.seen((d) => d?.state === 'ready')
    assert.is(ready?.attempt, 2)
    assert.is(ready?.error, null)
    assert.is(ready?.retryAt, null)
    assert.is(jobs.length, 2)
    assert.equal(jobs[1]!.checkpoint, { row: 400 })
    assert.is(jobs[1]!.progress, 40)
    const res = await fetch(url + ready!.fileUrl, { headers: { cookie } })
    assert.is(await res.text(), 'from row 400')
  })
})

test('after its last attempt a job is in error with the message', async () => {
  let runs = 0
  const generator: Generator = {
    name: 'broken',
    async run() {
      runs++
      throw new Error(`attempt ${runs} failed`)
    },
  }
  await withNode(generator, { attempts: 2, retryMs: 100 }, async (client, url) => {
    client.send({ type: 'request' })
    const failed = await client.seen((d) => d?.state === 'error')
    assert.is(failed?.error, 'attempt 2 failed')
    assert.is(failed?.attempt, 2)
    assert.is(failed?.retryAt, null)
    assert.is(runs, 2)
    // Counted once, as failed, not once per attempt.
    const metrics = await (await fetch(url + '/metrics')).text()
    assert.match(metrics, /^pdfcluster_downloads_failed_total 1$/m)
    assert.match(metrics, /^pdfcluster_downloads_completed_total 0$/m)
    assert.match(metrics, /^pdfcluster_downloads\{state="error"\} 1$/m)
  })
})

test('a dismissal cancels a retry waiting for its backoff', async () => {
  let runs = 0
  const generator: Generator = {
    name: 'broken',
    async run() {
      runs++
      throw new Error('no')
    },
  }
  await withNode(generator, { attempts: 3, retryMs: 600 }, async (client) => {
    client.send({ type: 'request' })
    const waiting = await client.seen((d) => d?.retryAt != null)
    client.send({ type: 'dismiss' })
    await client.seen((d) => d === null)
    // Past the longest the backoff could have been: nothing ran again.
    await new Promise((resolve) => setTimeout(resolve, waiting!.retryAt - Date.now() + 500))
    assert.is(runs, 1)
  })
})

test('a streamed file is stored as it comes and served whole, by range, and refused past its end', async () => {
  const size = 3 * 1024 * 1024 + 123
  const bytes = Buffer.alloc(size)
  for (let i = 0; i < size; i++) bytes[i] = (i * 7 + (i >> 10)) & 0xff
  const generator: Generator = {
    name: 'stream',
    async run() {
      // Odd chunk sizes: the store cuts its own blocks.
      const chunks: Buffer[] = []
      for (let at = 0; at < size; at += 100_003) chunks.push(bytes.subarray(at, at + 100_003))
      return {
        stream: Readable.from(chunks),
        filename: 'big.bin',
        contentType: 'application/octet-stream',
      }
    },
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')
  await withNode(generator, {}, async (client, url, cookie) => {
    client.send({ type: 'request' })
    const ready = await client.seen((d) => d?.state === 'ready')
    const whole = await fetch(url + ready!.fileUrl, { headers: { cookie } })
    assert.is(whole.status, 200)
    assert.is(whole.headers.get('content-length'), String(size))
    assert.is(whole.headers.get('accept-ranges'), 'bytes')
    assert.is(sha(Buffer.from(await whole.arrayBuffer())), sha(bytes))

    const part = await fetch(url + ready!.fileUrl, {
      headers: { cookie, range: 'bytes=1000000-1065535' },
    })
    assert.is(part.status, 206)
    assert.is(part.headers.get('content-range'), `bytes 1000000-1065535/${size}`)
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(bytes.subarray(1000000, 1065536)))

    // A browser resumes with If-Range: the file's validator, which never changes.
    const etag = whole.headers.get('etag')
    assert.is(etag, `"${ready!.id}"`)
    const resumed = await fetch(url + ready!.fileUrl, {
      headers: { cookie, range: 'bytes=3000000-', 'if-range': etag! },
    })
    assert.is(resumed.status, 206)
    assert.ok(Buffer.from(await resumed.arrayBuffer()).equals(bytes.subarray(3000000)))
    const changed = await fetch(url + ready!.fileUrl, {
      headers: { cookie, range: 'bytes=3000000-', 'if-range': '"another"' },
    })
    assert.is(changed.status, 200, 'a range of another file gets this one whole')
    assert.is((await changed.arrayBuffer()).byteLength, size)

    const tail = await fetch(url + ready!.fileUrl, { headers: { cookie, range: 'bytes=-10' } })
    assert.is(tail.status, 206)
    assert.ok(Buffer.from(await tail.arrayBuffer()).equals(bytes.subarray(size - 10)))

    const past = await fetch(url + ready!.fileUrl, { headers: { cookie, range: `bytes=${size}-` } })
    assert.is(past.status, 416)
    assert.is(past.headers.get('content-range'), `bytes */${size}`)
    await past.arrayBuffer()
  })
})

test('a stream that fails is the job failing: retried, then in error with its message', async () => {
  let runs = 0
  const generator: Generator = {
    name: 'bad-stream',
    async run() {
      runs++
      async function* rows() {
        yield Buffer.alloc(200_000, 1)
        throw new Error('the source closed mid-file')
      }
      return { stream: Readable.from(rows()), filename: 'x.csv', contentType: 'text/csv' }
    },
  }
  await withNode(generator, { attempts: 2, retryMs: 100 }, async (client) => {
    client.send({ type: 'request' })
    const failed = await client.seen((d) => d?.state === 'error')
    assert.is(failed?.error, 'the source closed mid-file')
    assert.is(runs, 2)
  })
})

test('a result of the wrong shape fails at once with what is wrong, without retries', async () => {
  let runs = 0
  const generator = {
    name: 'wrong',
    async run() {
      runs++
      return { filename: 'x.txt', contentType: 'text/plain' }
    },
  } as unknown as Generator
  await withNode(generator, { attempts: 3, retryMs: 100 }, async (client) => {
    client.send({ type: 'request' })
    const failed = await client.seen((d) => d?.state === 'error')
    assert.match(failed?.error, /neither or both of bytes/)
    assert.is(runs, 1)
  })
})

test.run()
