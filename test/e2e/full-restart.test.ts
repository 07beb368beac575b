/**
 * The whole cluster killed at once and restarted node by node, seconds apart: every download
 * is made once (run again by its own owner alone, from the log's checkpoint), and no page sees a finished
 * download go back to running. Before restarted nodes waited for their cluster, the first node
 * back took over every download of the others five seconds after it started, and the others
 * resumed theirs when they came back: each download was made two or three times.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { processCluster, statusOf, waitForCluster } from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

const USERS = 24

interface Health {
  uptimeMs: number
  log: { length: number }
}
const health = async (url: string) => (await (await fetch(url + '/healthz')).json()) as Health

test('after a full-cluster SIGKILL and a staggered restart, each download is made exactly once', async () => {
  const c = await processCluster(3, ['--work-ms', '8000'])
  try {
    await waitForCluster(c.nodes)
    const users = await Promise.all(
      Array.from({ length: USERS }, async (_, i) => {
        const node = c.nodes[i % 3]!
        const cookie = await sessionCookie(node.url)
        const client = await Client.connect(node.url, cookie)
        client.send({ type: 'request' })
        const d = await client.seen((x) => x?.state === 'processing' && x.progress >= 10, 30_000)
        client.close()
        return { cookie, id: d!.id as string, home: i % 3, owner: d!.ownerName as string }
      }),
    )
    // Killed once every node's log holds every request (its length counts record operations):
    // a worker starts on the record its peer sends beside the log, and a whole cluster killed
    // before the block that carries it has been written and has travelled leaves the owner's
    // store without it (its unclean-stop line cannot name it), or every store without it: the
    // request is lost (DESIGN.md, "Records beside the log").
    await eventually(
      async () => {
        const lengths = await Promise.all(
          c.nodes.map(async (n) => (await health(n.url)).log.length),
        )
        return lengths.every((l) => l >= USERS)
      },
      "every request in every node's log",
      15_000,
    )
    for (let i = 0; i < 3; i++) c.signal(i, 'SIGKILL')
    await eventually(() => c.nodes.every((n) => !n.child), 'all three gone')
    const beforeRestart = c.nodes.map((n) => n.lines.length)

    // Back one by one: the first alone for longer than the old five-second grace (it says it
    // is waiting after two seconds; its own uptime tells when the grace would have passed),
    // the second once the first sees it, the third after.
    const [n1] = c.nodes
    await c.start(0)
    await eventually(
      async () => (await health(n1!.url)).uptimeMs > 6000,
      'n1 alone for six seconds',
      15_000,
    )
    assert.ok(
      n1!.lines.some((l) => / waiting-for-cluster /.test(l)),
      'n1 said it waits',
    )
    assert.ok(
      n1!.lines.some((l) => / WARN unclean-stop .*did not stop cleanly/.test(l)),
      'n1 said its last run was killed',
    )
    // With the downloads it was making, by id: those its peers' takeover lines will name.
    assert.ok(
      users.some((u) => u.owner === 'n1'),
      'n1 was making some',
    )
    const told = n1!.lines.find((l) => / WARN unclean-stop /.test(l))!
    for (const u of users)
      assert.is(told.includes(u.id), u.owner === 'n1', `${u.id} of ${u.owner} in: ${told}`)
    await c.start(1)
    await eventually(async () => (await statusOf(n1!.url, 'n2')) === 'alive', 'n1 sees n2', 15_000)
    await c.start(2)

    const finals = await Promise.all(
      users.map(async (u) => {
        const client = await Client.connect(c.nodes[u.home]!.url, u.cookie)
        const ready = await client.seen((d) => d?.state === 'ready', 60_000, `${u.id} ready`)
        const states = client.messages.flatMap((m) =>
          m.type === 'download' && m.download?.id === u.id ? [m.download.state as string] : [],
        )
        client.close()
        return { ready, states }
      }),
    )
    finals.forEach(({ ready, states }, i) => {
      assert.is(ready!.id, users[i]!.id, 'the same download, not a new one')
      const back = states.findIndex((s, k) => k > states.indexOf('ready') && s !== 'ready')
      assert.is(back, -1, `ready went back to ${states[back]}: ${states.join(' ')}`)
    })

    // A page may hear "ready" before the owner's line saying so has been read here.
    const allLines = () => c.nodes.flatMap((n) => n.lines)
    await eventually(
      () => users.every((u) => allLines().some((l) => l.includes(` ready id=${u.id} `))),
      'every owner said its download is ready',
      5000,
    ).catch(() => {}) // the count below says which one did not
    const lines = allLines()
    for (const u of users) {
      const made = lines.filter((l) => l.includes(` ready id=${u.id} `)).length
      assert.is(made, 1, `${u.id} was made ${made} times`)
      // One worker ran it after the restart: its owner's, from the log's checkpoint if the log
      // took one (the copies its successors held died with them), else from the start.
      const runs = c.nodes
        .flatMap((n, i) => n.lines.slice(beforeRestart[i]))
        .filter((l) => l.includes(` resume id=${u.id} `) || l.includes(` start id=${u.id} `))
      assert.is(runs.length, 1, `${u.id} was run ${runs.length} times after the restart`)
    }
    const takeovers = lines.filter((l) => / takeover /.test(l))
    assert.equal(takeovers, [], 'every owner came back in time: nothing was taken over')
    assert.ok(
      c.nodes[0]!.lines.some((l) => / waiting-for-cluster /.test(l)),
      'the first node back said it waits for its cluster',
    )
  } finally {
    await c.teardown()
  }
})

test.run()
