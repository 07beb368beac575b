/**
 * Checkpoints beside the log, with real processes and SIGKILL. A worker sends every checkpoint
 * to the two members that would take its download over and writes one to the log only every
 * --log-checkpoint-ms: the successor resumes from the copy it holds; if the owner and both
 * successors die together, the next node resumes from the log's.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import {
  clusterView,
  processCluster,
  waitForCluster,
  type NodeProcess,
} from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'
import { rank } from '../../src/cluster/rendezvous.ts'

const userOf = (cookie: string) => cookie.slice('sid='.length).split('.')[0]!

/** The nodes in the order they would own this user's downloads. */
async function ranking(nodes: NodeProcess[], userId: string): Promise<NodeProcess[]> {
  const view = (await clusterView(nodes[0]!.url))!
  const ids = view.members.map((m) => m.id)
  return rank(userId, ids).map((id) => {
    const name = view.members.find((m) => m.id === id)!.name
    return nodes.find((n) => n.name === name)!
  })
}

/** A download taken this far by the page's bar, with the node that runs it. */
async function downloadAt(nodes: NodeProcess[], percent: number) {
  const home = nodes[0]!
  const cookie = await sessionCookie(home.url)
  const page = await Client.connect(home.url, cookie)
  page.send({ type: 'request' })
  const d = (await page.seen((x) => x !== null && x.progress >= percent, 30_000, `${percent} %`))!
  return { cookie, page, id: d.id as string, seen: d.progress as number, user: userOf(cookie) }
}

/** A download of a user whose ranking passes the test (others are dismissed at once). */
async function downloadWhere(nodes: NodeProcess[], ok: (order: NodeProcess[]) => boolean) {
  for (let k = 0; k < 40; k++) {
    const d = await downloadAt(nodes, 0)
    const order = await ranking(nodes, d.user)
    if (ok(order)) return { ...d, order }
    d.page.send({ type: 'dismiss' })
    await d.page.seen((x) => x === null, 5000, 'dismissed')
    d.page.close()
  }
  throw new Error('no user with such a ranking in 40 tries')
}

async function logLength(n: NodeProcess): Promise<number> {
  return ((await (await fetch(n.url + '/healthz')).json()) as { log: { length: number } }).log
    .length
}

function takeoverLine(nodes: NodeProcess[], id: string) {
  for (const n of nodes) {
    const line = n.lines.find((l) => / takeover /.test(l) && l.includes(`id=${id}`))
    if (line) {
      return {
        node: n.name,
        at: Number(/ at=(\d+)%/.exec(line)![1]),
        from: / checkpoint=(\w+)/.exec(line)![1],
      }
    }
  }
  return null
}

test('the successor resumes from the checkpoint the owner sent it, ahead of the log', async () => {
  const c = await processCluster(3, ['--work-ms', '10000', '--log-checkpoint-ms', '60000'])
  try {
    await waitForCluster(c.nodes)
    // The page stays on n1, which must live: a user whose download another node runs.
    const d = await downloadWhere(c.nodes, (order) => order[0] !== c.nodes[0])
    const [owner, successor] = d.order
    d.seen = (await d.page.seen((x) => (x?.progress ?? 0) >= 50, 30_000, '50 %'))!.progress
    c.signal(c.nodes.indexOf(owner!), 'SIGKILL')

    await eventually(() => takeoverLine(c.nodes, d.id) !== null, 'a takeover', 10_000)
    const took = takeoverLine(c.nodes, d.id)!
    assert.is(took.node, successor!.name)
    assert.is(took.from, 'relayed', 'the log held no checkpoint past the start')
    assert.ok(took.at >= 40, `resumed from ${took.at} %, the page had seen ${d.seen} %`)
    const ready = await d.page.seen((x) => x?.state === 'ready', 30_000, 'ready')
    assert.is(ready!.id, d.id)
    d.page.close()
  } finally {
    await c.teardown()
  }
})

test('when the owner and both successors die together, the next node resumes from the log', async () => {
  // Three of four dead leaves no majority: by default the last node would wait for one
  // (DESIGN.md, Partitions). An operator who chose availability (--quorum off) gets this.
  const c = await processCluster(4, [
    '--work-ms',
    '10000',
    '--log-checkpoint-ms',
    '1500',
    '--quorum',
    'off',
  ])
  try {
    await waitForCluster(c.nodes)
    // The page is on n1, which survives: a user whose ranking puts n1 last.
    const d = await downloadWhere(c.nodes, (order) => order[3] === c.nodes[0])
    const order = d.order
    await d.page.seen((x) => (x?.progress ?? 0) >= 50, 30_000, '50 %')
    // Nothing else writes now: n1's log growing means the owner's next fallback checkpoint,
    // made past 50 %, has replicated to it.
    const length = await logLength(c.nodes[0]!)
    await eventually(async () => (await logLength(c.nodes[0]!)) > length, 'a fallback on n1')
    for (const n of order.slice(0, 3)) c.signal(c.nodes.indexOf(n), 'SIGKILL')

    await eventually(() => takeoverLine(c.nodes, d.id) !== null, 'a takeover', 15_000)
    const took = takeoverLine(c.nodes, d.id)!
    assert.is(took.node, 'n1')
    assert.is(took.from, 'log')
    assert.ok(took.at >= 50, `resumed from the log's ${took.at} %, past what the page had seen`)
    const ready = await d.page.seen((x) => x?.state === 'ready', 30_000, 'ready')
    assert.is(ready!.id, d.id)
    d.page.close()
  } finally {
    await c.teardown()
  }
})

test.run()
