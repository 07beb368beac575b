/**
 * The node that starts a compaction is SIGKILLed the moment it says so, while users keep
 * making downloads on every node. Nothing is lost: the cluster ends on one compacted log with
 * the killed node back on it, every download a user asked for reaches ready, none is made
 * twice, and users can go on.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { processCluster, waitForCluster } from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

const USERS = 12

interface LogHealth {
  log: { key: string; generation: number; writable: boolean }
}

async function logOf(url: string): Promise<LogHealth['log'] | null> {
  try {
    const res = await fetch(url + '/healthz', { signal: AbortSignal.timeout(1000) })
    return ((await res.json()) as LogHealth).log
  } catch {
    return null
  }
}

test('SIGKILL of the node that starts a compaction loses nothing', async () => {
  // Short lives, so that records and dismissals expire and the log is soon four times longer
  // than what it would carry (but a request the killed node alone holds outlives its restart);
  // a low threshold, so that it compacts within seconds.
  const c = await processCluster(3, [
    ...['--work-ms', '300', '--retention-ms', '4000', '--live-ttl-ms', '10000'],
    ...['--log-compact-ops', '150'],
  ])
  try {
    await waitForCluster(c.nodes)
    let stop = false
    const asked = new Set<string>()
    const readied = new Set<string>()
    // Each user makes downloads over and over on one node: request, ready, dismiss.
    const users = Array.from({ length: USERS }, async (_, i) => {
      const node = c.nodes[i % 3]!
      const cookie = await sessionCookie(node.url)
      const client = await Client.connect(node.url, cookie)
      while (!stop && client.ws.readyState === client.ws.OPEN) {
        client.send({ type: 'request' })
        const d = await client
          .wait((m) => m.type === 'download' && m.download?.state === 'ready', 20_000, 'ready')
          .catch(() => null)
        if (!d || d.type !== 'download') break
        readied.add(d.download!.id as string)
        client.send({ type: 'dismiss' })
        await client.download((x) => x === null, 20_000).catch(() => null)
      }
      for (const m of client.messages) {
        if (m.type === 'download' && m.download) asked.add(m.download.id as string)
      }
      client.close()
    })

    // The moment a node starts a compaction, it is killed.
    let leader = -1
    await eventually(
      () => (leader = c.nodes.findIndex((n) => n.lines.some((l) => / log-compact /.test(l)))) >= 0,
      'a node starts a compaction',
      60_000,
    )
    c.signal(leader, 'SIGKILL')
    await eventually(() => !c.nodes[leader]!.child, 'the leader gone')
    await c.start(leader)

    // Everyone, the killed node included, on one compacted log.
    await eventually(
      async () => {
        const logs = await Promise.all(c.nodes.map((n) => logOf(n.url)))
        return logs.every(
          (l) => l !== null && l.writable && l.generation >= 1 && l.key === logs[0]!.key,
        )
      },
      'every node on one compacted log',
      60_000,
    )
    stop = true
    await Promise.all(users)

    // Every download a user saw reached ready (those of the killed node's users too, but
    // their sockets closed: they are checked on any node), and none was made twice.
    const made = (id: string) =>
      c.nodes.flatMap((n) => n.lines).filter((l) => l.includes(` ready id=${id} `)).length
    for (const id of asked) {
      if (readied.has(id)) continue
      await eventually(() => made(id) >= 1, `${id} made`, 30_000)
    }
    for (const id of asked) assert.ok(made(id) <= 1, `${id} was made ${made(id)} times`)
    assert.ok(asked.size > 30, `enough downloads to compact (${asked.size})`)

    // And users go on, on every node.
    for (const n of c.nodes) {
      const cookie = await sessionCookie(n.url)
      const client = await Client.connect(n.url, cookie)
      client.send({ type: 'request' })
      await client.seen((d) => d?.state === 'ready', 30_000, `a download on ${n.name}`)
      client.close()
    }
  } finally {
    await c.teardown()
  }
})

test.run()
