/**
 * A busy node killed and restarted on its own data again and again: every download it held
 * must finish after each restart, with no other traffic to wake it. Before the log's reader
 * stopped waiting on peers for its own blocks, about one restart in three froze every running
 * download at its last checkpoint while /healthz said ok.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { processCluster } from '../../scripts/lib/processes.ts'

const ROUNDS = 20
const DOWNLOADS = 20

test(`a node SIGKILLed mid-work and restarted ${ROUNDS} times finishes every download each time`, async () => {
  const c = await processCluster(1, ['--work-ms', '4000'])
  const node = c.nodes[0]!
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const cookies = await Promise.all(
        Array.from({ length: DOWNLOADS }, async () => {
          const cookie = await sessionCookie(node.url)
          const client = await Client.connect(node.url, cookie)
          client.send({ type: 'request' })
          await client.seen((d) => d?.state === 'processing' && d.progress >= 10, 30_000, 'running')
          client.close()
          return cookie
        }),
      )
      // Somewhere in the middle of the work, at a different moment each round.
      await new Promise((r) => setTimeout(r, 200 + ((round * 397) % 1500)))
      c.signal(0, 'SIGKILL')
      while (node.child) await new Promise((r) => setTimeout(r, 20))
      await c.start(0)
      const finished = await Promise.all(
        cookies.map(async (cookie) => {
          const client = await Client.connect(node.url, cookie)
          const ready = await client
            .seen((d) => d?.state === 'ready', 20_000)
            .then(
              () => true,
              () => false,
            )
          if (ready) client.send({ type: 'dismiss' })
          await client.seen((d) => d === null, 5000).catch(() => {})
          client.close()
          return ready
        }),
      )
      const stuck = finished.filter((ok) => !ok).length
      assert.is(stuck, 0, `round ${round}: ${stuck} of ${DOWNLOADS} downloads never finished`)
    }
  } finally {
    await c.teardown()
  }
})

test.run()
