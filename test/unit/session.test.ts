import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Sessions, readCookie } from '../../src/web/session.ts'

const sessions = new Sessions('a-cluster-secret')

test('a cookie it issued verifies to the same user', () => {
  const { userId, setCookie } = sessions.issue()
  assert.match(setCookie, /HttpOnly/)
  assert.match(setCookie, /SameSite=Lax/)
  assert.match(setCookie, /Path=\//)
  const value = /^sid=([^;]+)/.exec(setCookie)?.[1]
  assert.is(sessions.verify(value), userId)
  assert.is(sessions.fromCookieHeader(`theme=dark; sid=${value}; other=1`), userId)
})

test('another node with the same secret accepts it; one with another secret does not', () => {
  const { userId } = sessions.issue()
  const value = sessions.sign(userId)
  assert.is(new Sessions('a-cluster-secret').verify(value), userId)
  assert.is(new Sessions('another-secret').verify(value), null)
})

test('a tampered cookie is rejected, never read as another user', () => {
  const a = sessions.issue().userId
  const b = sessions.issue().userId
  const signedA = sessions.sign(a)
  const sigA = signedA.slice(signedA.indexOf('.') + 1)
  assert.is(sessions.verify(`${b}.${sigA}`), null, 'signature of a with the id of b')
  const flipped = signedA.slice(0, -1) + (signedA.endsWith('A') ? 'B' : 'A')
  assert.is(sessions.verify(flipped), null, 'one character of the signature changed')
  assert.is(sessions.verify(a), null, 'unsigned')
  assert.is(sessions.verify(`${a}.`), null, 'empty signature')
  assert.is(sessions.verify(`../../etc.${sigA}`), null, 'not an id')
  assert.is(sessions.verify(''), null)
  assert.is(sessions.verify(undefined), null)
  assert.is(sessions.fromCookieHeader('garbage;;=;'), null)
})

test('cookie parsing picks the named cookie only', () => {
  assert.is(readCookie('a=1; sid=2; sidx=3', 'sid'), '2')
  assert.is(readCookie('sidx=3', 'sid'), undefined)
  assert.is(readCookie(undefined, 'sid'), undefined)
})

test('a ticket names its user on every node of the cluster until it expires, and no longer', () => {
  const userId = sessions.issue().userId
  const now = 1_700_000_000_000
  const { ticket, expiresAt } = sessions.ticket(userId, now)
  assert.is(expiresAt, now + 15 * 60_000)
  assert.is(new Sessions('a-cluster-secret').fromTicket(ticket, now + 60_000), userId)
  assert.is(new Sessions('another-secret').fromTicket(ticket, now), null)
  assert.is(sessions.fromTicket(ticket, expiresAt), null, 'expired')
  assert.is(
    sessions.fromTicket(sessions.ticket(userId, now + 40 * 60_000).ticket, now),
    null,
    'from a clock far ahead',
  )
  const [id, exp] = ticket.split('.')
  assert.is(
    sessions.fromTicket(`${id}.${Number(exp) + 60_000}.${ticket.split('.')[2]}`, now),
    null,
    'lengthened',
  )
  assert.is(sessions.fromTicket(sessions.sign(userId), now), null, 'a cookie is not a ticket')
  assert.is(sessions.verify(ticket), null, 'nor a ticket a cookie')
  for (const bad of [undefined, null, '', 'a.b', 'a.b.c.d', `${id}.soon.${ticket.split('.')[2]}`])
    assert.is(sessions.fromTicket(bad, now), null)
})

test('a request is its ticket’s user when it carries a valid one, else its cookie’s', () => {
  const now = 1_700_000_000_000
  const x = sessions.issue().userId
  const y = sessions.issue().userId
  const ticket = encodeURIComponent(sessions.ticket(x, now).ticket)
  const cookie = `sid=${sessions.sign(y)}`
  assert.equal(sessions.fromRequest(`/ws?ticket=${ticket}`, cookie, now), {
    userId: x,
    by: 'ticket',
  })
  assert.equal(sessions.fromRequest('/ws', cookie, now), { userId: y, by: 'cookie' })
  assert.equal(sessions.fromRequest('/ws?ticket=forged', cookie, now), { userId: y, by: 'cookie' })
  assert.is(sessions.fromRequest(`/ws?ticket=${ticket}`, undefined, now + 16 * 60_000), null)
})

test.run()
