import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { renderReport, type ReportFields } from '../../src/downloads/pdf.ts'
import { newDocument } from '../../src/downloads/pdf-fonts.ts'
import { assertValidPdf } from '../helpers/pdf.ts'

const fields: ReportFields = {
  id: 'dl_4f9a',
  userId: 'user_1',
  requestedAt: 1_700_000_000_000,
  startedAt: 1_700_000_000_120,
  finishedAt: 1_700_000_003_500,
  workMs: 3000,
  attempts: 'n1 from 0%, n2 from 40%',
}

/**
 * The bytes but for what differs between any two renders: the creation date (an object of its
 * own, `(D:20261204121918Z)`, which differs when the two renders fall in different seconds) and
 * the file id.
 */
const stable = (pdf: Buffer) =>
  pdf
    .toString('latin1')
    .replace(/\(D:\d{14}Z\)/g, '')
    .replace(/\/ID \[<[0-9a-f]+> <[0-9a-f]+>\]/, '')

test('a report with lent fonts is byte for byte the report PDFKit makes its own way', async () => {
  const own = await renderReport(fields, { shareFonts: false })
  // Twice: the second borrows fonts the first built.
  for (let i = 0; i < 2; i++) {
    const lent = await renderReport(fields)
    assertValidPdf(lent)
    assert.is(stable(lent), stable(own))
  }
})

test('each document gets its own font objects, the tables under them shared', () => {
  const fonts = ['Helvetica', 'Helvetica-Bold']
  const a = newDocument({}, fonts) as any
  const b = newDocument({}, fonts) as any
  for (const name of fonts) {
    assert.is.not(a._fontFamilies[name], b._fontFamilies[name])
    assert.is(a._fontFamilies[name].document, a)
    assert.is(a._fontFamilies[name].font, b._fontFamilies[name].font)
  }
  assert.is(a._font, a._fontFamilies.Helvetica, 'the first font is the default')
  assert.equal(
    fonts.map((n) => a._fontFamilies[n].id),
    ['F1', 'F2'],
  )
})

test('a document written with lent fonts can be ended with a font never used', async () => {
  const doc = newDocument({}, ['Helvetica', 'Courier'])
  const chunks: Buffer[] = []
  doc.on('data', (c: Buffer) => chunks.push(c))
  const ended = new Promise((r) => doc.on('end', r))
  doc.text('only Helvetica')
  doc.end()
  await ended
  const pdf = Buffer.concat(chunks)
  assertValidPdf(pdf)
  assert.match(pdf.toString('latin1'), /\/BaseFont \/Helvetica/)
  assert.not.match(pdf.toString('latin1'), /\/BaseFont \/Courier/)
})

test.run()
