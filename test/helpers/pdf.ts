import * as assert from 'uvu/assert'

/** Checks the structure a PDF reader relies on: header, trailer, and a startxref that points at the xref table. */
export function assertValidPdf(bytes: Buffer): void {
  assert.ok(bytes.length > 500, `a PDF of ${bytes.length} bytes is too small`)
  assert.is(bytes.subarray(0, 5).toString('latin1'), '%PDF-')
  const tail = bytes.subarray(-64).toString('latin1')
  assert.match(tail, /%%EOF\s*$/)
  const offset = Number(/startxref\s+(\d+)\s+%%EOF/.exec(tail)?.[1])
  assert.ok(Number.isInteger(offset) && offset > 0 && offset < bytes.length, 'startxref offset')
  assert.is(bytes.subarray(offset, offset + 4).toString('latin1'), 'xref')
  assert.match(bytes.toString('latin1'), /\/Type \/Catalog/)
  assert.match(bytes.toString('latin1'), /\/Type \/Page\b/)
}
