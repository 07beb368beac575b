import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FileTransfer, WINDOW_BYTES } from '../../src/cluster/file-transfer.ts'
import { NoHolderError } from '../../src/store/file-fetch.ts'
import type { Link } from '../../src/cluster/transport.ts'
import type { DiskFileRef } from '../../src/store/record.ts'
import { MemoryTransport, connect } from '../helpers/memory-transport.ts'
import { fakeClock } from '../helpers/clock.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { tempDir } from '../helpers/node.ts'

/** A node: its transport, the files it holds (in a temp dir) and its transfer. */
async function node(name: string, clock = fakeClock()) {
  const dir = await tempDir()
  const held = new Set<string>()
  const transport = new MemoryTransport(name)
  const log = recordingLogger()
  const transfer = new FileTransfer(transport, {
    files: { pathOf: async (f) => (held.has(f) ? join(dir.path, f) : null) },
    clock,
    stallMs: 1000,
    log,
  })
  return {
    name,
    transport,
    transfer,
    log,
    dir,
    async hold(file: string, bytes: Buffer) {
      await writeFile(join(dir.path, file), bytes)
      held.add(file)
    },
  }
}
type Node = Awaited<ReturnType<typeof node>>

/** Links a and b, each end knowing the other's member id (as its first heartbeat tells). */
function link(a: Node, b: Node): () => void {
  const cut = connect(a.transport, b.transport)
  for (const l of a.transport.links) if (l.remoteKey === b.name) l.memberId = b.name
  for (const l of b.transport.links) if (l.remoteKey === a.name) l.memberId = a.name
  return cut
}

function refOf(name: string, maker: string, bytes: Buffer): DiskFileRef {
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  return { node: maker, name, byteLength: bytes.length, sha256 }
}

/** Fetches `ref` through `t`, gathering what is handed over. */
async function fetchAll(t: FileTransfer, ref: DiskFileRef, signal = new AbortController().signal) {
  const chunks: Buffer[] = []
  await t.fetch(ref, async (c) => void chunks.push(c), signal)
  return Buffer.concat(chunks)
}

test('a file larger than a window arrives whole from its maker, a window at a time', async () => {
  const [a, b] = [await node('a'), await node('b')]
  link(a, b)
  const bytes = randomBytes(2 * WINDOW_BYTES + 12_345)
  await b.hold('file-0000001', bytes)
  const wants: number[] = []
  b.transport.on('message', (_l, m) => {
    if ((m as { type: string }).type === 'file-want') wants.push((m as { from: number }).from)
  })
  const got = await fetchAll(a.transfer, refOf('file-0000001', 'b', bytes))
  assert.ok(got.equals(bytes))
  assert.equal(wants, [0, WINDOW_BYTES, 2 * WINDOW_BYTES], 'each window asked once it is written')
  await Promise.all([a.dir.remove(), b.dir.remove()])
})

test('a member that does not hold the file says so, and the next is asked; with no holder the fetch fails', async () => {
  const [a, b, c] = [await node('a'), await node('b'), await node('c')]
  link(a, b)
  link(a, c)
  const bytes = Buffer.from('%PDF-1.4 a copy')
  // Made by b, which has purged it since; c kept a copy.
  await c.hold('file-0000002', bytes)
  assert.ok((await fetchAll(a.transfer, refOf('file-0000002', 'b', bytes))).equals(bytes))
  const nowhere = refOf('file-0000003', 'b', bytes)
  try {
    await fetchAll(a.transfer, nowhere)
    assert.unreachable('nobody holds it')
  } catch (err) {
    assert.match((err as Error).message, /no node reachable holds the file/)
    assert.instance(err, NoHolderError, 'none holds it: not a failed copy')
  }
  await Promise.all([a.dir.remove(), b.dir.remove(), c.dir.remove()])
})

test('a copy cut off half-way goes on from where it stopped with the next holder', async () => {
  const [a, b, c] = [await node('a'), await node('b'), await node('c')]
  const cutB = link(a, b)
  link(a, c)
  const bytes = randomBytes(3 * WINDOW_BYTES)
  await b.hold('file-0000004', bytes)
  await c.hold('file-0000004', bytes)
  const wantsOfC: number[] = []
  c.transport.on('message', (_l, m) => {
    if ((m as { type: string }).type === 'file-want') wantsOfC.push((m as { from: number }).from)
  })
  const chunks: Buffer[] = []
  let handed = 0
  await a.transfer.fetch(
    refOf('file-0000004', 'b', bytes),
    async (chunk) => {
      chunks.push(chunk)
      handed += chunk.length
      // The maker dies half-way through the second window, its chunks still arriving.
      if (handed === WINDOW_BYTES + 3 * 64 * 1024) cutB()
    },
    new AbortController().signal,
  )
  assert.ok(Buffer.concat(chunks).equals(bytes), 'every byte once, in order')
  assert.is(
    wantsOfC[0],
    WINDOW_BYTES + 3 * 64 * 1024,
    'the next holder is asked from the exact byte where the maker stopped',
  )
  assert.ok(
    a.log.entries.some((e) => e.event === 'file-copy-interrupted'),
    'the interruption is logged',
  )
  await Promise.all([a.dir.remove(), b.dir.remove(), c.dir.remove()])
})

test('a holder that goes silent is left for the next once the stall time passes', async () => {
  const clock = fakeClock()
  const [a, b, c] = [await node('a', clock), await node('b', clock), await node('c', clock)]
  link(a, b)
  link(a, c)
  const bytes = Buffer.from('%PDF-1.4 stalled')
  await b.hold('file-0000005', bytes)
  await c.hold('file-0000005', bytes)
  b.transport.muted = true // stopped (SIGSTOP): its link stays open, nothing comes
  const fetched = fetchAll(a.transfer, refOf('file-0000005', 'b', bytes))
  await clock.tick(1000)
  assert.ok((await fetched).equals(bytes))
  await Promise.all([a.dir.remove(), b.dir.remove(), c.dir.remove()])
})

test('a want for a name that is not a file name gets nothing; a chunk from another link is dropped', async () => {
  const [a, b] = [await node('a'), await node('b')]
  link(a, b)
  await b.hold('file-0000006', Buffer.from('secret'))
  const answers: unknown[] = []
  a.transport.on('message', (_l, m) => answers.push(m))
  const toB = [...a.transport.links][0] as Link
  toB.send({ type: 'file-want', id: 1, name: '../../etc/passwd', from: 0, length: 10 })
  toB.send({ type: 'file-want', id: 2, name: 'file-0000006', from: -1, length: 10 })
  toB.send({ type: 'file-want', id: 3.5, name: 'file-0000006', from: 0, length: 10 })
  await new Promise((r) => setTimeout(r, 20))
  assert.equal(answers, [], 'malformed wants are ignored')
  // Chunks for an ask made of another link are dropped, not handed to the fetch.
  const c = await node('c')
  link(a, c)
  const ref = refOf('file-0000006', 'b', Buffer.from('secret'))
  const wants: number[] = []
  b.transport.on('message', (_l, m) => {
    const w = m as { type: string; id: number }
    if (w.type === 'file-want') wants.push(w.id)
  })
  const fetched = fetchAll(a.transfer, ref)
  await new Promise((r) => setImmediate(r))
  const cToA = [...c.transport.links].find((l) => l.remoteKey === 'a') as Link
  cToA.sendBytes({ type: 'file-part', id: wants[0], at: 0 }, Buffer.from('forged'))
  assert.is((await fetched).toString(), 'secret')
  await Promise.all([a.dir.remove(), b.dir.remove(), c.dir.remove()])
})

test.run()
