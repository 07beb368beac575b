/**
 * PDFKit's standard fonts, built once per process instead of once per document.
 *
 * PDFKit (0.20) builds a standard font's glyph-width and kerning tables (its AFMFont) in
 * every document that selects the font: about 2,700 kerning pairs keyed by string, 0.7 of the
 * 1.3 ms a report took, and the report is the one thing every download renders. The tables are only
 * read once built, so a document here borrows them: each gets its own font object (a PDF
 * font belongs to one document: its id and the reference it is written under), lent the
 * shared tables, put where PDFKit looks first when a font is selected.
 *
 * That leans on PDFKit's internals: the document's `_fontFamilies` and `_fontCount`, and a
 * standard font's own fields. The first document checks that they are the ones this was
 * written against; if a PDFKit release changes them, documents are made PDFKit's own way
 * (slower, never wrong), and the unit test, which compares the bytes of both ways, fails.
 */
import PDFDocument from 'pdfkit'

type Doc = PDFKit.PDFDocument
type Options = PDFKit.PDFDocumentOptions

/** A standard font's own fields in PDFKit 0.20, per document: `document`, `id`; shared: the rest. */
const FIELDS = [
  'document',
  'name',
  'id',
  'font',
  'ascender',
  'descender',
  'bbox',
  'lineGap',
  'xHeight',
  'capHeight',
].sort()

interface Internals {
  _fontFamilies: Record<string, object>
  _fontCount: number
  _font: object | null
}

/** Fonts built once, by name; null once PDFKit is found not to be as expected. */
let built: Map<string, object> | null = new Map()

/** The font PDFKit builds for `name`, made in a document of its own and never written to. */
function build(name: string): object | null {
  const doc = new PDFDocument({ font: name }) as unknown as Partial<Internals>
  const font = doc._font as Record<string, unknown> | null | undefined
  const shaped =
    typeof doc._fontCount === 'number' &&
    typeof doc._fontFamilies === 'object' &&
    font != null &&
    typeof font.font === 'object' &&
    Object.keys(font).sort().join() === FIELDS.join()
  return shaped ? font : null
}

/**
 * A new document whose fonts (standard PDF fonts, the first the default) are lent rather than
 * built; otherwise, and with `share` false, the same as `new PDFDocument({ ...options, font })`.
 */
export function newDocument(options: Options, fonts: readonly string[], share = true): Doc {
  const plain = () => new PDFDocument({ ...options, font: fonts[0] })
  if (!built || !share) return plain()
  const made: object[] = []
  for (const name of fonts) {
    let font = built.get(name)
    if (!font) {
      const fresh = build(name)
      if (!fresh) {
        built = null
        return plain()
      }
      built.set(name, (font = fresh))
    }
    made.push(font)
  }
  // No default font: PDFKit would build it before anything could be lent.
  const doc = new PDFDocument({ ...options, font: '' })
  const own = doc as unknown as Internals
  made.forEach((font, i) => {
    own._fontFamilies[fonts[i]!] = Object.assign(Object.create(Object.getPrototypeOf(font)), font, {
      document: doc,
      id: `F${++own._fontCount}`,
    })
  })
  if (fonts[0]) doc.font(fonts[0])
  return doc
}
