import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isOwnAddress } from '../../src/cluster/bootstrap-prober.ts'

test("a node's own DHT is left out of the nodes it pings, however its --bootstrap names it", () => {
  const local = new Set(['127.0.0.1', '10.0.0.1', '::1'])
  const own = (host: string, port: number, boundTo: string) =>
    isOwnAddress({ host, port }, boundTo, 14000, local)
  assert.ok(own('127.0.0.1', 14000, '127.0.0.1'))
  assert.ok(own('localhost', 14000, '127.0.0.1'))
  assert.not.ok(own('127.0.0.1', 14001, '127.0.0.1'), 'another node of this machine')
  // Bound to every address (a container's --host 0.0.0.0): any of them is this node's.
  assert.ok(own('127.0.0.1', 14000, '0.0.0.0'))
  assert.ok(own('10.0.0.1', 14000, '0.0.0.0'))
  assert.not.ok(own('10.0.0.2', 14000, '0.0.0.0'), 'another machine')
  // Bound to one address: another address of the machine is another node's.
  assert.not.ok(own('10.0.0.1', 14000, '127.0.0.1'))
  assert.ok(own('10.0.0.1', 14000, '10.0.0.1'))
})

test.run()
