import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { owner } from '../../src/cluster/rendezvous.ts'
import type { RunningNode } from '../../src/node.ts'

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

/** A session on `via` for a user whose worker rendezvous hashing puts on `target`. */
async function userOwnedBy(
  via: RunningNode,
  target: RunningNode,
  nodes: RunningNode[],
): Promise<string> {
  const ids = nodes.map((n) => n.id)
  for (;;) {
    const cookie = await sessionCookie(via.url)
    const userId = cookie.slice('sid='.length).split('.')[0]!
    if (owner(userId, ids) === target.id) return cookie
  }
}

test('a client on n2 gets every tick of a worker on n3 in milliseconds; n1, with no socket of that user, gets none', async () => {
  const c = await createCluster(3, { workMs: 4000 })
  try {
    const [n1, n2, n3] = c.nodes as [RunningNode, RunningNode, RunningNode]
    await c.membership()
    await c.oneLog()
    const cookie = await userOwnedBy(n2, n3, c.nodes)
    const userId = cookie.slice('sid='.length).split('.')[0]!
    const client = await Client.connect(n2.url, cookie)
    await client.next((m) => m.type === 'download')
    await eventually(() => n3.relay.watchers(userId) === 1, "n2's interest in the user reaches n3")
    const n1Before = n1.relay.stats.received
    client.send({ type: 'request' })
    const ready = await client.seen((d) => d?.state === 'ready', 20_000, 'ready')
    assert.is(ready!.ownerName, 'n3')

    const latencies: number[] = []
    const seen = new Set<number>()
    client.messages.forEach((m, i) => {
      if (
        m.type !== 'download' ||
        !m.download ||
        m.download.state !== 'processing' ||
        !m.download.progressAt
      )
        return
      if (seen.has(m.download.progress)) return
      seen.add(m.download.progress)
      latencies.push(client.times[i]! - m.download.progressAt)
    })
    // The log carries a checkpoint every 10 %; the relay carries every tick (40 over 4 s here).
    assert.ok(
      latencies.length >= 30,
      `only ${latencies.length} distinct progress values reached n2`,
    )
    console.log(
      `  relay n3 -> n2 -> client: ${latencies.length} ticks, median ${percentile(latencies, 50)} ms, ` +
        `p99 ${percentile(latencies, 99)} ms, max ${Math.max(...latencies)} ms`,
    )
    assert.is(
      n1.relay.stats.received,
      n1Before,
      'n1 holds no socket of this user and got none of its ticks',
    )

    // Progress as the client saw it never went back.
    const progress = client.messages.flatMap((m) =>
      m.type === 'download' && m.download ? [m.download.progress as number] : [],
    )
    for (let i = 1; i < progress.length; i++)
      assert.ok(progress[i]! >= progress[i - 1]!, `went back: ${progress.slice(i - 3, i + 1)}`)
    client.close()
  } finally {
    await c.teardown()
  }
})

test('every tab of the user, on any node, shows the same download; a dismissal in one clears all', async () => {
  const c = await createCluster(3, { workMs: 3000 })
  try {
    const [n1, n2, n3] = c.nodes as [RunningNode, RunningNode, RunningNode]
    await c.oneLog()
    const cookie = await sessionCookie(n1.url)
    const tabs = await Promise.all([n1, n2, n3].map((n) => Client.connect(n.url, cookie)))
    tabs[0]!.send({ type: 'request' })
    const d = await tabs[0]!.seen((x) => x?.state === 'processing')
    for (const tab of tabs)
      await tab.seen(
        (x) => x?.id === d!.id && x?.progress > 0,
        10_000,
        'the same download in every tab',
      )
    tabs[2]!.send({ type: 'dismiss' })
    for (const tab of tabs) await tab.seen((x) => x === null, 10_000, 'cleared in every tab')
    for (const tab of tabs) tab.close()
  } finally {
    await c.teardown()
  }
})

test.run()
