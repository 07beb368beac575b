import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { offsetClock } from '../helpers/clock.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { DownloadConflictError } from '../../src/downloads/errors.ts'
import type { Health, RunningNode } from '../../src/node.ts'

const HOUR = 3_600_000
const userOf = (cookie: string) => cookie.slice('sid='.length).split('.')[0]!

async function health(node: RunningNode): Promise<Health> {
  return (await (await fetch(node.url + '/healthz')).json()) as Health
}

test("a node an hour ahead neither hides, purges nor duplicates the others' records, and its own carry the cluster's time", async () => {
  const ahead = offsetClock()
  ahead.advance(HOUR)
  const c = await createCluster(3, { workMs: 600, purgeIntervalMs: 100 }, (i) =>
    i === 2 ? { clock: ahead } : {},
  )
  try {
    await c.oneLog()
    const [n1, , n3] = c.nodes as [RunningNode, RunningNode, RunningNode]
    await eventually(() => n3.health().clock.compared, 'n3 compared its clock')

    // A download made on n1, ready and stamped with n1's (right) clock.
    const alice = await sessionCookie(n1.url)
    const page = await Client.connect(n1.url, alice)
    page.send({ type: 'request' })
    const made = await page.download((d) => d?.state === 'ready')
    page.close()
    await eventually(() => n3.manager.current(userOf(alice))?.state === 'ready', 'ready on n3')

    // One download per user still holds there.
    try {
      await n3.manager.request(userOf(alice))
      assert.unreachable('n3 allowed a second download')
    } catch (err) {
      assert.instance(err, DownloadConflictError)
    }

    // Downloads requested on n3 finish, with times in the cluster's clock, not n3's.
    const pages = await Promise.all(
      [1, 2, 3, 4].map(async () => Client.connect(n3.url, await sessionCookie(n3.url))),
    )
    for (const p of pages) p.send({ type: 'request' })
    const done = await Promise.all(pages.map((p) => p.download((d) => d?.state === 'ready')))
    for (const p of pages) p.close()
    const now = Date.now()
    for (const d of done) {
      assert.ok(Math.abs(d!.createdAt - now) < 60_000, `createdAt ${d!.createdAt - now} ms off`)
      assert.ok(d!.expiresAt - now <= 600_000 + 1000, 'expires in the retention, not an hour later')
    }

    // All that work took many of n3's 100 ms purge sweeps; Alice's download is still shown and
    // served there, though to n3's own clock it expired 50 minutes ago.
    assert.is(n3.manager.current(userOf(alice))?.id, made!.id, 'not hidden, not purged')
    const file = await fetch(n3.url + made!.fileUrl, { headers: { cookie: alice } })
    assert.is(file.status, 200)
    await file.arrayBuffer()

    // Both sides say so: n3 of itself, n1 of n3; neither is taken out of service for it.
    const mine = await health(n3)
    assert.ok(mine.ok)
    assert.ok(Math.abs(mine.clock.aheadMs - HOUR) < 1000, `n3 ahead by ${mine.clock.aheadMs} ms`)
    assert.match(mine.warnings.join('\n'), /this node's clock is 3600\.\d s ahead/)
    const theirs = await health(n1)
    assert.ok(theirs.ok)
    assert.match(theirs.warnings.join('\n'), /n3's clock is 3600\.\d s ahead/)
    assert.ok(Math.abs(theirs.clock.aheadMs) < 1000)
  } finally {
    await c.teardown()
  }
})

test.run()
