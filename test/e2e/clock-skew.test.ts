/**
 * A node whose machine clock is an hour ahead (libfaketime), among two that are right, also
 * across a SIGKILL and restart. Before records used cluster time, every record written by the
 * others looked expired to it: shown as none, files 404, purged locally, and a user who had a
 * download was allowed a second. Without the `faketime` command (Debian: apt-get install
 * faketime; .ci/run installs it) the test says so and is skipped.
 *
 * n3's first run is on the right clock, only to create its store: corestore's device file
 * records Date.now() when it is made and later checks it against the file's mtime, which
 * libfaketime cannot fake (Node reads it with statx), so a store made under faketime does not
 * reopen. On a machine whose clock is really off both come from the same clock.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import {
  processCluster,
  statusOf,
  waitForCluster,
  type NodeProcess,
} from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

let faketime = true
try {
  execFileSync('faketime', ['-f', '+1h', 'true'], { stdio: 'pipe' })
} catch (err) {
  faketime = false
  console.log(`  skipped: no working faketime command (${(err as Error).message.split('\n')[0]})`)
}
const run = faketime ? test : test.skip

async function healthOf(n: NodeProcess) {
  const res = await fetch(n.url + '/healthz')
  return { status: res.status, ...((await res.json()) as { warnings: string[] }) }
}

run(
  'a node an hour ahead hides, purges and duplicates nothing, before and after a restart',
  async () => {
    let skewed = false
    const c = await processCluster(3, ['--work-ms', '1500'], 0, (i) =>
      i === 2 && skewed ? ['faketime', '-f', '+1h'] : [],
    )
    const [n1, , n3] = c.nodes as [NodeProcess, NodeProcess, NodeProcess]
    try {
      await waitForCluster(c.nodes)
      c.signal(2, 'SIGTERM')
      await eventually(() => n3.child === null, 'n3 stopped')
      skewed = true
      const before = n3.lines.length
      await c.start(2)
      await waitForCluster(c.nodes)
      // Stopped, not killed: its restart does not say it was (run-marker.ts).
      const unclean = n3.lines
        .slice(before)
        .filter((l) => / unclean-stop .*did not stop cleanly/.test(l))
      assert.equal(unclean, [])

      // Alice's download, made on n1 with a right clock: on n3's clock it expired 50 min ago.
      const alice = await sessionCookie(n1.url)
      const home = await Client.connect(n1.url, alice)
      home.send({ type: 'request' })
      const made = (await home.download((d) => d?.state === 'ready', 30_000))!
      home.close()

      // Alice's page on n3 sees her download; it stays open while n3 works on, so that any
      // purge sweep that dropped the download would show as a `null` sent to it.
      const aliceOnN3 = async (when: string) => {
        const page = await Client.connect(n3.url, alice, { origin: n1.url })
        const seen = await page.seen(
          (d) => d?.state === 'ready',
          10_000,
          `alice's download ready on n3 ${when}`,
        )
        assert.is(seen?.id, made.id, `the same download ${when}`)
        page.send({ type: 'request' })
        const refused = await page.next(
          (m) => m.type === 'error',
          10_000,
          'a second download refused',
        )
        assert.match(String((refused as { message: string }).message), /already/i)
        return page
      }
      const stillThere = async (page: Client, when: string) => {
        assert.ok(
          !page.messages.some((m) => m.type === 'download' && m.download === null),
          `n3 told the page the download was gone ${when}`,
        )
        const file = await fetch(n3.url + made.fileUrl, { headers: { cookie: alice } })
        assert.is(file.status, 200, `the file on n3 ${when}`)
        await file.arrayBuffer()
        page.close()
      }
      /** A download asked of n3, until ready: seconds of work, over which sweeps run. */
      const downloadOnN3 = async (what: string) => {
        const page = await Client.connect(n3.url, await sessionCookie(n3.url))
        // Just restarted, n3 may say it is still joining its cluster: the user asks again.
        for (let tries = 0; ; tries++) {
          page.send({ type: 'request' })
          const m = await page.wait(
            (x) => x.type === 'error' || (x.type === 'download' && x.download !== null),
            10_000,
            `${what} accepted`,
          )
          if (m.type === 'download') break
          if (tries >= 20 || !/still joining/.test(m.message)) throw new Error(m.message)
          await page.wait(() => false, 500, 'a moment').catch(() => {})
        }
        const d = (await page.download((x) => x?.state === 'ready', 30_000, what))!
        page.close()
        return d
      }
      const first = await aliceOnN3('at first')

      // Downloads asked of n3 finish, stamped in the cluster's time, until some are its own.
      const mine: Record<string, any>[] = []
      for (let k = 0; k < 30 && mine.filter((d) => d.ownerName === 'n3').length < 2; k++)
        mine.push(await downloadOnN3(`download ${k}`))
      assert.ok(mine.filter((d) => d.ownerName === 'n3').length >= 2, 'n3 made some itself')
      await stillThere(first, 'after n3 worked on')
      for (const d of mine) {
        assert.ok(
          Math.abs(d.createdAt - Date.now()) < 120_000,
          `created ${d.createdAt - Date.now()} ms off`,
        )
      }

      // Loud on both sides, and still in service.
      const mineHealth = await healthOf(n3)
      assert.is(mineHealth.status, 200)
      assert.match(mineHealth.warnings.join(' '), /this node's clock is 3\d{3}\.\d s ahead/)
      assert.match((await healthOf(n1)).warnings.join(' '), /n3's clock is 3\d{3}\.\d s ahead/)
      assert.ok(n3.lines.some((l) => /clock-skew/.test(l) && /ahead of the cluster/.test(l)))
      assert.ok(n1.lines.some((l) => /member-clock-skew/.test(l)))

      // Killed and restarted, still an hour ahead: the same, from its first moments back.
      c.signal(2, 'SIGKILL')
      await eventually(() => n3.child === null, 'n3 gone')
      await c.start(2)
      // Alice's page comes from n1: n3 trusts that origin once it knows n1 again.
      await eventually(async () => (await statusOf(n3.url, 'n1')) === 'alive', 'n3 sees n1')
      const again = await aliceOnN3('after a restart')
      await downloadOnN3('a download after the restart')
      await stillThere(again, 'after a restart')
      assert.ok(
        !n3.lines.some((l) => / purged /.test(l)),
        `n3 purged records:\n${n3.lines.filter((l) => / purged /.test(l)).join('\n')}`,
      )
    } finally {
      await c.teardown()
    }
  },
)

test.run()
