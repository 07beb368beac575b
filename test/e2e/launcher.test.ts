/**
 * `npm start` as a user meets it: a second launcher on the data of a running one says why its
 * nodes cannot start and exits non-zero, instead of staying up with no node; the first stops
 * cleanly on SIGTERM.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFile, readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { eventually } from '../../scripts/lib/eventually.ts'
import { tempDir } from '../../scripts/lib/temp-dir.ts'
import { statusOf } from '../../scripts/lib/processes.ts'

interface Launcher {
  child: ChildProcess
  output: string[]
  exited: Promise<number | null>
}

function launch(dataRoot: string, firstPort: number, home: string, more: string[] = []): Launcher {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'scripts/cluster.ts',
      '--count',
      '2',
      '--first-port',
      String(firstPort),
    ].concat(['--data-root', dataRoot], more),
    {
      env: { ...process.env, CLUSTER_SECRET: 'launcher-test-secret', PDF_CLUSTER_HOME: home },
      stdio: 'pipe',
    },
  )
  const output: string[] = []
  for (const s of [child.stdout, child.stderr]) s.on('data', (b) => output.push(String(b)))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  return { child, output, exited }
}

/**
 * Two HTTP ports in a row, with their DHT ports (10,000 above), away from the defaults and
 * below the kernel's ephemeral range (32768 and up here): a port there may be the local end of
 * any process's outgoing connection at that moment, and a node could not listen on it (one CI
 * run's launcher never formed its cluster; ports were 30,000 to 50,000 then).
 */
const firstPort = () => 15_000 + Math.floor(Math.random() * 3500) * 2

test('a launcher on any ports forms its cluster; a second one on its data says why and exits 1', async () => {
  const data = await tempDir()
  const home = await tempDir()
  const port = firstPort()
  const first = launch(data.path, port, home.path)
  try {
    // Its nodes find each other through the machine's registry, far from ports 4000-4009.
    await eventually(
      async () => (await statusOf(`http://127.0.0.1:${port}`, 'n2')) === 'alive',
      'the first launcher formed its two-node cluster',
      30_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}; the launcher said:\n${first.output.join('').slice(-3000)}`)
    })
    // The node it offers to add goes beside the others: its data in the same root.
    const hint = first.output.join('').match(/To add a node to this cluster: (.*)/)?.[1]
    assert.is(
      hint,
      `CLUSTER_SECRET=… npm run node -- --port ${port + 2} --name n3 --data ${join(data.path, 'n3')}`,
    )
    const second = launch(data.path, firstPort(), home.path)
    const timer = setTimeout(() => second.child.kill('SIGKILL'), 30_000)
    const code = await second.exited
    clearTimeout(timer)
    const said = second.output.join('')
    assert.is(code, 1, `the second launcher exits 1:\n${said}`)
    assert.match(said, /is in use by another running node/)
    assert.match(said, /None of the nodes could start/)
    assert.is(first.child.exitCode, null, 'the first launcher is unharmed')

    first.child.kill('SIGTERM')
    assert.is(await first.exited, 0, 'and stops cleanly')
  } finally {
    first.child.kill('SIGKILL')
    await data.remove()
    await home.remove()
  }
})

test("a job module's top-level code runs in the launcher's check process and in the nodes, never in the launcher itself", async () => {
  const data = await tempDir()
  const home = await tempDir()
  const job = await tempDir()
  const pids = join(job.path, 'pids')
  // A module that opens something at import (here, an interval) and says which process it is in.
  await writeFile(
    join(job.path, 'job.mjs'),
    `import { appendFileSync } from 'node:fs'\n` +
      `appendFileSync(${JSON.stringify(pids)}, process.pid + '\\n')\n` +
      `setInterval(() => {}, 60_000)\n` +
      `export default { name: 'pid-job', run: async () => ({ bytes: Buffer.from('x'), filename: 'x.txt', contentType: 'text/plain' }) }\n`,
  )
  const port = firstPort()
  const l = launch(data.path, port, home.path, ['--generator', join(job.path, 'job.mjs')])
  try {
    await eventually(
      async () => (await statusOf(`http://127.0.0.1:${port}`, 'n2')) === 'alive',
      'the launcher formed its two-node cluster with the job',
      30_000,
    )
    const loadedIn = (await readFile(pids, 'utf8')).trim().split('\n').map(Number)
    assert.is(loadedIn.length, 3, `the check and the two nodes: ${loadedIn}`)
    assert.not.ok(loadedIn.includes(l.child.pid!), 'not the launcher')
    l.child.kill('SIGTERM')
    assert.is(await l.exited, 0, 'and it stops cleanly, held by nothing the module opened')
  } finally {
    l.child.kill('SIGKILL')
    await data.remove()
    await home.remove()
    await job.remove()
  }
})

test('a mistyped node flag, a bad value or a job module that does not load is refused by the launcher at once, before any node starts', async () => {
  const data = await tempDir()
  const home = await tempDir()
  const job = await tempDir()
  const broken = join(job.path, 'broken.mjs')
  await writeFile(broken, 'export default {\n  name: "x",\n  run() {}}\n}\n')
  // What a module prints at import is not the launcher's answer.
  const chatty = join(job.path, 'chatty.mjs')
  await writeFile(chatty, 'console.log("connecting to db")\nthrow new Error("no database")\n')
  try {
    for (const [extra, said] of [
      [['--cuont', '2'], /^error: unknown flag "--cuont"; see --help$/m],
      [['--work-ms', 'soon'], /^error: --work-ms /m],
      [['--first-port', '60000'], /^error: --first-port must be a port number from 1 to 55534/m],
      [
        ['--port', '5000'],
        /^error: --port is set for each node by the launcher: use --first-port/m,
      ],
      [['--name=foo'], /^error: --name is set for each node by the launcher: /m],
      [['--metrics-port', '9100'], /^error: --metrics-port would be the same port for every node/m],
      [
        ['--data', '/tmp/x'],
        /^error: --data is set for each node by the launcher: use --data-root/m,
      ],
      [['--generator', broken], /^error: job module .* did not load: .* at .*broken\.mjs:4$/m],
      [['--generator', chatty], /^error: job module .*chatty\.mjs\) did not load: no database$/m],
    ] as const) {
      const l = launch(data.path, firstPort(), home.path, [...extra])
      const timer = setTimeout(() => l.child.kill('SIGKILL'), 20_000)
      const code = await l.exited
      clearTimeout(timer)
      const out = l.output.join('')
      assert.is(code, 2, out)
      assert.match(out, said)
      assert.not.match(out, /Starting \d nodes/, 'no banner')
      assert.not.match(out, /connecting to db/)
    }
    assert.equal(await readdir(data.path), [], 'no node was started')
  } finally {
    await data.remove()
    await home.remove()
    await job.remove()
  }
})

/** The pid of the launcher's node `name` on `port` (asked without a shell, whose own command line would match). */
function nodePid(name: string, port: number): number {
  const out = spawnSync('pgrep', ['-f', `src/main.ts --name ${name} --port ${port} `]).stdout
  const pid = Number(String(out).trim().split('\n')[0])
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no process for ${name} on ${port}`)
  return pid
}

test('without a terminal, a killed node is told with the command that starts it again, which does; the launcher says when no node of its own is left, and exits 1', async () => {
  const data = await tempDir()
  const home = await tempDir()
  const port = firstPort()
  const l = launch(data.path, port, home.path, ['--work-ms', '1000'])
  const [n1, n2] = [`http://127.0.0.1:${port}`, `http://127.0.0.1:${port + 1}`]
  const said = () => l.output.join('')
  let byHand: ChildProcess | null = null
  try {
    await eventually(
      async () => (await statusOf(n1, 'n2')) === 'alive',
      'the launcher formed its two-node cluster',
      30_000,
    )
    process.kill(nodePid('n1', port), 'SIGKILL')
    await eventually(() => /n1 +\| exited \(SIGKILL\)/.test(said()), 'the launcher told the kill')
    const hint = said().match(/n1 +\| exited \(SIGKILL\); to start it again: (.*)/)?.[1]
    assert.is(
      hint,
      `CLUSTER_SECRET=… npm run node -- --port ${port} --name n1 --data ${join(data.path, 'n1')} --work-ms 1000`,
    )
    assert.not.match(said(), /Every node has exited/, 'n2 still runs')
    // Suspect, not dead: one of two cannot tell a dead peer from a cut link.
    await eventually(async () => (await statusOf(n2, 'n1')) !== 'alive', 'n2 lost n1')

    // The command as told (but the secret, which it leaves out), from the project's root.
    const [cmd, ...args] = hint!.replace('CLUSTER_SECRET=… ', '').split(' ')
    byHand = spawn(cmd!, args, {
      env: { ...process.env, CLUSTER_SECRET: 'launcher-test-secret', PDF_CLUSTER_HOME: home.path },
      stdio: 'ignore',
      detached: true,
    })
    await eventually(
      async () => (await statusOf(n2, 'n1')) === 'alive',
      'n1 started by hand is back in the cluster',
      30_000,
    )

    // The launcher's last node of its own gone: it says so and exits, though n1 runs by hand.
    process.kill(nodePid('n2', port + 1), 'SIGKILL')
    const timer = setTimeout(() => l.child.kill('SIGKILL'), 15_000)
    const code = await l.exited
    clearTimeout(timer)
    assert.is(code, 1, `the launcher exits 1:\n${said().slice(-2000)}`)
    assert.match(said(), /Every node has exited; the launcher stops/)
  } finally {
    l.child.kill('SIGKILL')
    if (byHand?.pid) process.kill(-byHand.pid, 'SIGTERM')
    await data.remove()
    await home.remove()
  }
})

test.run()
