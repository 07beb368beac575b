/** `createCluster(3)`: real nodes in this process, on loopback, each with its own DHT and data. */
import { createSocket } from 'node:dgram'
import type { Config } from '../../src/config.ts'
import type { NodeDeps, RunningNode } from '../../src/node.ts'
import { startTestNode, tempDir } from './node.ts'

/** UDP ports that were free a moment ago. */
export async function freeUdpPorts(count: number): Promise<number[]> {
  const ports: number[] = []
  while (ports.length < count) {
    const port = 20_000 + Math.floor(Math.random() * 30_000)
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4')
      socket.once('error', () => resolve(false))
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)))
    })
    if (free && !ports.includes(port)) ports.push(port)
  }
  return ports
}

export interface TestCluster {
  nodes: RunningNode[]
  dhtPorts: number[]
  dirs: string[]
  /** Starts (or restarts) node i on its own data directory and DHT port. */
  start(i: number, over?: Partial<Config>, deps?: NodeDeps): Promise<RunningNode>
  teardown(): Promise<void>
}

export async function createCluster(
  count: number,
  over: Partial<Config> = {},
  deps: NodeDeps = {},
): Promise<TestCluster> {
  const dhtPorts = await freeUdpPorts(count)
  const dirs = await Promise.all(dhtPorts.map(() => tempDir('pdf-cluster-node-')))
  const bootstrap = dhtPorts.map((port) => ({ host: '127.0.0.1', port }))
  const nodes: RunningNode[] = []
  const cluster: TestCluster = {
    nodes,
    dhtPorts,
    dirs: dirs.map((d) => d.path),
    async start(i, more = {}, moreDeps = {}) {
      const node = await startTestNode(
        {
          name: `n${i + 1}`,
          dataDir: dirs[i]!.path,
          dhtPort: dhtPorts[i]!,
          bootstrap,
          ...over,
          ...more,
        },
        { ...deps, ...moreDeps },
      )
      nodes[i] = node
      return node
    },
    async teardown() {
      await Promise.all(nodes.map((n) => n.close().catch(() => {})))
      await Promise.all(dirs.map((d) => d.remove()))
    },
  }
  await Promise.all(dhtPorts.map((_, i) => cluster.start(i)))
  return cluster
}

/** Polls until `check` returns true; fails with `what` after the timeout. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 15_000,
): Promise<number> {
  const started = Date.now()
  while (!(await check())) {
    if (Date.now() - started > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms: ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
  return Date.now() - started
}
