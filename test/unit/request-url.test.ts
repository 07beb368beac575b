import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { requestUrl } from '../../src/web/request-url.ts'

test('a path is read as a path, also one that starts with two slashes', () => {
  assert.is(requestUrl('/ws?ticket=t')?.pathname, '/ws')
  assert.is(requestUrl('/ws?ticket=t')?.searchParams.get('ticket'), 't')
  assert.is(requestUrl('//example.com/ws')?.pathname, '//example.com/ws')
  assert.is(
    requestUrl('//a:b')?.pathname,
    '//a:b',
    'a host with a port that is no number, were it a host',
  )
  assert.is(requestUrl(undefined)?.pathname, '/')
})

test('an absolute target is read whole; one that does not parse is null, not a throw', () => {
  assert.is(requestUrl('http://node.example:3000/healthz')?.pathname, '/healthz')
  assert.is(requestUrl('http://a:b/ws'), null)
  assert.is(requestUrl('*'), null)
})

test.run()
