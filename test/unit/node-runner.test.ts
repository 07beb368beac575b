import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { runNode } from '../../src/node-runner.ts'
import type { Config } from '../../src/config.ts'
import type { RunningNode } from '../../src/node.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { testConfig } from '../helpers/node.ts'

/** Nodes that do nothing but fail when told, and a start that fails while told to. */
function fakeStarts() {
  const started: { config: Config; node: RunningNode; fail(err: Error): void; closed: boolean }[] =
    []
  let refuse: string | null = null
  let hangOnClose = false
  return {
    started,
    refuseWith(message: string | null) {
      refuse = message
    },
    hangOnClose() {
      hangOnClose = true
    },
    async start(config: Config): Promise<RunningNode> {
      if (refuse) throw new Error(refuse)
      let fail!: (err: Error) => void
      const failed = new Promise<Error>((resolve) => (fail = resolve))
      const entry = { config, node: null as unknown as RunningNode, fail, closed: false }
      entry.node = {
        port: config.port === 0 ? 4321 : config.port,
        failed,
        close: () => {
          if (hangOnClose) return new Promise(() => {})
          entry.closed = true
          return Promise.resolve()
        },
      } as unknown as RunningNode
      started.push(entry)
      return entry.node
    },
  }
}

const MB = 1024 * 1024

function setup(free: { bytes: number }, gaveUp = { count: 0 }) {
  const clock = fakeClock()
  const log = recordingLogger()
  const starts = fakeStarts()
  const config = testConfig({ dataDir: '/nowhere', port: 0, minFreeMb: 64 })
  const run = () =>
    runNode(
      config,
      { clock, log, freeBytes: async () => free.bytes },
      {
        backoffMs: 1000,
        maxBackoffMs: 4000,
        closeTimeoutMs: 5000,
        maxAttempts: 3,
        onGiveUp: () => gaveUp.count++,
        start: (c) => starts.start(c),
      },
    )
  return { clock, log, starts, run }
}

test('a node whose store failed is closed and started again on the port it had', async () => {
  const s = setup({ bytes: 1000 * MB })
  const runner = await s.run()
  const [first] = s.starts.started
  first!.fail(new Error('Batch was not applied'))
  await s.clock.tick(0)
  assert.ok(first!.closed)
  assert.is(s.starts.started.length, 2)
  assert.is(s.starts.started[1]!.config.port, 4321, 'port 0 comes back on the port it got')
  assert.is(runner.node, s.starts.started[1]!.node)
  assert.is(runner.restarts, 1)
  assert.is(s.log.events('restarted').length, 1)
  assert.is(s.log.events('restarted')[0]!.fields.after, 'Batch was not applied', 'says after what')

  // And again, each time it fails.
  s.starts.started[1]!.fail(new Error('again'))
  await s.clock.tick(0)
  assert.is(runner.restarts, 2)
  await runner.close()
  assert.ok(s.starts.started[2]!.closed)
})

test('it waits for room on the disk, then retries a start that fails with a growing pause', async () => {
  const free = { bytes: 10 * MB }
  const s = setup(free)
  const runner = await s.run()
  s.starts.started[0]!.fail(new Error('No space left on device'))
  await s.clock.tick(0)
  assert.is(runner.node, null)
  assert.is(s.log.events('restart-waiting').length, 1, 'said once')
  await s.clock.tick(5000)
  assert.is(s.starts.started.length, 1, 'no start while the disk is under the reserve')

  free.bytes = 1000 * MB
  s.starts.refuseWith('cannot open the store')
  await s.clock.tick(4000)
  const failures = s.log.events('restart-failed').map((e) => e.fields.retryMs)
  assert.ok(failures.length >= 1)
  assert.ok(
    failures.every((ms) => (ms as number) <= 4000),
    'the pause is capped',
  )
  s.starts.refuseWith(null)
  await s.clock.tick(4000)
  assert.ok(runner.node, 'started at last')
  assert.is(runner.restarts, 1)
  await runner.close()
})

test('a failed node that hangs on close is left behind after the timeout, and the node starts again', async () => {
  const s = setup({ bytes: 1000 * MB })
  const runner = await s.run()
  s.starts.hangOnClose()
  s.starts.started[0]!.fail(new Error('boom'))
  await s.clock.tick(4999)
  assert.is(s.starts.started.length, 1, 'still waiting for the close')
  await s.clock.tick(1)
  assert.is(s.log.events('close-timed-out').length, 1)
  assert.is(s.starts.started.length, 2)
  assert.ok(runner.node)
})

test('after maxAttempts failed starts it gives up and says so; waiting for disk does not count', async () => {
  const free = { bytes: 0 }
  const gaveUp = { count: 0 }
  const s = setup(free, gaveUp)
  await s.run()
  s.starts.started[0]!.fail(new Error('boom'))
  await s.clock.tick(60_000)
  assert.is(gaveUp.count, 0, 'a minute waiting for disk is not a failure')
  free.bytes = 1000 * MB
  s.starts.refuseWith('cannot open')
  await s.clock.tick(60_000)
  assert.is(s.log.events('restart-failed').length, 3)
  assert.is(gaveUp.count, 1)
  assert.match(String(s.log.events('restart-gave-up')[0]?.fields.message), /3 times/)
})

test('closing while it waits stops the restarts', async () => {
  const s = setup({ bytes: 0 })
  const runner = await s.run()
  s.starts.started[0]!.fail(new Error('boom'))
  await s.clock.tick(0)
  await runner.close()
  await s.clock.tick(60_000)
  assert.is(s.starts.started.length, 1)
  assert.is(runner.node, null)
})

test('a restart that throws by itself (not a failed start) says so and gives up, rather than leave the node down', async () => {
  const gaveUp = { count: 0 }
  const s = setup({ bytes: 1000 * MB }, gaveUp)
  await s.run()
  const [first] = s.starts.started
  // A close that throws at once, where a rejection was expected: restarting stops there.
  first!.node.close = () => {
    throw new Error('close is not a function of a closed store')
  }
  first!.fail(new Error('Batch was not applied'))
  await s.clock.tick(0)
  const [line] = s.log.events('restart-aborted')
  assert.is(line?.fields.error, 'close is not a function of a closed store')
  assert.match(String(line?.fields.message), /giving up/)
  assert.is(gaveUp.count, 1)
  assert.is(s.starts.started.length, 1)
})

test.run()
