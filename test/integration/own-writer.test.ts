/**
 * A node whose store lost writes its peers hold (its data directory restored from an older copy,
 * as a VM snapshot restores it, or a power cut before the writes reached the disk): it appends
 * nothing to its own writer once its peers say they hold more of it (store/own-writer.ts), and
 * starts over from them (start-over.ts). Before, its next append spun inside autobase without
 * end (the node answered nothing, not even SIGTERM), or it never caught up with its log.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { tempDir, testConfig } from '../helpers/node.ts'
import { runNode } from '../../src/node-runner.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { download } from '../helpers/records.ts'

/** Every file under `dir`. */
function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
  )
}

/**
 * `dir` made what `copy` holds again, but for the store's device file, which keeps its inode
 * and times: what restoring an image of the whole file system does (a copy made file by file is
 * refused at open, data-dir-gone.test.ts).
 */
function restore(copy: string, dir: string): void {
  const device = /[/\\]store[/\\]CORESTORE$/
  for (const f of files(dir)) if (!device.test(f)) rmSync(f)
  for (const f of files(copy))
    if (!device.test(f)) cpSync(f, dir + f.slice(copy.length), { preserveTimestamps: true })
}

/** `count` downloads, each for a user of its own, made through `url` (and dismissed). */
async function downloads(
  url: string,
  count: number,
  dismiss = true,
): Promise<{ id: string; userId: string }[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const client = await Client.connect(url, await sessionCookie(url))
      try {
        // A node a moment back in its cluster refuses as still joining: asked again, as a user would.
        for (let tries = 1; ; tries++) {
          client.send({ type: 'request' })
          const answer = await client.wait(
            (m) => m.type === 'error' || (m.type === 'download' && m.download !== null),
          )
          if (answer.type === 'download') break
          if (tries === 20) throw new Error(`refused: ${JSON.stringify(answer)}`)
          await new Promise((r) => setTimeout(r, 250))
        }
        const ready = await client.download((d) => d?.state === 'ready', 30_000)
        if (dismiss) {
          client.send({ type: 'dismiss' })
          await client.download((d) => d === null, 10_000)
        }
        return { id: ready!.id as string, userId: ready!.userId as string }
      } finally {
        client.close()
      }
    }),
  )
}

test('a node restored from an older copy of its data directory writes nothing to its own writer, then starts over from its peers, the same member', async () => {
  // Each node writes what it is asked itself (no scribe): what n1 is asked after the copy lands
  // on its own writer, whichever member is the scribe at that moment.
  const c = await createCluster(3, { workMs: 100, logWriters: 'each' })
  const copy = await tempDir('pdf-cluster-copy-')
  try {
    await c.oneLog()
    const i = 0
    const ids = c.nodes.map((n) => n.health().id)
    await downloads(c.nodes[i]!.url, 3)
    await c.nodes[i]!.close()
    cpSync(c.dirs[i]!, copy.path, { recursive: true, preserveTimestamps: true })

    const again = await c.start(i)
    await c.oneLog()
    await eventually(() => again.health().ok, 'healthy')
    let wrote = 0
    again.recordLog.on('written', () => wrote++)
    await downloads(again.url, 5)
    // Ten operations (a request and a dismissal each) on its own writer, after the copy.
    await eventually(() => wrote >= 10, 'written on its own writer')
    await c.nodes[i]!.close()
    restore(copy.path, c.dirs[i]!)

    // Started as `npm run node` starts it: by the runner, which starts it again when it stops.
    const log = recordingLogger()
    const runner = await runNode(
      testConfig({
        name: 'n1',
        dataDir: c.dirs[i]!,
        dhtPort: c.dhtPorts[i]!,
        bootstrap: c.dhtPorts.map((port) => ({ host: '127.0.0.1', port })),
        workMs: 100,
        logWriters: 'each',
      }),
      { log },
    )
    try {
      await eventually(() => log.events('own-writer-behind').length > 0, 'told behind', 15_000)
      const [behind] = log.events('own-writer-behind')
      const { have, held } = behind!.fields as { have: number; held: number }
      assert.ok(have < held, `${have} blocks here, ${held} at its peers`)
      assert.is(behind!.level, 'error')
      await eventually(() => runner.restarts === 1 && runner.node !== null, 'started again')
      const [over] = log.events('started-over')
      assert.ok(over, 'it says it started over')
      const setAside = String(over!.fields.setAside)
      assert.ok(existsSync(join(setAside, 'CORESTORE')), 'the old store set aside, not deleted')
      assert.ok(existsSync(join(c.dirs[i]!, 'store')), 'a store of its own again')

      // The same member, a new writer: it writes again, and what it writes reaches its peers.
      const back = runner.node!
      assert.is(back.health().id, ids[i], 'its node-id kept')
      c.nodes[i] = back
      await c.oneLog()
      await eventually(() => back.health().ok, 'healthy')
      const made = await downloads(back.url, 3, false)
      for (const n of c.nodes)
        await eventually(
          () => made.every((d) => n.manager.current(d.userId)?.state === 'ready'),
          `${n.name} holds the downloads made through it`,
        )
      assert.is(log.events('own-writer-behind').length, 1, 'told once')
      assert.is(log.events('log-error').length, 0, JSON.stringify(log.events('log-error')))
    } finally {
      c.nodes[i] = again
      await runner.close()
    }
  } finally {
    await c.teardown()
    await copy.remove()
  }
})

test('a restarted node that knew other members writes nothing to its own writer alone, until one has said what it holds of it', async () => {
  const c = await createCluster(2, { workMs: 100, logWriters: 'each' })
  try {
    await c.oneLog()
    await downloads(c.nodes[0]!.url, 2)
    // n1 first: a member that leaves cleanly is forgotten by those that see it go.
    await c.nodes[0]!.close()
    await c.nodes[1]!.close()
    const alone = await c.start(0)
    let written = false
    const op = { type: 'put' as const, download: download({ id: 'alone', userId: 'u-alone' }) }
    const appended = alone.recordLog.append(op).then(() => (written = true))
    // Past the 3 s a node that knew nobody waits: a restored node wrote there, and forked.
    await new Promise((r) => setTimeout(r, 4000))
    assert.is(written, false, 'not written while no peer can say what it holds')
    await c.start(1)
    await eventually(() => written, 'written once its peer answered', 15_000)
    await appended
  } finally {
    await c.teardown()
  }
})

test.run()
