/**
 * A 200 MB file streamed by its job (test/fixtures/large-file.mjs) through a SIGKILL of the
 * node making it: the successor makes it again, holding no more than 50 MB over its idle
 * resident memory while it does, and a node that made none of it serves it whole, in as
 * little memory, with its length and by range.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import {
  nodeRssKb,
  processCluster,
  waitForCluster,
  type NodeProcess,
} from '../../scripts/lib/processes.ts'
import { chunk, sha256 } from '../fixtures/large-file.mjs'
import { downloadWhere } from '../helpers/ranking.ts'

const MB = 200
const WARM_MB = 64
const LIMIT_KB = 50 * 1024

/** Samples a node's resident memory every 100 ms until stopped; resolves to the highest. */
function peakRss(n: NodeProcess): { stop(): number } {
  let peak = 0
  const timer = setInterval(() => {
    if (n.child) peak = Math.max(peak, nodeRssKb(n))
  }, 100)
  return {
    stop() {
      clearInterval(timer)
      return peak
    },
  }
}

test('a 200 MB stream survives a SIGKILL of its node, in bounded memory on the maker and the server', async () => {
  const c = await processCluster(3, ['--generator', 'test/fixtures/large-file.mjs'])
  try {
    await waitForCluster(c.nodes)
    // The page stays on n1: a user whose file is made by another node, and then another.
    const d = await downloadWhere(
      c.nodes,
      (order) => order[0] !== c.nodes[0] && order[1] !== c.nodes[0],
      { mb: WARM_MB },
    )
    const [owner, successor] = d.order as [NodeProcess, NodeProcess]
    // "Idle" is a node that has stored and served a file of some size before: a store's
    // first writes fill RocksDB's memtables (two of 16 MB) and caches, about 60 MB that stay,
    // whatever the size of the files that come after.
    const warm = await d.page.seen((x) => x?.state === 'ready', 60_000, 'the first file')
    const first = await fetch(c.nodes[0]!.url + warm!.fileUrl, { headers: { cookie: d.cookie } })
    await first.arrayBuffer()
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const idle = new Map(c.nodes.map((n) => [n.name, nodeRssKb(n)]))
    d.page.send({ type: 'dismiss' })
    await d.page.seen((x) => x === null, 10_000, 'dismissed')
    d.page.send({ type: 'request', params: { mb: MB } })
    const id = (await d.page.seen((x) => x !== null && x.id !== warm!.id, 10_000, 'requested'))!.id
    await d.page.seen((x) => x?.id === id && x!.progress >= 70, 120_000, 'streaming past 70 %')
    c.signal(c.nodes.indexOf(owner), 'SIGKILL')

    const making = peakRss(successor)
    const ready = await d.page.seen((x) => x?.id === id && x!.state === 'ready', 180_000, 'ready')
    const madeKb = making.stop()
    assert.ok(ready!.epoch >= 2, 'the successor made it')
    assert.ok(
      madeKb - idle.get(successor.name)! <= LIMIT_KB,
      `the maker held ${Math.round((madeKb - idle.get(successor.name)!) / 1024)} MB over idle`,
    )

    const home = c.nodes[0]!
    const serving = peakRss(home)
    const res = await fetch(home.url + ready!.fileUrl, { headers: { cookie: d.cookie } })
    assert.is(res.status, 200)
    assert.is(res.headers.get('content-length'), String(MB * 1024 * 1024))
    const hash = createHash('sha256')
    for await (const part of res.body!) hash.update(part)
    const servedKb = serving.stop()
    assert.is(hash.digest('hex'), sha256(MB), 'the file is whole and right')
    assert.ok(
      servedKb - idle.get(home.name)! <= LIMIT_KB,
      `the server held ${Math.round((servedKb - idle.get(home.name)!) / 1024)} MB over idle`,
    )

    console.log(
      `200 MB: the maker +${Math.round((madeKb - idle.get(successor.name)!) / 1024)} MB, the server +${Math.round((servedKb - idle.get(home.name)!) / 1024)} MB over idle`,
    )
    // The 101st MiB, from the node that did not make the file.
    const start = 100 * 1024 * 1024
    const part = await fetch(home.url + ready!.fileUrl, {
      headers: { cookie: d.cookie, range: `bytes=${start}-${start + 1024 * 1024 - 1}` },
    })
    assert.is(part.status, 206)
    assert.ok(Buffer.from(await part.arrayBuffer()).equals(chunk(100)))
    d.page.close()
  } finally {
    await c.teardown()
  }
})

test.run()
