/**
 * A real full disk: a node's data directory on a small tmpfs, filled while downloads run, then
 * freed. The node must say so (503, a log line naming the cause), stop writing before its
 * store breaks, and finish every download once space is back, with no restart. Needs root
 * (mount); without it the test says so and is skipped.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { processCluster } from '../../scripts/lib/processes.ts'
import { eventually } from '../../scripts/lib/eventually.ts'

const mount = mkdtempSync(join(tmpdir(), 'pdf-cluster-small-disk-'))
let mounted = false
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=200m', 'tmpfs', mount], { stdio: 'pipe' })
  mounted = true
} catch (err) {
  console.log(`  skipped: cannot mount a tmpfs here (${(err as Error).message.split('\n')[0]})`)
}

const run = mounted ? test : test.skip

run(
  'a node whose disk fills mid-run stops writing, says why, and finishes everything once space is back',
  async () => {
    const data = join(mount, 'n1')
    const c = await processCluster(1, ['--work-ms', '4000', '--min-free-mb', '32', '--data', data])
    const node = c.nodes[0]!
    const filler = join(mount, 'filler')
    try {
      const users = await Promise.all(
        Array.from({ length: 5 }, async () => {
          const cookie = await sessionCookie(node.url)
          const client = await Client.connect(node.url, cookie)
          client.send({ type: 'request' })
          await client.seen((d) => d?.state === 'processing' && d.progress >= 10, 20_000)
          return { cookie, client }
        }),
      )
      // Fill the disk to 8 MB short of full.
      const free = Number(
        execFileSync('df', ['-B1', '--output=avail', mount]).toString().split('\n')[1],
      )
      execFileSync('fallocate', ['-l', String(free - 8 * 1024 * 1024), filler])

      await eventually(
        async () => (await fetch(node.url + '/healthz')).status === 503,
        'the node reports the full disk',
        5000,
      )
      const body = (await (await fetch(node.url + '/healthz')).json()) as { problems: string[] }
      assert.match(body.problems.join(), /disk nearly full/)
      assert.ok(
        node.lines.some((l) => / ERROR disk-low /.test(l)),
        'a log line names the cause',
      )
      const late = await Client.connect(node.url, await sessionCookie(node.url))
      late.send({ type: 'request' })
      const refused = (await late.next((m) => m.type === 'error')) as { message: string }
      assert.match(refused.message, /low on disk space/)
      late.close()

      rmSync(filler)
      for (const u of users) {
        const ready = await u.client.seen(
          (d) => d?.state === 'ready',
          30_000,
          'ready after the disk was freed',
        )
        const res = await fetch(node.url + ready!.fileUrl, { headers: { cookie: u.cookie } })
        assert.is(res.status, 200)
        u.client.close()
      }
      assert.is((await fetch(node.url + '/healthz')).status, 200)
      assert.not.ok(
        node.lines.some((l) => /Batch was not applied|Autobase is closing/.test(l)),
        'the store never broke',
      )
    } finally {
      rmSync(filler, { force: true })
      await c.teardown()
    }
  },
)

test.after(() => {
  if (mounted) execFileSync('umount', [mount])
  rmSync(mount, { recursive: true, force: true })
})

test.run()
