/**
 * The status page's gathering (status-service.ts) against a peer served over HTTP on
 * loopback: what a member said before it died stays on the page.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { StatusEvents, type NodeSelf, type StatusEvent } from '../../src/cluster-status.ts'
import { statusService } from '../../src/status-service.ts'
import type { Member } from '../../src/cluster/member.ts'

const figures = (id: string, url: string) => ({
  id,
  name: id,
  url,
  incarnation: 1,
  uptimeMs: 1000,
  running: 0,
  logLength: 0,
  scribe: false,
})

test('a member that stops answering keeps the events it told last on the page; one forgotten does not', async () => {
  const takeover = (at: number, detail: string): StatusEvent => ({
    at,
    kind: 'takeover',
    node: 'n2',
    incarnation: 1,
    detail,
  })
  let answering = true
  const server = createServer((_req, res) => {
    if (!answering) return res.writeHead(503).end()
    const theirs: NodeSelf = {
      ...figures('n2', url),
      dataBytes: 1,
      // Two downloads taken over from one dead node in the same millisecond.
      events: [takeover(500, 'from n3 at 10 %'), takeover(500, 'from n3 at 40 %')],
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(theirs))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  let now = 10_000
  const members: Member[] = [
    { id: 'n1', name: 'n1', url: 'http://127.0.0.1:1', incarnation: 1, status: 'alive' },
    { id: 'n2', name: 'n2', url, incarnation: 1, status: 'alive' },
  ]
  const service = statusService({
    self: () => figures('n1', 'http://127.0.0.1:1'),
    dataBytes: async () => 1,
    events: new StatusEvents(),
    members: () => members,
    now: () => now,
  })
  try {
    const takeovers = async () =>
      (await service.cluster()).events.filter((e) => e.kind === 'takeover').map((e) => e.detail)
    assert.equal(await takeovers(), ['from n3 at 10 %', 'from n3 at 40 %'], 'both listed')

    answering = false
    members[1] = { ...members[1]!, status: 'dead' }
    now += 1000
    const status = await service.cluster()
    assert.is(
      status.nodes.find((n) => n.id === 'n2')?.running,
      null,
      'no figures: it did not answer',
    )
    assert.equal(await takeovers(), ['from n3 at 10 %', 'from n3 at 40 %'], 'its events stay')

    members.pop() // forgotten by the membership
    now += 1000
    assert.equal(await takeovers(), [], 'gone with it')
  } finally {
    server.close()
  }
})

test.run()
