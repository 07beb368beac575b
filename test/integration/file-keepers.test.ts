import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { rank } from '../../src/cluster/rendezvous.ts'
import type { RunningNode } from '../../src/node.ts'
import { assertValidPdf } from '../helpers/pdf.ts'

test('a ready file is copied to the next node in its user’s ranking after its maker, which serves it once the maker and the third node are gone', async () => {
  const c = await createCluster(3, { workMs: 300 })
  try {
    await c.oneLog()
    const cookie = await sessionCookie(c.nodes[0]!.url)
    const client = await Client.connect(c.nodes[0]!.url, cookie)
    client.send({ type: 'request' })
    const ready = await client.download((d) => d?.state === 'ready')
    client.close()
    const d = c.nodes[0]!.manager.current(ready!.userId as string)!
    const byId = (id: string) => c.nodes.find((n) => n.id === id) as RunningNode
    const maker = byId(d.owner)
    const others = c.nodes.filter((n) => n !== maker).map((n) => n.id)
    const [keeperId, thirdId] = rank(d.userId, others)
    const keeper = byId(keeperId!)
    const third = byId(thirdId!)

    await eventually(() => keeper.files.holds(d.file!), 'the copy on the next node in line')
    assert.ok(await maker.files.holds(d.file!), 'its maker holds it')
    // One copy besides the maker's (--file-copies 1): the third node fetches it when asked.
    assert.not.ok(await third.files.holds(d.file!), 'the third node made no copy')

    await maker.close()
    await third.close()
    const res = await fetch(keeper.url + ready!.fileUrl, { headers: { cookie } })
    assert.is(res.status, 200, 'served by the node that kept the copy')
    assertValidPdf(Buffer.from(await res.arrayBuffer()))
  } finally {
    await c.teardown()
  }
})

test.run()
