/**
 * Zero configuration on one machine, whatever the ports: nodes started with `npm run node` on
 * ports outside the default bootstrap range (4000-4009), with no --bootstrap and no secret,
 * find each other through the machine's registry; a node started after the first one was
 * SIGKILLed finds the one still running.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { eventually } from '../../scripts/lib/eventually.ts'
import { tempDir } from '../../scripts/lib/temp-dir.ts'
import { clusterView } from '../../scripts/lib/processes.ts'

function node(port: number, data: string, home: string): ChildProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, PDF_CLUSTER_HOME: home }
  delete env.CLUSTER_SECRET
  // Its own process group, so that SIGKILL reaches node under npm.
  return spawn('npm', ['run', 'node', '--', '--port', String(port), '--data', data], {
    env,
    stdio: 'ignore',
    detached: true,
  })
}

const kill = (child: ChildProcess) => {
  try {
    process.kill(-child.pid!, 'SIGKILL')
  } catch {
    // Already gone.
  }
}

async function sees(url: string, names: string[]): Promise<boolean> {
  const view = await clusterView(url)
  return names.every((name) => view?.members.some((m) => m.name === name && m.status === 'alive'))
}

test('nodes on any ports of one machine find each other with no flag', async () => {
  const [home, a, b, c] = await Promise.all([tempDir(), tempDir(), tempDir(), tempDir()])
  // Three HTTP ports in 20000-29999 (their DHT ports, 10,000 above, stay valid), far from 4000.
  const base = 20_000 + Math.floor(Math.random() * 3000) * 3
  const [p1, p2, p3] = [base, base + 1001, base + 2002]
  const children: ChildProcess[] = []
  try {
    children.push(node(p1, a.path, home.path), node(p2, b.path, home.path))
    const [n1, n2, n3] = [p1, p2, p3].map((p) => `http://127.0.0.1:${p}`)
    await eventually(
      async () => (await sees(n1!, [`node-${p2}`])) && (await sees(n2!, [`node-${p1}`])),
      `node-${p1} and node-${p2} see each other`,
      30_000,
    )
    kill(children[0]!)
    children.push(node(p3, c.path, home.path))
    await eventually(
      async () => (await sees(n3!, [`node-${p2}`])) && (await sees(n2!, [`node-${p3}`])),
      `node-${p3}, started after node-${p1} died, finds node-${p2}`,
      30_000,
    )
  } finally {
    children.forEach(kill)
    await Promise.all([home, a, b, c].map((d) => d.remove()))
  }
})

for (const [to, signal] of [
  ['npm alone', 'SIGTERM'],
  ['its process group', 'SIGINT'],
] as const)
  test(`a node under npm stops cleanly when ${to} is sent ${signal}, as a supervisor or a terminal does`, async () => {
    const [home, data] = await Promise.all([tempDir(), tempDir()])
    const port = 23_000 + Math.floor(Math.random() * 2000)
    const env: NodeJS.ProcessEnv = { ...process.env, PDF_CLUSTER_HOME: home.path }
    const child = spawn(
      'npm',
      [
        'run',
        'node',
        '--',
        '--port',
        String(port),
        '--data',
        data.path,
        '--secret',
        'npm-signal-test',
      ],
      { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    )
    let output = ''
    for (const s of [child.stdout!, child.stderr!]) s.on('data', (b) => (output += String(b)))
    const exited = new Promise<number | null>((resolve) =>
      child.on('exit', (code) => resolve(code)),
    )
    try {
      await eventually(() => / started /.test(output), 'the node started', 30_000)
      // npm's own pid, not its process group: npm ran the script through a shell, which died
      // without passing the signal on, and the node ran on, orphaned, holding its port and data.
      // The group (a terminal's Ctrl-C, systemd's stop) signals npm and the node: npm signals the
      // node again, and a node with no handler left for the second died in its clean stop.
      process.kill(to === 'npm alone' ? child.pid! : -child.pid!, signal)
      await exited
      await eventually(() => / stopped\b/.test(output), `the node stopped:\n${output}`, 10_000)
      await eventually(
        async () =>
          !(await fetch(`http://127.0.0.1:${port}/healthz`).then(
            () => true,
            () => false,
          )),
        'its port is free',
        10_000,
      )
    } finally {
      kill(child)
      await Promise.all([home, data].map((d) => d.remove()))
    }
  })

test('a node started by npm whose parent is gone stops (npx: the shell npm ran it in died with npm)', async () => {
  const [home, data] = await Promise.all([tempDir(), tempDir()])
  const port = 25_000 + Math.floor(Math.random() * 2000)
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PDF_CLUSTER_HOME: home.path,
    npm_command: 'exec',
  }
  // As npm exec runs a package's bin: through a shell, which does not exec the node (the
  // `; true` keeps any shell from doing so) and does not pass a signal on.
  const node = `${process.execPath} --import tsx src/main.ts --port ${port} --data ${data.path} --secret npm-parent-test`
  const shell = spawn('sh', ['-c', `${node}; true`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  })
  let output = ''
  for (const s of [shell.stdout!, shell.stderr!]) s.on('data', (b) => (output += String(b)))
  try {
    await eventually(() => / started /.test(output), 'the node started', 30_000)
    process.kill(shell.pid!, 'SIGKILL')
    await eventually(() => / stopped\b/.test(output), `the node stopped:\n${output}`, 10_000)
    assert.match(
      output,
      /stopping reason=parent-gone message="npm, which started this node \(parent pid \d+\), is gone/,
    )
  } finally {
    kill(shell)
    await Promise.all([home, data].map((d) => d.remove()))
  }
})

test.run()
