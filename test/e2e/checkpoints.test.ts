/**
 * Checkpoints beside the log, with real processes and SIGKILL. A worker sends every checkpoint
 * to the two members that would take its download over and writes one to the log only every
 * --log-checkpoint-ms: the successor resumes from the copy it holds; if the owner and both
 * successors die together, the next node resumes from the log's.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { processCluster, waitForCluster, type NodeProcess } from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'
import { downloadWhere } from '../helpers/ranking.ts'

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
    // Nothing else writes now: n1's log grows with the owner's fallback checkpoints, one every
    // 15 %. The first to land may be the one made just before 50 % (written at the end of the
    // group commit's window, after the page saw 50 %); the one after it is past 50 %.
    for (const which of ['first', 'second']) {
      const length = await logLength(c.nodes[0]!)
      await eventually(async () => (await logLength(c.nodes[0]!)) > length, `${which} fallback`)
    }
    for (const n of order.slice(0, 3)) c.signal(c.nodes.indexOf(n), 'SIGKILL')

    await eventually(() => takeoverLine(c.nodes, d.id) !== null, 'a takeover', 15_000).catch(
      (err: Error) => {
        // What the survivor saw, to tell a missed death from a takeover that never started.
        throw new Error(`${err.message}; n1 said:\n${c.nodes[0]!.lines.slice(-60).join('\n')}`)
      },
    )
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

test('an owner restarted while nobody could take over (its successors down or cut off) resumes from the copy a successor held, not from 0 %', async () => {
  const c = await processCluster(3, ['--work-ms', '10000', '--log-checkpoint-ms', '60000'])
  try {
    await waitForCluster(c.nodes)
    // The page stays on n1, which lives on, cut off, holding the owner's copies.
    const d = await downloadWhere(c.nodes, (order) => order[0] !== c.nodes[0])
    const owner = d.order[0]!
    const third = c.nodes.find((n) => n !== owner && n !== c.nodes[0])!
    d.seen = (await d.page.seen((x) => (x?.progress ?? 0) >= 40, 30_000, '40 %'))!.progress
    c.signal(c.nodes.indexOf(owner), 'SIGKILL')
    c.signal(c.nodes.indexOf(third), 'SIGKILL')
    // n1 alone is cut off (1 of 3): nobody takes the download over while the owner is down.
    const before = owner.lines.length
    await c.start(c.nodes.indexOf(owner))
    const resumed = () =>
      owner.lines.slice(before).find((l) => /(resume|start) id=/.test(l) && l.includes(d.id))
    await eventually(() => resumed() !== undefined, 'the owner runs it again', 30_000)
    const from = Number(/ from=(\d+)%/.exec(resumed()!)![1])
    assert.ok(from >= 30, `resumed from ${from} %, the page had seen ${d.seen} %:\n${resumed()}`)
    const ready = await d.page.seen((x) => x?.state === 'ready', 60_000, 'ready')
    assert.is(ready!.id, d.id)
    d.page.close()
  } finally {
    await c.teardown()
  }
})

test.run()
