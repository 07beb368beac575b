/**
 * The package as a user gets it, from outside the checkout: `npm pack`, installed into a fresh
 * directory with nothing else (no tsx, no sources); `npx pdf-cluster` runs a job module
 * written there and makes one download to its file; `createNode` is imported from the install
 * by a script; a module that cannot be a job stops the node at start with one line.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { freeTcpPort, freeUdpPorts } from '../../scripts/lib/ports.ts'
import { tempDir } from '../../scripts/lib/temp-dir.ts'

const run = promisify(execFile)
const CHECKOUT = process.cwd()

let app: Awaited<ReturnType<typeof tempDir>>
let packs: Awaited<ReturnType<typeof tempDir>>

const JOB = `
export default {
  name: 'greeting',
  validate: (params) => (typeof params.to === 'string' ? null : 'say who to greet: {"to": "..."}'),
  async run(job, ctx) {
    for (let i = 1; i <= 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      ctx.report(i * 19, { step: i })
    }
    return { bytes: Buffer.from('hello, ' + job.params.to + '\\n'), filename: 'hello.txt', contentType: 'text/plain' }
  },
}
`

test.before(async () => {
  packs = await tempDir('pdf-cluster-pack-')
  app = await tempDir('pdf-cluster-app-')
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', packs.path], {
    cwd: CHECKOUT,
    maxBuffer: 16 * 1024 * 1024,
  })
  const tarball = join(packs.path, stdout.trim().split('\n').at(-1)!)
  await writeFile(
    join(app.path, 'package.json'),
    '{ "name": "app", "private": true, "type": "module" }\n',
  )
  await run('npm', ['install', '--no-audit', '--no-fund', '--silent', tarball], {
    cwd: app.path,
    maxBuffer: 16 * 1024 * 1024,
  })
  await writeFile(join(app.path, 'job.mjs'), JOB)
  await writeFile(join(app.path, 'job.ts'), JOB.replace('(params)', '(params: any)'))
})

test.after(async () => {
  await app?.remove()
  await packs?.remove()
})

test('the install holds the compiled package and no TypeScript runner', () => {
  const pkg = join(app.path, 'node_modules', 'pdf-cluster')
  assert.ok(existsSync(join(pkg, 'dist', 'main.js')))
  assert.ok(existsSync(join(pkg, 'dist', 'index.d.ts')))
  assert.ok(existsSync(join(pkg, 'public', 'index.html')))
  assert.not.ok(existsSync(join(pkg, 'src')), 'sources are not shipped')
  assert.not.ok(existsSync(join(app.path, 'node_modules', 'tsx')), 'tsx is not installed')
})

test('npx pdf-cluster runs a job module of the app and makes one download to its file', async () => {
  const port = await freeTcpPort()
  const [dht] = await freeUdpPorts(1)
  const child = spawn(
    'npx',
    [
      '--no-install',
      'pdf-cluster',
      '--port',
      String(port),
      '--dht-port',
      String(dht),
      '--bootstrap',
      `127.0.0.1:${dht}`,
      '--data',
      './data',
      '--generator',
      './job.mjs',
    ],
    {
      cwd: app.path,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CLUSTER_SECRET: 'package-test' },
    },
  )
  const lines: string[] = []
  for (const stream of [child.stdout!, child.stderr!])
    createInterface({ input: stream }).on('line', (line) => lines.push(line))
  try {
    const deadline = Date.now() + 30_000
    while (!lines.some((l) => / started /.test(l))) {
      assert.ok(child.exitCode === null, `exited at start:\n${lines.join('\n')}`)
      assert.ok(Date.now() < deadline, `did not start:\n${lines.join('\n')}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const url = `http://127.0.0.1:${port}`
    const cookie = await sessionCookie(url)
    const client = await Client.connect(url, cookie)
    client.send({ type: 'request', params: { nobody: true } })
    const refused = (await client.next((m) => m.type === 'error')) as { message: string }
    assert.is(refused.message, 'Invalid parameters: say who to greet: {"to": "..."}')
    client.send({ type: 'request', params: { to: 'March' } })
    const ready = await client.seen((d) => d?.state === 'ready', 20_000, 'ready')
    const res = await fetch(url + ready!.fileUrl, { headers: { cookie } })
    assert.is(res.status, 200)
    assert.is(await res.text(), 'hello, March\n')
    client.close()
  } finally {
    if (child.pid) process.kill(-child.pid, 'SIGTERM')
    await new Promise((resolve) =>
      child.exitCode !== null ? resolve(null) : child.once('exit', resolve),
    )
  }
})

test('a script imports createNode from the install and drives a download through it', async () => {
  await writeFile(
    join(app.path, 'use.mjs'),
    `
import { createNode } from 'pdf-cluster'
const node = await createNode({
  port: 0, dhtPort: 0, bootstrap: [], secret: 'library-test', dataDir: './lib-data', log: false,
  generator: {
    name: 'upper',
    async run(job, ctx) {
      ctx.report(50, { half: true })
      return { bytes: Buffer.from(String(job.params.text).toUpperCase()), filename: 'up.txt', contentType: 'text/plain' }
    },
  },
})
const ready = new Promise((resolve) =>
  node.onDownload(({ download }) => download?.state === 'ready' && resolve(download)),
)
await node.request('user-1', { text: 'quiet' })
const d = await ready
const res = await fetch(node.url + d.fileUrl)
console.log(JSON.stringify({ members: node.members().length, state: d.state, params: d.params, status: res.status }))
await node.close()
`,
  )
  const { stdout } = await run('node', ['use.mjs'], { cwd: app.path, timeout: 60_000 })
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!)
  // The file route needs the user's session: a script has none, and is refused.
  assert.equal(out, { members: 1, state: 'ready', params: { text: 'quiet' }, status: 404 })
})

async function startFails(generator: string): Promise<{ code: number | null; stderr: string }> {
  const port = await freeTcpPort()
  try {
    await run(
      'npx',
      ['--no-install', 'pdf-cluster', '--port', String(port), '--generator', generator],
      {
        cwd: app.path,
        timeout: 30_000,
      },
    )
  } catch (err) {
    const e = err as { code: number | null; stderr: string }
    return { code: e.code, stderr: e.stderr }
  }
  throw new Error(`the node started with --generator ${generator}`)
}

test('a module that cannot be a job stops the node at start, in one line naming it', async () => {
  const missing = await startFails('./nope.mjs')
  assert.is(missing.code, 1)
  assert.is(missing.stderr.trim().split('\n').length, 1, missing.stderr)
  assert.match(missing.stderr, /^error: job module \.\/nope\.mjs \(.*nope\.mjs\) does not exist/)

  await writeFile(join(app.path, 'empty.mjs'), 'export const nothing = 1\n')
  const empty = await startFails('./empty.mjs')
  assert.match(empty.stderr, /^error: job module \.\/empty\.mjs .* has no default export/)

  // A TypeScript job needs tsx beside it; without, the node says so rather than crash.
  const ts = await startFails('./job.ts')
  assert.match(ts.stderr, /^error: job module \.\/job\.ts .* needs tsx installed/)
})

test.run()
