/** The library API in this process: createNode refuses what the command line refuses, and runs a job given as an object. */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from 'node:assert/strict'
import { recordingLogger } from '../helpers/recording-logger.ts'
import {
  ConfigError,
  createNode,
  InvalidUserError,
  RefusalError,
  type Generator,
  type NodeOptions,
} from '../../src/index.ts'
import { tempDir } from '../helpers/node.ts'

const base = { port: 0, dhtPort: 0, bootstrap: [], secret: 'library-test', log: false as const }

test('createNode refuses a bad setting, an unknown option, a generator without run and a logger missing a level, in one line', async () => {
  const dir = await tempDir()
  try {
    const refusal = async (options: Record<string, unknown>) => {
      try {
        await createNode({ ...base, dataDir: dir.path, ...options })
      } catch (err) {
        const message = (err as Error).message
        assert.not.match(message, /\n/)
        return message
      }
      throw new Error(`${JSON.stringify(options)} started`)
    }
    assert.match(await refusal({ attempts: 0 }), /^attempts must be a whole number above 0/)
    assert.match(await refusal({ data: dir.path }), /^unknown option "data"/)
    assert.match(
      await refusal({ generator: { name: 'x' } }),
      /^generator has no run\(job, ctx\) function$/,
    )
    // A logger missing a level would end the process the first time that level is used.
    assert.is(
      await refusal({ log: { info() {} } }),
      'log must be false or an object with info, warn and error functions (missing: warn, error)',
    )
    assert.match(await refusal({ log: 'stdout' }), /^log must be false or an object/)
    assert.match(await refusal({ secret: { s: 'abcdefghij' } }), /^secret must be a string/)
    await rejects(
      createNode(null as unknown as NodeOptions),
      (err: Error) =>
        err instanceof ConfigError &&
        err.code === 'config' &&
        /takes an object of options/.test(err.message),
    )
  } finally {
    await dir.remove()
  }
})

test("a watcher of a user gets its download's every progress report, as a page does", async () => {
  const dir = await tempDir()
  let go: () => void = () => {}
  const job: Generator = {
    name: 'steps',
    async run(_, ctx) {
      for (const p of [20, 40, 60, 80]) {
        ctx.report(p, { at: p })
        await new Promise<void>((resolve) => (go = resolve))
      }
      return { bytes: Buffer.from('done'), filename: 'd.txt', contentType: 'text/plain' }
    },
  }
  const node = await createNode({ ...base, log: false, dataDir: dir.path, generator: job })
  try {
    const seen: (string | number)[] = []
    const unwatch = node.watch('user-w', (d) => seen.push(d ? `${d.state} ${d.progress}` : 'none'))
    await node.request('user-w')
    // Step by step: each report reaches the watcher before the job goes on.
    for (const p of [20, 40, 60, 80]) {
      const at = Date.now()
      while (!seen.includes(`processing ${p}`)) {
        if (Date.now() - at > 10_000) assert.unreachable(`${p} % never seen: ${seen.join(', ')}`)
        await new Promise((r) => setTimeout(r, 10))
      }
      go()
    }
    const at = Date.now()
    while (!seen.some((x) => String(x).startsWith('ready'))) {
      if (Date.now() - at > 10_000) assert.unreachable(`never ready: ${seen.join(', ')}`)
      await new Promise((r) => setTimeout(r, 10))
    }
    assert.is(seen[0], 'none', 'first, the download now: none yet')
    unwatch()
    await node.dismiss('user-w')
    assert.not.ok(seen.includes('none', 1), 'unwatched: the dismissal is not told')
    assert.throws(
      () => node.watch('bad user!', () => {}),
      (err: Error) => err instanceof InvalidUserError,
    )
  } finally {
    await node.close()
    await dir.remove()
  }
})

test('createNode runs a job object; the handle requests, reports changes, hands over the file and closes', async () => {
  const dir = await tempDir()
  const job: Generator = {
    name: 'upper',
    async run(j, ctx) {
      ctx.report(50, { half: true })
      return {
        bytes: Buffer.from(String(j.params.text).toUpperCase()),
        filename: 'u.txt',
        contentType: 'text/plain',
      }
    },
  }
  const log = recordingLogger()
  const node = await createNode({ ...base, log, dataDir: dir.path, generator: job })
  try {
    assert.match(node.name, /^node-/)
    assert.is(node.members().length, 1)
    // An app's listener that throws keeps none of the others from hearing of a change.
    node.onDownload(() => {
      throw new Error('a bug in the app')
    })
    node.onDownload(() => {
      throw new Error('another')
    })
    const ready = new Promise((resolve) =>
      node.onDownload(({ download }) => download?.state === 'ready' && resolve(download)),
    )
    const requested = await node.request('user-1', { text: 'quiet' })
    assert.equal(requested.params, { text: 'quiet' })
    const done = (await ready) as { id: string; fileUrl: string }
    assert.is(done.id, requested.id)
    assert.is(node.current('user-1')?.state, 'ready')
    // The app's bug is logged (at each change: a few a minute are), with where it was thrown.
    const [thrown] = log.events('watcher-failed')
    assert.is(thrown?.fields.error, '2 listeners threw: a bug in the app; another')
    assert.match(String(thrown?.fields.message), /one passed to onDownload/)
    assert.match(String(thrown?.fields.thrownAt), /library\.test\.ts:\d+/)
    // The app hands the file over itself: its users need no session cookie of the node's.
    const file = await node.file('user-1')
    assert.ok(file && file !== 'not-ready')
    assert.equal(
      [file.id, file.filename, file.contentType, file.size],
      [done.id, 'u.txt', 'text/plain', 5],
    )
    const chunks: Buffer[] = []
    for await (const chunk of file.stream()) chunks.push(chunk as Buffer)
    assert.is(Buffer.concat(chunks).toString(), 'QUIET')
    assert.is(await node.file('someone-else'), null, 'no download, no file')
    await rejects(node.request('bad user!'), /A user id is 1-64 letters/)
    // Not a string: refused where it is handed in, as a refusal the app can tell (it reached
    // the record's validation before; current and dismiss answered null).
    for (const bad of [42, undefined, null, '', 'x'.repeat(65)] as unknown as string[]) {
      await rejects(node.request(bad), { code: 'invalid-user' })
      await rejects(node.request(bad), InvalidUserError)
      await rejects(node.dismiss(bad), InvalidUserError)
      await rejects(node.file(bad), InvalidUserError)
      assert.throws(
        () => node.current(bad),
        (err: Error) => err instanceof RefusalError,
      )
    }
    assert.is((await node.dismiss('user-1'))?.id, requested.id)
  } finally {
    await node.close()
    await dir.remove()
  }
  // A handle used after close() says so; "try again in a moment" would send the app waiting.
  const closed =
    /node node-\S+ is closed: close\(\) was called on it; createNode\(\) starts another/
  await rejects(node.request('user-1'), closed)
  await rejects(node.dismiss('user-1'), closed)
  await rejects(node.file('user-1'), closed)
  assert.throws(() => node.current('user-1'), closed)
  assert.throws(() => node.members(), closed)
  await node.close()
})

test.run()
