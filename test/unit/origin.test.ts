import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { originAllowed } from '../../src/web/origin.ts'

const here = { host: '127.0.0.1:4001', forwardedProto: undefined }

test('this node’s own origin passes only with the same scheme, host and port', () => {
  assert.ok(originAllowed('http://127.0.0.1:4001', here, []))
  assert.not.ok(originAllowed('https://127.0.0.1:4001', here, []), 'another scheme')
  assert.not.ok(originAllowed('http://127.0.0.1:4002', here, []), 'another port')
  assert.not.ok(originAllowed('http://localhost:4001', here, []), 'another host')
})

test('behind a TLS proxy the scheme is the one the proxy says', () => {
  const proxied = { host: 'downloads.example', forwardedProto: 'https' }
  assert.ok(originAllowed('https://downloads.example', proxied, []))
  assert.ok(originAllowed('https://downloads.example:443', proxied, []), 'default port')
  assert.not.ok(originAllowed('http://downloads.example', proxied, []))
})

test('members’ and allowed origins pass, compared whole', () => {
  const trusted = ['http://127.0.0.1:4002', 'https://lb.example/']
  assert.ok(originAllowed('http://127.0.0.1:4002', here, trusted))
  assert.ok(originAllowed('https://lb.example', here, trusted))
  assert.not.ok(originAllowed('http://lb.example', here, trusted))
  assert.not.ok(originAllowed('https://lb.example.evil.com', here, trusted))
})

test('no Origin (a script) passes; a malformed or non-web one does not', () => {
  assert.ok(originAllowed(undefined, here, []))
  for (const bad of ['not a url', 'null', 'file:///etc/passwd', 'ws://127.0.0.1:4001'])
    assert.not.ok(originAllowed(bad, here, []), bad)
})

test.run()
