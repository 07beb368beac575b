/**
 * `createCluster(3)`: real nodes in this process, on loopback, each with its own DHT port and
 * data directory, named n1, n2, …, with their teardown and the waits every multi-node test
 * needs.
 */
import type { Config } from '../../src/config.ts'
import type { NodeDeps, RunningNode } from '../../src/node.ts'
import { eventually } from '../../scripts/lib/eventually.ts'
import { freeUdpPorts } from '../../scripts/lib/ports.ts'
import { startTestNode, tempDir } from './node.ts'

export { eventually, freeUdpPorts }

export interface TestCluster {
  /** The nodes by index (n1 is nodes[0]); a restarted node replaces its entry. */
  nodes: RunningNode[]
  /** A node by name: `c.node('n2')`. */
  node(name: string): RunningNode
  dhtPorts: number[]
  dirs: string[]
  /** Starts (or restarts) node i on its own data directory and DHT port. */
  start(i: number, over?: Partial<Config>, deps?: NodeDeps): Promise<RunningNode>
  /** Resolves once every running node sees every other alive. */
  membership(nodes?: RunningNode[]): Promise<number>
  /** Resolves once these nodes are on one log, each a writer of it and none still joining. */
  oneLog(nodes?: RunningNode[]): Promise<number>
  teardown(): Promise<void>
}

/** How many times a cluster is started on fresh ports when one was taken meanwhile. */
const PORT_ATTEMPTS = 3

type DepsOf = NodeDeps | ((i: number) => NodeDeps)

/** `deps` may differ per node: give a function of the node's index. */
export async function createCluster(
  count: number,
  over: Partial<Config> = {},
  deps: DepsOf = {},
): Promise<TestCluster> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startCluster(count, over, deps)
    } catch (err) {
      // Another test file took a port between our check and our bind: start again on others.
      if (!/already in use/.test((err as Error).message) || attempt === PORT_ATTEMPTS) throw err
    }
  }
}

async function startCluster(
  count: number,
  over: Partial<Config>,
  deps: DepsOf,
): Promise<TestCluster> {
  const depsOf = typeof deps === 'function' ? deps : () => deps
  const dhtPorts = await freeUdpPorts(count)
  const dirs = await Promise.all(dhtPorts.map(() => tempDir('pdf-cluster-node-')))
  const bootstrap = dhtPorts.map((port) => ({ host: '127.0.0.1', port }))
  const nodes: RunningNode[] = []
  const cluster: TestCluster = {
    nodes,
    dhtPorts,
    dirs: dirs.map((d) => d.path),
    node(name) {
      const found = nodes.find((n) => n.name === name)
      if (!found) throw new Error(`no node named ${name}`)
      return found
    },
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
        { ...depsOf(i), ...moreDeps },
      )
      nodes[i] = node
      return node
    },
    membership(of = nodes) {
      const names = of.map((n) => n.name).sort()
      return eventually(
        () =>
          of.every((n) => {
            const alive = n.cluster.members().filter((m) => m.status === 'alive')
            return names.every((name) => alive.some((m) => m.name === name))
          }),
        `${names.join(', ')} see each other alive`,
      )
    },
    oneLog(of = nodes) {
      return eventually(() => {
        const healths = of.map((n) => n.health())
        const logs = healths.map((h) => h.log)
        // Joined too: a node on the log may still refuse downloads for a moment ("still
        // joining its cluster") until it has checked its clock and what it may work on.
        return (
          logs.every((l) => l.writable) &&
          new Set(logs.map((l) => l.key)).size === 1 &&
          healths.every((h) => !h.joining)
        )
      }, 'one log, every node a writer and joined').catch((err: Error) => {
        // Which node is not there yet, and why.
        const state = of.map((n) => {
          const h = n.health()
          const { key, writable } = h.log
          return `${n.name}: ${JSON.stringify({ log: key.slice(0, 8), writable, joining: h.joining, quorum: h.quorum.ok, clock: h.clock, members: h.members })}`
        })
        throw new Error(`${err.message} (${state.join('; ')})`)
      })
    },
    async teardown() {
      await Promise.all(nodes.map((n) => n.close().catch(() => {})))
      await Promise.all(dirs.map((d) => d.remove()))
    },
  }
  const started = await Promise.allSettled(dhtPorts.map((_, i) => cluster.start(i)))
  const failed = started.find((s) => s.status === 'rejected')
  if (!failed) return cluster
  // The nodes that did start would go on running, and talking, beside the next test's.
  await cluster.teardown()
  throw failed.reason
}
