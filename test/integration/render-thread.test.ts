import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { Worker } from 'node:worker_threads'
import { RenderThread } from '../../src/downloads/render-thread.ts'
import { renderReport, type ReportFields } from '../../src/downloads/pdf.ts'
import { assertValidPdf } from '../helpers/pdf.ts'

const fields = (id: string): ReportFields => ({
  id,
  userId: 'user1',
  requestedAt: 1_700_000_000_000,
  startedAt: 1_700_000_000_500,
  finishedAt: 1_700_000_003_500,
  workMs: 3000,
  attempts: 'n1 from 0%',
})

/** A renderer whose fallback counts what it rendered on the event loop. */
function thread(start?: () => Worker) {
  const onLoop: string[] = []
  const gaveUp: string[] = []
  const t = new RenderThread({
    fallback: (f) => (onLoop.push(f.id), renderReport(f)),
    onGiveUp: (reason) => gaveUp.push(reason),
    start,
  })
  return { t, onLoop, gaveUp }
}

/** Niceness of each thread of this process (Linux: field 19 of /proc/self/task/<tid>/stat). */
function niceOfThreads(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16])
  })
}

test('reports are rendered on the thread, at a lower priority than the event loop', async () => {
  const { t, onLoop, gaveUp } = thread()
  const pdfs = await Promise.all(['a', 'b', 'c'].map((id) => t.render(fields(id))))
  for (const pdf of pdfs) assertValidPdf(pdf)
  assert.match(pdfs[1]!.toString('latin1'), /Download report b/)
  assert.equal(onLoop, [])
  assert.equal(gaveUp, [])
  assert.is(t.onLoop, false)
  assert.is(t.length, 0)
  const nice = niceOfThreads()
  assert.ok(nice.includes(10), `one thread at nice 10, got ${nice.join(', ')}`)
  assert.is(nice[0], 0, 'the main thread keeps its priority')
})

test('a thread that cannot start leaves every render to the event loop, told once', async () => {
  const { t, onLoop, gaveUp } = thread(() => {
    throw new Error('no threads here')
  })
  assertValidPdf(await t.render(fields('a')))
  assertValidPdf(await t.render(fields('b')))
  assert.equal(onLoop, ['a', 'b'])
  assert.equal(gaveUp, ['no threads here'])
  assert.is(t.onLoop, true)
})

test('a thread that dies with renders waiting: they and the later ones are rendered on the loop', async () => {
  // Takes the first message and dies of it without answering.
  const { t, onLoop, gaveUp } = thread(
    () =>
      new Worker(
        "require('node:worker_threads').parentPort.once('message', () => { throw new Error('out of fonts') })",
        { eval: true },
      ),
  )
  const waiting = [t.render(fields('a')), t.render(fields('b'))]
  for (const pdf of await Promise.all(waiting)) assertValidPdf(pdf)
  assertValidPdf(await t.render(fields('c')))
  assert.equal(onLoop, ['a', 'b', 'c'])
  assert.equal(gaveUp, ['out of fonts'])
})

test("a render's own failure is the render's, and the thread goes on", async () => {
  const { t, onLoop, gaveUp } = thread(
    () =>
      new Worker(
        `const { parentPort } = require('node:worker_threads')
         parentPort.on('message', (m) => parentPort.postMessage(
           m.fields.id === 'bad' ? { id: m.id, error: 'no such font' } : { id: m.id, bytes: new Uint8Array([37]) }))`,
        { eval: true },
      ),
  )
  const failure = await t.render(fields('bad')).then(
    () => null,
    (err: Error) => err.message,
  )
  assert.is(failure, 'no such font')
  assert.equal([...(await t.render(fields('good')))], [37])
  assert.equal(onLoop, [])
  assert.equal(gaveUp, [])
})

test('the thread holds a process open while it renders, and not once idle', async () => {
  const script = `
    import { RenderThread } from ${JSON.stringify(new URL('../../src/downloads/render-thread.ts', import.meta.url).href)}
    const t = new RenderThread({ fallback: () => Promise.reject(new Error('fell back')) })
    const pdf = await t.render(${JSON.stringify(fields('a'))})
    console.log('rendered', pdf.subarray(0, 5).toString('latin1'))`
  const started = Date.now()
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { timeout: 20_000 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  )
  assert.match(out, /rendered %PDF-/)
  assert.ok(Date.now() - started < 15_000)
})

test.run()
