import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isContentType, parseDownload, safeFileName } from '../../src/store/record.ts'
import { FILE_REF, download } from '../helpers/records.ts'

const ref = FILE_REF

test('a ready record written by an earlier version (fileUrl, no file name) still reads', () => {
  const legacy = {
    ...download({ id: 'old1', state: 'ready', progress: 100 }),
    fileUrl: '/downloads/old1',
    file: ref,
  }
  const d = parseDownload(JSON.parse(JSON.stringify(legacy)))
  assert.ok(d, 'not dropped')
  assert.equal(d.file, { ...ref, filename: 'report-old1.pdf', contentType: 'application/pdf' })
  assert.not.ok('fileUrl' in d, 'the route is not part of the record any more')
})

test('a record written before parameters and retries reads as {} on its first and only attempt', () => {
  const { params: _p, attempt: _a, attempts: _n, retryAt: _r, ...before } = download({ id: 'v2' })
  const d = parseDownload(JSON.parse(JSON.stringify(before)))
  assert.ok(d)
  assert.equal([d.params, d.attempt, d.attempts, d.retryAt], [{}, 1, 1, null])
})

test('a record with parameters past 2 KiB, or attempts that are not counts, is refused', () => {
  assert.is(parseDownload(download({ params: { s: 'x'.repeat(2100) } })), null)
  assert.is(parseDownload({ ...download(), params: [] }), null)
  assert.is(parseDownload(download({ attempt: 0 })), null)
  assert.is(parseDownload(download({ attempts: 1.5 })), null)
  assert.is(parseDownload({ ...download(), retryAt: 'soon' }), null)
  assert.ok(
    parseDownload(download({ params: { month: '2026-03' }, attempt: 2, attempts: 3, retryAt: 5 })),
  )
})

test('a record whose file name or content type could not be served is refused', () => {
  const withFile = (file: object) => parseDownload({ ...download(), file: { ...ref, ...file } })
  assert.ok(withFile({ filename: 'march.csv', contentType: 'text/csv; charset="utf-8"' }))
  assert.is(withFile({ filename: '../etc/passwd', contentType: 'text/plain' }), null)
  assert.is(withFile({ filename: 'a.txt', contentType: 'text/plain\r\nx-evil: 1' }), null)
  assert.is(withFile({ filename: 'x'.repeat(201), contentType: 'text/plain' }), null)
})

test('safeFileName keeps a good name and mends any other', () => {
  assert.is(safeFileName('Invoices März 2026.csv'), 'Invoices März 2026.csv')
  assert.is(safeFileName('Q3 "final".pdf'), 'Q3 _final_.pdf')
  assert.is(safeFileName('../../etc/passwd'), '.._.._etc_passwd')
  assert.is(safeFileName('a\r\nb.txt'), 'a__b.txt')
  assert.is(safeFileName('   '), 'download')
  const long = safeFileName('x'.repeat(500) + '.pdf')
  assert.is(long.length, 200)
  assert.ok(long.endsWith('.pdf'), 'the extension is kept')
})

test('isContentType takes media types with parameters, and nothing a header could not carry', () => {
  for (const ok of ['application/pdf', 'text/csv; charset=utf-8', 'text/csv;charset="utf-8"'])
    assert.ok(isContentType(ok), ok)
  for (const bad of [
    'pdf',
    'text/',
    'text/csv; charset',
    'a/b\nc: d',
    '',
    `text/${'x'.repeat(300)}`,
  ])
    assert.not.ok(isContentType(bad), bad)
})

test.run()
