/**
 * Two real links (hyperswarm, UDX, the secret stream) between two transports on loopback: a
 * datagram is not held back by a stream queued behind megabytes, and what is too large for
 * one is refused rather than sent truncated.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SwarmTransport } from '../../src/cluster/swarm-transport.ts'
import type { Link } from '../../src/cluster/transport.ts'
import { eventually, freeUdpPorts } from '../helpers/cluster.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'

async function pair(): Promise<[SwarmTransport, SwarmTransport]> {
  const ports = await freeUdpPorts(2)
  const bootstrap = ports.map((port) => ({ host: '127.0.0.1', port }))
  const transports = ports.map(
    (dhtPort) =>
      new SwarmTransport({
        secret: 'swarm-transport-test',
        host: '127.0.0.1',
        dhtPort,
        bootstrap,
        registryDir: null,
        log: recordingLogger(),
      }),
  ) as [SwarmTransport, SwarmTransport]
  await Promise.all(transports.map((t) => t.start()))
  await eventually(
    () => transports.every((t) => t.links.size === 1),
    'the two transports link',
    15_000,
  )
  return transports
}

const linkOf = (t: SwarmTransport): Link => [...t.links][0]!

test('a datagram overtakes a stream queued behind 20 MB, and one too large is refused', async () => {
  const [a, b] = await pair()
  try {
    const arrivals: string[] = []
    const noise = 400
    let noiseSeen = 0
    b.on('message', (_link, m) => {
      const type = (m as { type?: string }).type
      if (type === 'noise' && ++noiseSeen === noise) arrivals.push('last noise')
      if (type === 'probe') arrivals.push('probe')
    })
    const link = linkOf(a)
    const filler = 'x'.repeat(50_000)
    for (let i = 0; i < noise; i++) link.send({ type: 'noise', filler })
    assert.ok(link.datagram({ type: 'probe' }), 'a small message goes as a datagram')
    await eventually(() => arrivals.length === 2, 'both arrive', 30_000)
    assert.equal(arrivals, ['probe', 'last noise'], 'the datagram is not queued behind the stream')

    assert.not.ok(
      link.datagram({ type: 'probe', filler: 'x'.repeat(2000) }),
      'a message over one packet is not sent as a datagram',
    )
  } finally {
    await Promise.all([a.close(), b.close()])
  }
})

test.run()
