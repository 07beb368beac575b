/**
 * A data directory deleted under a running node: the node says so within seconds, is unhealthy
 * meanwhile, and starts again on the path (a trial: `/healthz` said ok for two minutes while
 * every worker failed on its file).
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rm } from 'node:fs/promises'
import { runNode } from '../../src/node-runner.ts'
import { eventually } from '../helpers/cluster.ts'
import { startTestNode, tempDir, testConfig } from '../helpers/node.ts'
import { execFileSync } from 'node:child_process'
import { recordingLogger } from '../helpers/recording-logger.ts'

test('a node whose data directory is deleted under it says so, stops answering healthy, and starts again there as a new member', async () => {
  const data = await tempDir('pdf-dir-gone-')
  const log = recordingLogger()
  const runner = await runNode(testConfig({ dataDir: data.path, name: 'n1' }), { log })
  try {
    const first = runner.node!
    const id = first.health().id
    assert.ok(first.health().ok)
    await rm(data.path, { recursive: true, force: true })
    await eventually(() => log.events('data-dir-gone').length === 1, 'told', 5000)
    const [gone] = log.events('data-dir-gone')
    assert.is(gone!.level, 'error')
    assert.match(String(gone!.fields.message), /was deleted while the node ran/)
    const problems = first.health().problems.join(' ')
    assert.match(problems, /data directory .* was deleted/, 'unhealthy, and says why')
    // Started again on the path: a fresh directory, a new identity, healthy.
    await eventually(() => runner.restarts === 1 && runner.node !== null, 'started again', 15_000)
    const again = runner.node!
    assert.is.not(again.health().id, id, 'its node-id went with the directory')
    await eventually(() => again.health().ok, 'healthy again', 10_000)
  } finally {
    await runner.close()
    await data.remove()
  }
})

test('a copy of a data directory is refused with what to do instead', async () => {
  const data = await tempDir('pdf-dir-copy-')
  const copy = `${data.path}-copy`
  try {
    const node = await startTestNode({ dataDir: data.path, name: 'n1' })
    await node.close()
    execFileSync('cp', ['-a', data.path, copy])
    const refused = await startTestNode({ dataDir: copy, name: 'n1' }).then(
      async (n) => {
        await n.close()
        return null
      },
      (err: Error) => err.message,
    )
    assert.ok(refused, 'refused')
    assert.match(refused!, /this store was copied, moved or restored from elsewhere/)
    assert.match(refused!, /delete .*store and .*log\.json, keeping node-id/)
  } finally {
    await rm(copy, { recursive: true, force: true })
    await data.remove()
  }
})

test.run()
