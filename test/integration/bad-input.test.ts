import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { request } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Sessions } from '../../src/web/session.ts'
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { startTestNode, tempDir } from '../helpers/node.ts'
import { eventually } from '../helpers/cluster.ts'
import { offsetClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import type { RunningNode } from '../../src/node.ts'

let node: RunningNode
let dir: Awaited<ReturnType<typeof tempDir>>
let cookie: string

test.before(async () => {
  dir = await tempDir()
  node = await startTestNode({ name: 'n1', dataDir: dir.path, workMs: 300 })
  cookie = await sessionCookie(node.url)
})

test.after(async () => {
  await node.close()
  await dir.remove()
})

async function stillServing() {
  const res = await fetch(node.url + '/healthz')
  assert.is(res.status, 200)
  const client = await Client.connect(node.url, cookie)
  await client.next((m) => m.type === 'download')
  client.close()
}

/** Raw GET, so paths reach the server exactly as written (fetch would normalise them). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(node.url)
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, headers }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', reject)
    req.end()
  })
}

test('GET /healthz answers 200 with a small JSON body', async () => {
  const res = await fetch(node.url + '/healthz')
  assert.is(res.status, 200)
  const body = (await res.json()) as { ok: boolean; name: string }
  assert.is(body.ok, true)
  assert.is(body.name, 'n1')
})

test('the page sets a signed session cookie; a tampered one earns a fresh identity', async () => {
  const res = await fetch(node.url + '/')
  assert.is(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /text\/html/)
  assert.match(res.headers.get('set-cookie') ?? '', /^sid=[^;]+; Path=\/; HttpOnly; SameSite=Lax/)
  const again = await fetch(node.url + '/', { headers: { cookie } })
  assert.is(again.headers.get('set-cookie'), null, 'a valid cookie is kept')
  const tampered = cookie.slice(0, -2) + 'xx'
  const fresh = await fetch(node.url + '/', { headers: { cookie: tampered } })
  const issued = fresh.headers.get('set-cookie') ?? ''
  assert.ok(issued.startsWith('sid='))
  assert.is.not(issued.split(';')[0], cookie)
  assert.is.not(issued.split(';')[0]?.split('.')[0], cookie.split('.')[0], 'not the same user')
})

test('upgrades without a valid session, from a foreign origin, or to another path are refused', async () => {
  const refused = async (
    c: string,
    headers: Record<string, string>,
    status: number,
    path = '/ws',
  ) => {
    const err = await Client.connect(
      node.url + (path === '/ws' ? '' : path.replace('/ws', '')),
      c,
      headers,
    ).then(
      (client) => {
        client.close()
        return null
      },
      (e: Error) => e,
    )
    assert.ok(err, 'should be refused')
    assert.match(err.message, new RegExp(String(status)))
  }
  await refused('', {}, 401)
  await refused(cookie.slice(0, -3) + 'abc', {}, 401)
  await refused('sid=' + cookie.split('=')[1]!.split('.')[0], {}, 401)
  await refused(cookie, { origin: 'http://evil.example' }, 403)
  await refused(cookie, { origin: 'not a url' }, 403)
  const ok = await Client.connect(node.url, cookie, { origin: node.url })
  ok.close()
  await stillServing()
})

test('malformed JSON, unknown types and binary frames get an error and the socket stays open', async () => {
  const client = await Client.connect(node.url, cookie)
  await client.next((m) => m.type === 'download')
  for (const [frame, pattern] of [
    ['{not json', /Malformed JSON/],
    ['[1,2]', /JSON object/],
    ['null', /JSON object/],
    ['"request"', /JSON object/],
    ['{"type":"explode"}', /Unknown message type "explode"/],
    ['{}', /a JSON object with a "type": one of request, dismiss/],
    ['{"type":null}', /Unknown message type null/],
  ] as const) {
    client.send(frame)
    const m = await client.wait((x) => x.type === 'error')
    assert.match((m as { message: string }).message, pattern)
  }
  client.ws.send(Buffer.from([1, 2, 3]), { binary: true })
  assert.match(
    ((await client.wait((x) => x.type === 'error')) as { message: string }).message,
    /Binary/,
  )
  assert.is(client.ws.readyState, client.ws.OPEN)
  client.close()
  await stillServing()
})

test('an oversized frame closes that socket only', async () => {
  const client = await Client.connect(node.url, cookie)
  client.send(JSON.stringify({ type: 'request', pad: 'x'.repeat(100_000) }))
  const { code } = await client.closed
  assert.is(code, 1009)
  await stillServing()
})

test('unknown, foreign and path-trick downloads get 404', async () => {
  assert.is(await rawGet('/downloads/nope', { cookie }), 404)
  assert.is(await rawGet('/downloads/..%2F..%2Fpackage.json', { cookie }), 404)
  assert.is(await rawGet('/downloads/../../package.json', { cookie }), 404)
  assert.is(await rawGet('/downloads/%00', { cookie }), 404)
  assert.is(await rawGet('/downloads/%E0%A4%A', { cookie }), 404)
  assert.is(await rawGet('/../package.json'), 404)
  assert.is(await rawGet('/..%2Fpackage.json'), 404)

  const client = await Client.connect(node.url, cookie)
  client.send({ type: 'request' })
  const ready = await client.download((d) => d?.state === 'ready')
  client.close()
  assert.is(await rawGet(ready!.fileUrl, { cookie }), 200)
  assert.is(await rawGet(ready!.fileUrl), 404, 'no session')
  const stranger = await sessionCookie(node.url)
  assert.is(await rawGet(ready!.fileUrl, { cookie: stranger }), 404, "another user's file")
  await stillServing()
})

test('a file past its retention gets 404, on a node whose clock has moved past it', async () => {
  const clock = offsetClock()
  const other = await tempDir()
  const n = await startTestNode(
    { name: 'n2', dataDir: other.path, workMs: 300, retentionMs: 60_000 },
    { clock },
  )
  try {
    const me = await sessionCookie(n.url)
    const client = await Client.connect(n.url, me)
    client.send({ type: 'request' })
    const ready = await client.download((d) => d?.state === 'ready')
    const url = n.url + ready!.fileUrl
    assert.is((await fetch(url, { method: 'HEAD', headers: { cookie: me } })).status, 200)
    clock.advance(59_000)
    assert.is((await fetch(url, { method: 'HEAD', headers: { cookie: me } })).status, 200)
    clock.advance(1_000)
    assert.is((await fetch(url, { method: 'HEAD', headers: { cookie: me } })).status, 404)
    await client.seen((d) => d === null, 5000, 'the page told the download is gone')
    client.close()
  } finally {
    await n.close()
    await other.remove()
  }
})

test('a dismiss sent right after a request cancels it; a dismiss with nothing to dismiss is answered', async () => {
  const mine = await sessionCookie(node.url)
  const userId = mine.slice('sid='.length).split('.')[0]!
  const client = await Client.connect(node.url, mine)
  await client.next((m) => m.type === 'download')
  client.send({ type: 'dismiss' })
  assert.equal(await client.wait((m) => m.type === 'download'), {
    type: 'download',
    download: null,
  })
  client.send({ type: 'request' })
  client.send({ type: 'dismiss' })
  await client.download((d) => d === null, 5000, 'the download dismissed')
  // Nothing can write the record again once no worker runs: the last word stays "none".
  await eventually(
    () => node.manager.running === 0 && node.manager.current(userId) === null,
    'the worker stopped',
  )
  const last = client.messages.at(-1)
  assert.equal(last, { type: 'download', download: null }, 'it stays dismissed')
  client.close()
})

test('other methods get 405', async () => {
  const res = await fetch(node.url + '/', { method: 'POST', body: 'x' })
  assert.is(res.status, 405)
})

test('without --secret no cookie can be forged: the old public development secret signs nothing', async () => {
  const home = await tempDir()
  const data = await tempDir()
  process.env.PDF_CLUSTER_HOME = home.path
  const n = await startTestNode({ name: 'n3', dataDir: data.path, secret: null })
  try {
    const forged = `sid=${new Sessions('pdf-cluster-development-secret').sign('someone-elses-id00000')}`
    const refused = await Client.connect(n.url, forged).then(
      (c) => (c.close(), null),
      (err: Error) => err,
    )
    assert.match(refused?.message ?? '', /401/)
    const page = await fetch(n.url + '/', { headers: { cookie: forged } })
    assert.ok(page.headers.get('set-cookie'), 'the forged identity is replaced by a fresh one')
    const secret = (await readFile(join(home.path, 'cluster-secret'), 'utf8')).trim()
    const genuine = `sid=${new Sessions(secret).sign('someone-elses-id00000')}`
    const ok = await Client.connect(n.url, genuine)
    ok.close()
  } finally {
    delete process.env.PDF_CLUSTER_HOME
    await n.close()
    await data.remove()
    await home.remove()
  }
})

test('a socket flooding requests and dismissals costs a bounded number of writes and workers', async () => {
  const data = await tempDir()
  const log = recordingLogger()
  const n = await startTestNode({ name: 'n4', dataDir: data.path, workMs: 2000 }, { log })
  try {
    const cookie = await sessionCookie(n.url)
    const flood = await Client.connect(n.url, cookie)
    await flood.next((m) => m.type === 'download')
    for (let i = 0; i < 3000; i++) flood.send({ type: i % 2 === 0 ? 'request' : 'dismiss' })
    const { code } = await flood.closed
    assert.is(code, 1008, 'the flooding socket is closed')
    const errors = flood.messages.filter((m) => m.type === 'error').map((m) => m.message)
    assert.ok(errors.includes('Too many messages; slow down.'))
    // The limit is the user's, not the socket's: a new socket of the same user is served, and
    // its actions meet the allowance the flood used up.
    const calm = await Client.connect(n.url, cookie)
    await calm.next((m) => m.type === 'download')
    let refusal: string | null = null
    for (let i = 0; i < 12 && refusal === null; i++) {
      calm.send({ type: 'dismiss' })
      const answer = await calm.wait((m) => m.type === 'error' || m.type === 'download')
      if (answer.type === 'error' && /^Too many requests and dismissals/.test(answer.message)) {
        refusal = answer.message
        assert.is(answer.code, 'too-many-actions', 'a script tells the refusal by its code')
      }
    }
    assert.match(refusal ?? '', /^Too many requests and dismissals; try again in \d+ s\.$/)
    const requests = log.events('request').length
    const dismissals = log.events('dismiss').length
    assert.ok(requests + dismissals <= 12, `${requests} requests, ${dismissals} dismissals`)
    assert.ok(log.events('start').length <= 6, `${log.events('start').length} workers started`)
    calm.close()
  } finally {
    await n.close()
    await data.remove()
  }
})

test.run()
