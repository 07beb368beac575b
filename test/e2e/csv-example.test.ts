/**
 * The example job (examples/csv-export.mjs) on three real nodes: its owner is SIGKILLed
 * mid-way, the successor resumes from the row the checkpoint names, and the file, fetched
 * from a node that made none of it, has every row exactly once and a total that counts each
 * row once.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { processCluster, waitForCluster } from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'
import { downloadWhere } from '../helpers/ranking.ts'

const ROWS = 6000

test('the CSV export survives its node being killed mid-way: every row once, the total right', async () => {
  const c = await processCluster(3, ['--generator', 'examples/csv-export.mjs'])
  try {
    await waitForCluster(c.nodes)
    const params = { month: '2026-03', rows: ROWS, batchMs: 25 }
    // The page stays on n1, which must live: a user whose export another node runs.
    const d = await downloadWhere(c.nodes, (order) => order[0] !== c.nodes[0], params)
    const owner = d.order[0]!
    const mid = await d.page.seen((x) => (x?.progress ?? 0) >= 40, 30_000, '40 %')
    assert.equal(mid!.params, params)
    c.signal(c.nodes.indexOf(owner), 'SIGKILL')

    const ready = await d.page.seen((x) => x?.state === 'ready', 30_000, 'ready')
    assert.is(ready!.id, d.id)
    assert.ok(ready!.epoch >= 2, 'taken over')
    const took = c.nodes
      .flatMap((n) => n.lines)
      .find((l) => / takeover /.test(l) && l.includes(`id=${d.id}`))
    assert.ok(took, 'a takeover line')
    assert.ok(Number(/ at=(\d+)%/.exec(took!)![1]) >= 30, `resumed from a checkpoint: ${took}`)

    const home = c.nodes[0]!
    let res: Response | null = null
    await eventually(async () => {
      res = await fetch(home.url + ready!.fileUrl, { headers: { cookie: d.cookie } })
      if (res.status === 200) return true
      await res.arrayBuffer()
      return false
    }, 'the file served by the page node')
    assert.is(res!.headers.get('content-type'), 'text/csv; charset=utf-8')
    const lines = (await res!.text()).trimEnd().split('\n')
    assert.is(lines[0], 'number,customer,amount')
    const rows = lines.slice(1, -1)
    assert.is(rows.length, ROWS)
    const numbers = new Set(rows.map((r) => r.split(',')[0]))
    assert.is(numbers.size, ROWS, 'no row twice')
    for (let i = 1; i <= ROWS; i++)
      assert.ok(numbers.has(`INV-2026-03-${String(i).padStart(7, '0')}`), `row ${i}`)
    const cents = rows.reduce((sum, r) => sum + Math.round(Number(r.split(',')[2]) * 100), 0)
    assert.is(lines.at(-1), `TOTAL,,${(cents / 100).toFixed(2)}`, 'each row counted once')
    d.page.close()
  } finally {
    await c.teardown()
  }
})

test.run()
