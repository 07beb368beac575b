/**
 * Two nodes started from one data directory (a cloned machine, a directory copied and started
 * beside the original): the one started later gives the id up and starts over as a new member
 * (cluster/twin.ts, start-over.ts); the original keeps it. Before, both ran as one member, both
 * wrote its part of the log, and both ran its downloads (an operator trial: the clone restarted
 * two of the original's downloads from 0 %).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { copyFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCluster, eventually, freeUdpPorts } from '../helpers/cluster.ts'
import { tempDir, testConfig } from '../helpers/node.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { runNode } from '../../src/node-runner.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'

test('a copy of a running node’s directory started beside it gives the id up and joins as a new member', async () => {
  const originalLog = recordingLogger()
  const c = await createCluster(2, { workMs: 100 }, (i) => (i === 0 ? { log: originalLog } : {}))
  const dir = await tempDir('pdf-cluster-twin-')
  const log = recordingLogger()
  let runner: Awaited<ReturnType<typeof runNode>> | null = null
  try {
    await c.oneLog()
    const [n1, n2] = c.nodes
    const id = n1!.health().id
    // What a clone of n1's machine holds of it that matters here: its identity.
    copyFileSync(join(c.dirs[0]!, 'node-id'), join(dir.path, 'node-id'))
    const [dhtPort] = await freeUdpPorts(1)
    runner = await runNode(
      testConfig({
        name: 'n1',
        dataDir: dir.path,
        dhtPort: dhtPort!,
        bootstrap: c.dhtPorts.map((port) => ({ host: '127.0.0.1', port })),
        workMs: 100,
      }),
      { log },
    )
    await eventually(() => log.events('twin-node').length > 0, 'the copy told', 15_000)
    const [told] = log.events('twin-node')
    assert.is(told!.level, 'error')
    assert.match(String(told!.fields.message), /this node gives the id up/)
    await eventually(() => runner!.restarts === 1 && runner!.node !== null, 'started again')
    const copy = runner.node!
    const newId = copy.health().id
    assert.is.not(newId, id, 'a new id')
    const [over] = log.events('started-over')
    assert.ok(over?.fields.newIdentity, 'as a new member')
    assert.is(
      readFileSync(join(String(over!.fields.setAside), 'node-id'), 'utf8').trim(),
      id,
      'the id it gave up set aside',
    )
    assert.ok(!existsSync(join(dir.path, 'start-over.json')), 'done once')

    // The original kept its id and said so; the cluster is three members, and works.
    assert.is(n1!.health().id, id)
    const warned = originalLog.events('twin-node')
    assert.ok(warned.length > 0 && warned.every((e) => e.level === 'warn'), 'the original warned')
    await c.membership([n1!, n2!, copy])
    await c.oneLog([n1!, n2!, copy])
    const client = await Client.connect(copy.url, await sessionCookie(copy.url))
    client.send({ type: 'request' })
    await client.download((d) => d?.state === 'ready', 30_000)
    client.close()
    assert.is(log.events('twin-node').length, 1, 'told once: no twin after the start over')
  } finally {
    await runner?.close()
    await c.teardown()
    await dir.remove()
  }
})

test.run()
