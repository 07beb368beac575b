import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseClientMessage, toPublic } from '../../src/web/protocol.ts'
import type { DownloadView } from '../../src/downloads/service.ts'
import { FILE_REF, download } from '../helpers/records.ts'

const README_FIELDS = [
  'id',
  'userId',
  'state',
  'progress',
  'fileUrl',
  'error',
  'params',
  'attempt',
  'attempts',
  'retryAt',
  'owner',
  'ownerName',
  'epoch',
  'createdAt',
  'updatedAt',
  'finishedAt',
  'expiresAt',
].sort()

test('a client is sent the README’s fields and nothing else, whatever the record carries', () => {
  const internal = {
    ...download({ checkpoint: { secretOffset: 42 } }),
    leaseHolder: 'a new internal field',
  } as DownloadView
  const sent = toPublic(internal)!
  assert.equal(Object.keys(sent).sort(), README_FIELDS)
  assert.not.ok(JSON.stringify(sent).includes('secretOffset'))
})

test('fileUrl is the download route once the file is ready, and null before', () => {
  const file = {
    ...FILE_REF,
    filename: 'r.pdf',
    contentType: 'application/pdf',
  }
  assert.is(toPublic(download({ id: 'x1', state: 'processing' }))!.fileUrl, null)
  assert.is(toPublic(download({ id: 'x2', state: 'ready', file }))!.fileUrl, '/downloads/x2')
})

test('progressAt is sent while a tick is ahead of the checkpoint', () => {
  const view: DownloadView = { ...download({ state: 'processing' }), progressAt: 1234 }
  assert.is(toPublic(view)!.progressAt, 1234)
  assert.not.ok('progressAt' in toPublic(download())!)
  assert.is(toPublic(null), null)
})

test('a request carries a JSON object of parameters of at most 2 KiB, or none', () => {
  const parse = (v: unknown) => parseClientMessage(Buffer.from(JSON.stringify(v)), false)
  assert.equal(parse({ type: 'request' }), { ok: true, message: { type: 'request', params: {} } })
  assert.equal(parse({ type: 'request', params: { month: '2026-03', n: [1, 2] } }), {
    ok: true,
    message: { type: 'request', params: { month: '2026-03', n: [1, 2] } },
  })
  for (const params of [null, 'x', 3, [1]])
    assert.equal(parse({ type: 'request', params }), {
      ok: false,
      error: '"params" must be a JSON object.',
    })
  const big = parse({ type: 'request', params: { s: 'x'.repeat(2048) } })
  assert.equal(big, {
    ok: false,
    error: '"params" is 2056 bytes as JSON; at most 2048 are accepted.',
  })
  assert.ok(parse({ type: 'request', params: { s: 'x'.repeat(2040) } }).ok)
})

test.run()
