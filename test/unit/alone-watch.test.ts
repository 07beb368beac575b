import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { watchAlone } from '../../src/cluster/alone-watch.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const options = (met: () => boolean) => {
  const clock = fakeClock()
  const log = recordingLogger()
  const stop = watchAlone({
    met,
    secretFrom: '/root/.pdf-cluster/cluster-secret',
    bootstrap: [{ host: '127.0.0.1', port: 14000 }],
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

test.run()
