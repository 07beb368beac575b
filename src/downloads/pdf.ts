/** Renders the report PDF that the default generator produces. */
import { newDocument } from './pdf-fonts.ts'

export interface ReportFields {
  id: string
  userId: string
  requestedAt: number
  startedAt: number
  finishedAt: number
  workMs: number
  /** Nodes that worked on it, in order, with the progress each one started from. */
  attempts: string
}

const FONTS = ['Helvetica', 'Helvetica-Bold']

/** `shareFonts: false` (tests) makes the document PDFKit's own way; see pdf-fonts.ts. */
export function renderReport(f: ReportFields, o: { shareFonts?: boolean } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const options = {
      size: 'A4',
      margin: 56,
      info: {
        Title: `Download report ${f.id}`,
        Author: 'pdf-cluster',
        Subject: `User ${f.userId}`,
      },
    }
    const doc = newDocument(options, FONTS, o.shareFonts !== false)
    const chunks: Buffer[] = []
    doc.on('data', (c: Buffer) => chunks.push(c))
    doc.on('end', () => resolve(Buffer.concat(chunks)))
    doc.on('error', reject)

    doc.font('Helvetica-Bold').fontSize(22).fillColor('#1f2937').text('Download report')
    doc.moveDown(0.3)
    doc.font('Helvetica').fontSize(11).fillColor('#6b7280')
    doc.text('Generated in the background by a pdf-cluster node.')
    doc.moveDown(1.2)

    const rows: [string, string][] = [
      ['Download', f.id],
      ['User', f.userId],
      ['Requested', iso(f.requestedAt)],
      ['Started', iso(f.startedAt)],
      ['Finished', iso(f.finishedAt)],
      ['Work time', `${(f.workMs / 1000).toFixed(1)} s`],
      ['Worked on by', f.attempts],
    ]
    for (const [label, value] of rows) {
      const y = doc.y
      doc
        .font('Helvetica-Bold')
        .fontSize(11)
        .fillColor('#374151')
        .text(label, 56, y, { width: 120 })
      doc.font('Helvetica').fillColor('#111827').text(value, 180, y, { width: 360 })
      doc.moveDown(0.6)
    }
    doc.end()
  })
}

function iso(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, ' UTC')
}
