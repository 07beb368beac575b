import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createCluster, eventually } from '../helpers/cluster.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { startBalancer } from '../helpers/balancer.ts'
import { assertValidPdf } from '../helpers/pdf.ts'
import type { RunningNode } from '../../src/node.ts'

function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work,
    new Promise<T>(
      (_, reject) =>
        (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer))
}

test('behind a load balancer: the page origin is the balancer, and a socket survives the death of its node', async () => {
  const c = await createCluster(3, { workMs: 3000 })
  const alive = new Set<RunningNode>()
  const lb = await startBalancer(() => [...alive].map((n) => n.url))
  try {
    for (const n of c.nodes) alive.add(n)
    await c.oneLog()
    const cookie = await sessionCookie(lb.url)
    let client = await Client.connect(lb.url, cookie, { origin: lb.url })
    client.send({ type: 'request' })
    const mid = await client.seen((d) => d?.state === 'processing' && d.progress >= 20)

    // Kill whichever node holds the socket; the page reconnects through the balancer.
    const holder = c.nodes.find((n) => n.relay.isWatching(mid!.userId))!
    alive.delete(holder)
    await within(holder.close(), 5000, `closing ${holder.name}`)
    await within(client.closed, 5000, 'the socket to see its node go')
    client = await Client.connect(lb.url, cookie, { origin: lb.url })
    const again = await client.seen((d) => d !== null)
    assert.is(again!.id, mid!.id, 'the same download, no second request')
    const ready = await client.seen((d) => d?.state === 'ready', 20_000, 'ready')
    const res = await fetch(lb.url + ready!.fileUrl, {
      headers: { cookie },
      signal: AbortSignal.timeout(10_000),
    })
    assert.is(res.status, 200)
    assertValidPdf(Buffer.from(await res.arrayBuffer()))
    client.close()
  } finally {
    await lb.close()
    await c.teardown()
  }
})

test('a balancer that rewrites Host needs --allow-origin for its pages', async () => {
  const c = await createCluster(1)
  const lb = await startBalancer(() => c.nodes.map((n) => n.url), true)
  try {
    const cookie = await sessionCookie(lb.url)
    const refused = await Client.connect(lb.url, cookie, { origin: lb.url }).then(
      (cl) => (cl.close(), null),
      (e: Error) => e,
    )
    assert.match(refused?.message ?? '', /403/)
    await c.nodes[0]!.close()
    const node = await c.start(0, { allowOrigins: [lb.url] })
    assert.ok(node)
    const ok = await Client.connect(lb.url, cookie, { origin: lb.url })
    await ok.next((m) => m.type === 'download')
    ok.close()
  } finally {
    await lb.close()
    await c.teardown()
  }
})

test.run()
