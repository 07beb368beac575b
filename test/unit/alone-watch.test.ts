import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { watchAlone } from '../../src/cluster/alone-watch.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

const options = (
  met: () => boolean,
  knownBefore: string[] = [],
  more: { reached?: string[]; registry?: string | null } = {},
) => {
  const clock = fakeClock()
  const log = recordingLogger()
  const watch = watchAlone({
    met,
    secretFrom: '/root/.pdf-cluster/cluster-secret',
    bootstrap: [{ host: '127.0.0.1', port: 14000 }],
    registry: more.registry === undefined ? '/root/.pdf-cluster/nodes' : more.registry,
    knownBefore: () => knownBefore,
    reached: () => more.reached ?? [],
    dhtPort: 14004,
    clock,
    log,
  })
  watch.start()
  return { clock, log, stop: () => watch.stop(), watch }
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
    "none of the members this node knew before has answered yet (n1, n3): still looking; they may be down, stopping or starting, or, if this lasts while they are up, this node's secret or bootstrap is not theirs (changed since its last run?)",
  )
  // A restart may come with another secret (a tester's did): where it came from is named.
  assert.is(told!.fields.secret, '/root/.pdf-cluster/cluster-secret')
  assert.is(told!.fields.bootstrap, '127.0.0.1:14000')
})

test('a node whose bootstrap answers but that meets no member there says its secret is most likely not theirs', async () => {
  const { clock, log } = options(() => false, [], { reached: ['127.0.0.1:14000'] })
  await clock.tick(5000)
  const [told] = log.events('alone')
  assert.match(
    String(told!.fields.message),
    /the DHT at 127.0.0.1:14000 answers \(nodes are up there\), yet no node with this node's secret was found through it/,
  )
  assert.match(String(told!.fields.message), /if this node should join them, give it theirs/)
  assert.is(told!.fields.answering, '127.0.0.1:14000')
  // Restarted with another secret: said too.
  const again = options(() => false, ['n1'], { reached: ['127.0.0.1:14000'] })
  await again.clock.tick(5000)
  assert.match(
    String(again.log.events('alone')[0]!.fields.message),
    /n1\): the DHT at 127.0.0.1:14000 answers .* so far; they may be down, stopping or starting, or, if this lasts while they are up, this node's secret or bootstrap is not theirs/,
  )
})

test('a node whose --bootstrap does not answer says so, and where to look', async () => {
  const { clock, log } = options(() => false, [], { registry: null })
  await clock.tick(5000)
  assert.match(
    String(log.events('alone')[0]!.fields.message),
    /no DHT answers at 127.0.0.1:14000 \(--bootstrap\): check the addresses.*UDP to their DHT ports.*this node's, 14004/,
  )
})

test('a fresh node alone with an explicit --bootstrap is told to /healthz until it meets a member', async () => {
  let met = false
  const { clock, watch } = options(() => met, [], { registry: null, reached: ['10.0.0.1:14000'] })
  assert.is(watch.state(), null, 'not in its first seconds: members may still come')
  await clock.tick(5000)
  assert.equal(watch.state(), { answering: ['10.0.0.1:14000'] }, 'an island')
  met = true
  assert.is(watch.state(), null)
  // None answers: said too.
  const silent = options(() => false, [], { registry: null })
  await silent.clock.tick(5000)
  assert.equal(silent.watch.state(), { silent: ['127.0.0.1:14000'] })
  // The machine's registry lists the nodes of every cluster on it: not a sign of a mistake.
  const local = options(() => false, [], { reached: ['127.0.0.1:14000'] })
  await local.clock.tick(5000)
  assert.is(local.watch.state(), null)
  // A restarted node: whether it reaches its members is its quorum's to say.
  const restarted = options(() => false, ['n1'], { registry: null, reached: ['10.0.0.1:14000'] })
  await restarted.clock.tick(5000)
  assert.is(restarted.watch.state(), null)
})

test('the count starts once the node has started: a slow start is not time alone', async () => {
  const clock = fakeClock()
  const log = recordingLogger()
  const watch = watchAlone({
    met: () => false,
    secretFrom: 's',
    bootstrap: [{ host: '10.0.0.1', port: 14000 }],
    registry: null,
    dhtPort: 14004,
    clock,
    log,
  })
  await clock.tick(60_000)
  assert.equal(log.events('alone'), [])
  assert.is(watch.state(), null)
  watch.start()
  await clock.tick(5000)
  assert.is(log.events('alone').length, 1)
  watch.stop()
})

test.run()
