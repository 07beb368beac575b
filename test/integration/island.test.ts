/**
 * A node given another secret than its cluster's, through a --bootstrap that answers, forms a
 * cluster of its own and serves its users alone (one download at a time per user no longer
 * holds across the two). It said the same `alone` line as a node whose bootstrap is down, and
 * its /healthz was ok (an operator's trial). Now both say what they can tell.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { freeUdpPorts } from '../../scripts/lib/ports.ts'
import { eventually } from '../helpers/cluster.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { startTestNode, tempDir, TEST_SECRET } from '../helpers/node.ts'
import type { RunningNode } from '../../src/node.ts'
import { topicFor } from '../../src/cluster/swarm-transport.ts'

test('a node of another secret whose bootstrap answers is told an island, on /healthz and in its log; one of the same secret joins', async () => {
  const dirs = [await tempDir(), await tempDir(), await tempDir()]
  const [dhtA, dhtB, dhtC] = await freeUdpPorts(3)
  const nodes: RunningNode[] = []
  try {
    const a = await startTestNode({ name: 'a', dataDir: dirs[0]!.path, dhtPort: dhtA! })
    nodes.push(a)
    const bootstrap = [{ host: '127.0.0.1', port: dhtA! }]
    const islandLog = recordingLogger()
    const island = await startTestNode(
      {
        name: 'island',
        dataDir: dirs[1]!.path,
        dhtPort: dhtB!,
        bootstrap,
        secret: `${TEST_SECRET}-another`,
      },
      { log: islandLog },
    )
    nodes.push(island)
    const joined = await startTestNode({
      name: 'joined',
      dataDir: dirs[2]!.path,
      dhtPort: dhtC!,
      bootstrap,
    })
    nodes.push(joined)

    await eventually(
      () => island.health().warnings.some((w) => w.startsWith('alone: ')),
      'the island says so on /healthz',
      15_000,
    )
    const [warning] = island.health().warnings
    assert.match(warning!, `--bootstrap (127.0.0.1:${dhtA}) answers`)
    assert.match(warning!, /Most likely its secret is not theirs/)
    assert.ok(island.health().ok, 'a warning: it works, alone')
    const [line] = islandLog.events('alone')
    assert.is(line!.fields.answering, `127.0.0.1:${dhtA}`)
    // Its fingerprint is not its cluster's: what an operator compares with the others' lines.
    assert.is(line!.fields.cluster, topicFor(`${TEST_SECRET}-another`).toString('hex').slice(0, 8))
    assert.is.not(line!.fields.cluster, topicFor(TEST_SECRET).toString('hex').slice(0, 8))
    assert.match(String(line!.fields.message), /no node with this node's secret was found/)

    await eventually(() => joined.cluster.live().length === 2, 'joined meets a', 15_000)
    assert.equal(
      joined.health().warnings.filter((w) => w.startsWith('alone')),
      [],
      'a node of the same secret is no island',
    )
    assert.is(island.cluster.live().length, 1)
  } finally {
    for (const n of nodes.reverse()) await n.close()
    for (const d of dirs) await d.remove()
  }
})

test.run()
