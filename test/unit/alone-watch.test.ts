import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { watchAlone } from '../../src/cluster/alone-watch.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const options = (met: () => boolean, knownBefore: string[] = []) => {
  const clock = fakeClock()
  const log = recordingLogger()
  const stop = watchAlone({
    met,
    secretFrom: '/root/.pdf-cluster/cluster-secret',
    bootstrap: [{ host: '127.0.0.1', port: 14000 }],
    registry: '/root/.pdf-cluster/nodes',
    knownBefore: () => knownBefore,
    dhtPort: 14004,
    clock,
    log,
  })
  return { clock, log, stop }
}

test('a node that met nobody in five seconds says so once, with what to check', async () => {
  const { clock, log } = options(() => false)
  await clock.tick(4999)
  assert.equal(log.events('alone'), [])
  await clock.tick(1)
  const [told, ...more] = log.events('alone')
  assert.equal(more, [])
  assert.is(told!.level, 'warn')
  assert.match(String(told!.fields.message), /same secret.*--bootstrap.*DHT ports/)
  assert.is(told!.fields.bootstrap, '127.0.0.1:14000')
  assert.is(told!.fields.secret, '/root/.pdf-cluster/cluster-secret')
  assert.is(told!.fields.registry, '/root/.pdf-cluster/nodes', 'where else it looked')
  await clock.tick(60_000)
  assert.is(log.events('alone').length, 1)
})

test('a node that met another, or stopped, says nothing', async () => {
  const met = options(() => true)
  await met.clock.tick(10_000)
  assert.equal(met.log.events('alone'), [])
  const stopped = options(() => false)
  stopped.stop()
  await stopped.clock.tick(10_000)
  assert.equal(stopped.log.events('alone'), [])
})

test('a restarted node that has not met its members yet says whom it waits for, and which secret and bootstrap it uses', async () => {
  const { clock, log } = options(() => false, ['n1', 'n3'])
  await clock.tick(5000)
  const [told] = log.events('alone')
  assert.is(
    told!.fields.message,
    "none of the members this node knew before has answered yet (n1, n3): still looking; they may be down, or, if they are up, this node's secret or bootstrap is not theirs (changed since its last run?)",
  )
  // A restart may come with another secret (a tester's did): where it came from is named.
  assert.is(told!.fields.secret, '/root/.pdf-cluster/cluster-secret')
  assert.is(told!.fields.bootstrap, '127.0.0.1:14000')
})

test.run()
