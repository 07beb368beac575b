/**
 * A real full disk: a node's data directory on a small tmpfs, filled while downloads run, then
 * freed. The node must say so (503, a log line naming the cause), stop writing before its
 * store breaks, and finish every download once space is back, with no restart. And when the
 * store breaks anyway (its reserve check blinded here), the node reopens it in process once
 * space is back, losing nothing acknowledged. Needs root (mount); without it the test says so
 * and is skipped.
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
import { nanoid } from 'nanoid'
import { runNode } from '../../src/node-runner.ts'
import { freeBytes } from '../../src/disk-space.ts'
import { testConfig } from '../helpers/node.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

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

run(
  'a store that breaks anyway (a disk filled faster than the reserve is checked) is reopened in process once space is back, losing nothing',
  async () => {
    const dataDir = join(mount, 'n2')
    const filler = join(mount, 'filler-2')
    const log = recordingLogger()
    // The reserve check is blinded until the disk is freed: the store must hit the full disk.
    let blind = true
    const runner = await runNode(
      testConfig({
        name: 'n2',
        dataDir,
        workMs: 2000,
        checkpointStep: 1,
        actionBurst: 1000,
        actionsPerMinute: 100_000,
      }),
      { log, freeBytes: async (dir) => (blind ? 1e12 : freeBytes(dir)) },
      { backoffMs: 200, maxBackoffMs: 1000 },
    )
    const manager = () => runner.node?.manager
    try {
      // Acknowledged before the disk fills: these must survive whatever happens next.
      const before = Array.from({ length: 5 }, () => nanoid())
      for (const user of before) await manager()!.request(user)
      await eventually(
        () => before.every((u) => manager()!.current(u)?.state === 'ready'),
        'the first downloads ready',
        20_000,
      )
      const made = new Map(before.map((u) => [u, manager()!.current(u)!.id]))

      try {
        execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=1M'], { stdio: 'pipe' })
      } catch {
        // dd stops at "No space left on device": the disk is full.
      }
      // Checkpoints of every percent from many workers, until a write does not land.
      const load = Array.from({ length: 60 }, () => nanoid())
      const failed = eventually(
        () => log.events('store-failed').length > 0,
        'the store fails',
        90_000,
      )
      let loading = true
      void failed.finally(() => (loading = false))
      while (loading) {
        for (const user of load) {
          await manager()
            ?.dismiss(user)
            .catch(() => {})
          await manager()
            ?.request(user)
            .catch(() => {})
        }
        // The next round once this one's downloads are half done (each wrote ~50 checkpoints).
        const halfDone = eventually(
          () =>
            load.every((u) => {
              const d = manager()?.current(u)
              return !d || d.state === 'ready' || d.state === 'error' || d.progress >= 50
            }),
          'a round of the load half done',
          30_000,
        )
        await Promise.race([failed, halfDone.catch(() => {})])
        // Refused requests leave nothing to wait for: still let timers (the failure check) run.
        await new Promise((r) => setImmediate(r))
      }
      await failed
      const [said] = log.events('store-failed')
      assert.is(said!.level, 'error')
      assert.match(String(said!.fields.error), /No space left on device/, 'the cause, in words')

      // While the disk stays full the runner waits; once space is back it opens the store again.
      blind = false
      await eventually(() => log.events('restart-waiting').length > 0, 'waiting for space', 10_000)
      assert.is(runner.node, null)
      rmSync(filler)
      await eventually(() => runner.restarts >= 1 && runner.node !== null, 'restarted', 60_000)
      assert.ok(log.events('restarted').length >= 1)
      const node = runner.node!
      assert.is(node.health().ok, true, node.health().problems.join('; '))
      for (const [user, id] of made) {
        const d = node.manager.current(user)
        assert.is(d?.id, id, `${user}'s download is still there`)
        assert.is(d?.state, 'ready')
      }
      // Work goes on: a new download, and every download of the load that was running.
      const fresh = nanoid()
      await node.manager.request(fresh)
      await eventually(
        () =>
          [fresh, ...load].every((u) => {
            const d = node.manager.current(u)
            return d === null || d.state === 'ready'
          }),
        'every download finished',
        60_000,
      )
      assert.is(node.manager.current(fresh)?.state, 'ready')
    } finally {
      rmSync(filler, { force: true })
      await runner.close()
    }
  },
)

test.after(() => {
  if (mounted) execFileSync('umount', [mount])
  rmSync(mount, { recursive: true, force: true })
})

test.run()
