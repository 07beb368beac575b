import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually } from '../helpers/cluster.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { processCluster, statusOf, type ProcessCluster } from '../../scripts/lib/processes.ts'
import { assertValidPdf } from '../helpers/pdf.ts'

/** The goal is 1 s with the default timings; the assertion leaves room for a noisy machine. */
const DETECTION_GOAL_MS = 1000
const DETECTION_LIMIT_MS = 2000

let c: ProcessCluster

test.before(async () => {
  c = await processCluster(3, ['--work-ms', '1500'], 1)
})

test.after(async () => {
  await c.teardown()
})

test('a SIGKILLed node is marked dead by the others within the bound, and rejoins and catches up', async () => {
  const first = c.nodes.slice(0, 3)
  const [n1, n2, n3] = c.nodes as [(typeof c.nodes)[0], (typeof c.nodes)[0], (typeof c.nodes)[0]]
  await eventually(
    async () => {
      for (const n of first) {
        for (const m of first) if ((await statusOf(n.url, m.name)) !== 'alive') return false
      }
      return true
    },
    'three processes form one cluster',
    30_000,
  )
  await eventually(
    async () => {
      const h = await Promise.all(
        first.map(
          async (n) =>
            (await (await fetch(n.url + '/healthz')).json()) as {
              log: { writable: boolean; key: string }
            },
        ),
      )
      return h.every((x) => x.log.writable) && new Set(h.map((x) => x.log.key)).size === 1
    },
    'one log, every node a writer',
    30_000,
  )

  const killedAt = Date.now()
  c.signal(2, 'SIGKILL')
  const detection: Record<string, number> = {}
  await eventually(
    async () => {
      for (const n of [n1, n2]) {
        if (detection[n.name] === undefined && (await statusOf(n.url, 'n3')) === 'dead')
          detection[n.name] = Date.now() - killedAt
      }
      return Object.keys(detection).length === 2
    },
    'n3 marked dead on n1 and n2',
    10_000,
  )
  console.log(
    `  detection after SIGKILL: n1 ${detection.n1} ms, n2 ${detection.n2} ms (goal ${DETECTION_GOAL_MS} ms)`,
  )
  for (const ms of Object.values(detection))
    assert.ok(ms <= DETECTION_LIMIT_MS, `detected after ${ms} ms`)

  // A newcomer started after n3 died joins the survivors, though its bootstrap list names n3.
  const joinedAt = Date.now()
  await c.start(3)
  const n4 = c.nodes[3]!
  await eventually(
    async () =>
      (await statusOf(n4.url, 'n1')) === 'alive' && (await statusOf(n1.url, 'n4')) === 'alive',
    'a newcomer joins after a member died',
    15_000,
  )
  console.log(`  a newcomer joined ${Date.now() - joinedAt} ms after it was started`)

  // Written while n3 is down...
  const cookie = await sessionCookie(n1.url)
  const client = await Client.connect(n1.url, cookie)
  client.send({ type: 'request' })
  const ready = await client.download((d) => d?.state === 'ready', 20_000, 'ready on n1')
  client.close()

  // ...read on n3 once it is back on its data directory.
  await c.start(2)
  await eventually(
    async () =>
      (await statusOf(n1.url, 'n3')) === 'alive' && (await statusOf(n2.url, 'n3')) === 'alive',
    'n3 rejoins as alive',
    15_000,
  )
  const there = await Client.connect(n3.url, cookie)
  await there.next(
    (m) => m.type === 'download' && m.download?.id === ready!.id && m.download?.state === 'ready',
    15_000,
    'n3 catches up',
  )
  there.close()
  await eventually(
    async () => (await fetch(n3.url + ready!.fileUrl, { headers: { cookie } })).status === 200,
    'the file on n3',
    10_000,
  )
  const res = await fetch(n3.url + ready!.fileUrl, { headers: { cookie } })
  assertValidPdf(Buffer.from(await res.arrayBuffer()))
})

test.run()
