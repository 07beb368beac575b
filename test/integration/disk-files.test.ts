import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import { readdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { DiskFileStore, type FilePeers } from '../../src/store/disk-files.ts'
import Corestore from 'corestore'
import { BlobFileStore, SourceStreamError } from '../../src/store/file-store.ts'
import type { DiskFileRef } from '../../src/store/record.ts'
import { fakeClock } from '../helpers/clock.ts'
import { tempDir } from '../helpers/node.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { NoHolderError } from '../../src/store/file-fetch.ts'

const read = async (s: Readable) => {
  const chunks: Buffer[] = []
  for await (const c of s) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

let made = 0
/** A file another node made, named as nanoid would. */
function peerRef(bytes: Buffer): DiskFileRef {
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  return { node: 'other', name: `peerfile-${++made}-xyz`, byteLength: bytes.length, sha256 }
}

/** Waits for what the store does on the disk meanwhile (a second at most). */
async function until(ok: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await ok()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  assert.unreachable(`never: ${what}`)
}

/** A store in a fresh directory; `peers` hold what `held` says, handed over in small chunks. */
async function store(o: { clock?: ReturnType<typeof fakeClock>; fetchTimeoutMs?: number } = {}) {
  const dir = await tempDir()
  const log = recordingLogger()
  const held = new Map<string, Buffer>()
  let gate: Promise<void> = Promise.resolve()
  let stalled = false
  const asked: string[] = []
  const peers: FilePeers = {
    async fetch(ref, write, signal) {
      asked.push(ref.name)
      const bytes = held.get(ref.name)
      if (!bytes) throw new NoHolderError()
      if (stalled)
        await new Promise((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason as Error)),
        )
      for (let at = 0; at < bytes.length; at += 4) {
        signal.throwIfAborted()
        await write(bytes.subarray(at, at + 4))
        // As FileTransfer does: an abort ends the fetch at once.
        await Promise.race([
          gate,
          new Promise((_, reject) =>
            signal.addEventListener('abort', () => reject(signal.reason as Error)),
          ),
        ])
      }
    },
  }
  const files = new DiskFileStore({ dir: dir.path, self: 'me', log, ...o })
  await files.ready()
  files.attach(peers)
  return {
    files,
    dir,
    log,
    held,
    asked,
    /** The peers send nothing at all until aborted (a holder that went silent). */
    stall() {
      gate = new Promise(() => {})
      stalled = true
    },
    /** Holds the peers' chunks after the first until `release` is called. */
    hold() {
      let release!: () => void
      gate = new Promise((r) => (release = r))
      return () => release()
    },
  }
}

test('a file put is whole under its name, served back with its ranges, and gone once removed', async () => {
  const s = await store()
  try {
    const bytes = Buffer.from('%PDF-1.4 ' + 'x'.repeat(100_000))
    const ref = await s.files.put(bytes)
    assert.is(ref.node, 'me')
    assert.is(ref.byteLength, bytes.length)
    assert.match(ref.sha256, /^[0-9a-f]{64}$/)
    assert.equal(await readdir(s.dir.path), [ref.name], 'no part left beside it')
    const file = (await s.files.open(ref))!
    assert.ok((await read(file.stream())).equals(bytes))
    assert.is((await read(file.stream({ start: 2, end: 5 }))).toString(), 'DF-1')
    assert.ok(await s.files.holds(ref))
    await s.files.remove(ref)
    assert.not.ok(await s.files.holds(ref))
    assert.equal(await readdir(s.dir.path), [], 'its disk is back')
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a stream that fails is the job’s failure and leaves nothing on the disk', async () => {
  const s = await store()
  try {
    const broken = Readable.from(
      (async function* () {
        yield Buffer.from('half')
        throw new Error('the job broke')
      })(),
    )
    try {
      await s.files.putStream(broken)
      assert.unreachable('it fails')
    } catch (err) {
      assert.instance(err, SourceStreamError)
      assert.match((err as Error).message, /the job broke/)
    }
    assert.equal(await readdir(s.dir.path), [])
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a dismissal while the job’s stream waits for bytes ends the write and leaves nothing', async () => {
  const s = await store()
  try {
    const waiting = Readable.from(
      (async function* () {
        yield Buffer.from('half')
        await new Promise(() => {}) // the job never sends more
      })(),
    )
    const dismissed = new AbortController()
    const put = s.files.putStream(waiting, dismissed.signal).then(
      () => null,
      (err: Error) => err,
    )
    await until(async () => (await readdir(s.dir.path)).length > 0, 'the part is written')
    dismissed.abort(new Error('dismissed'))
    assert.is((await put)?.message, 'dismissed')
    assert.equal(await readdir(s.dir.path), [], 'no part left')
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a peer’s file is served as it arrives, and kept whole once it has', async () => {
  const s = await store()
  try {
    const bytes = Buffer.from('%PDF-1.4 made by a peer')
    const peer = peerRef(bytes)
    const ref = peer
    s.held.set(ref.name, bytes)
    const release = s.hold()
    const file = (await s.files.open(peer))!
    assert.ok(file, 'served once the first bytes are here')
    assert.not.ok(await s.files.holds(peer), 'not whole yet')
    const served = read(file.stream())
    release()
    assert.ok((await served).equals(bytes))
    // The copy settles just after its last chunk.
    for (let i = 0; i < 50 && !(await s.files.holds(peer)); i++)
      await new Promise((r) => setTimeout(r, 5))
    assert.ok(await s.files.holds(peer), 'whole, under its name')
    assert.equal(await readdir(s.dir.path), [ref.name])
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a copy whose bytes do not match its record is thrown away', async () => {
  const s = await store()
  try {
    const peer = peerRef(Buffer.from('the real bytes'))
    const ref = peer
    s.held.set(ref.name, Buffer.from('forged  bytes!'))
    const release = s.hold()
    const file = (await s.files.open(peer))!
    release()
    try {
      await read(file.stream())
      assert.unreachable('the stream fails')
    } catch (err) {
      assert.match((err as Error).message, /do not match/, (err as Error).message)
    }
    assert.not.ok(await s.files.holds(peer))
    assert.equal(await readdir(s.dir.path), [], 'nothing kept')
    assert.equal(
      s.log.events('file-copy-failed').map((e) => e.fields.file),
      [peer.name],
      'said',
    )
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a file no peer holds answers null within the timeout; a prefetch keeps trying until one does', async () => {
  const clock = fakeClock()
  const s = await store({ clock, fetchTimeoutMs: 200 })
  try {
    const peer = peerRef(Buffer.from('%PDF-1.4 later'))
    const ref = peer
    assert.is(await s.files.open(peer), null)
    assert.is(s.asked.length, 1)
    s.files.prefetch(peer)
    await until(() => s.asked.length === 2, 'the copy asked once')
    // The next try's timer is set once the failed one has settled (on the disk, in real
    // time): the clock moves on in small steps until it has fired.
    const started = clock.now()
    await until(async () => {
      await clock.tick(250)
      return s.asked.length === 3
    }, 'and again')
    assert.ok(clock.now() - started >= 2000, 'two seconds later')
    assert.not.ok(await s.files.holds(peer))
    // Its maker is back.
    s.held.set(ref.name, Buffer.from('%PDF-1.4 later'))
    await until(async () => {
      await clock.tick(250)
      return s.files.holds(peer)
    }, 'copied once a holder answered')
    // No holder yet is not a failed copy (a node just started, its maker down): not logged.
    assert.equal(s.log.events('file-copy-failed'), [])
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a file cut short under its name is not served as held: it is fetched again', async () => {
  const s = await store()
  try {
    const bytes = Buffer.from('%PDF-1.4 whole')
    const ref = await s.files.put(bytes)
    await writeFile(join(s.dir.path, ref.name), '') // what a power cut may leave
    assert.not.ok(await s.files.holds(ref))
    s.held.set(ref.name, bytes)
    const file = (await s.files.open(ref))!
    assert.ok((await read(file.stream())).equals(bytes))
    await until(() => s.files.holds(ref), 'whole again')
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a file removed while it is being copied leaves nothing, and no copy brings it back', async () => {
  const s = await store()
  try {
    const bytes = Buffer.from('%PDF-1.4 purged while copied')
    const peer = peerRef(bytes)
    s.held.set(peer.name, bytes)
    const release = s.hold()
    const file = (await s.files.open(peer))!
    const served = read(file.stream()).then(
      () => 'complete',
      () => 'failed',
    )
    await s.files.remove(peer)
    release()
    assert.is(await served, 'failed', 'the response does not complete')
    s.files.prefetch(peer)
    assert.is(await s.files.open(peer), null, 'not fetched again')
    await new Promise((r) => setTimeout(r, 20))
    assert.equal(await readdir(s.dir.path), [], 'neither the file nor its part')
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a request for a file whose holder sends nothing answers null once the timeout passes', async () => {
  const clock = fakeClock()
  const s = await store({ clock, fetchTimeoutMs: 3000 })
  try {
    const peer = peerRef(Buffer.from('%PDF-1.4 slow'))
    s.held.set(peer.name, Buffer.from('%PDF-1.4 slow'))
    s.stall()
    let answer: unknown = 'pending'
    const opened = s.files.open(peer).then((f) => (answer = f))
    await until(() => s.asked.length === 1, 'the holder asked')
    await clock.tick(2900)
    assert.is(answer, 'pending')
    await clock.tick(100)
    await opened
    assert.is(answer, null)
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('copies ahead of need run a few at a time', async () => {
  const s = await store()
  try {
    const refs = Array.from({ length: 10 }, (_, i) => peerRef(Buffer.from(`%PDF-1.4 file ${i}`)))
    for (const r of refs) s.held.set(r.name, Buffer.from(`%PDF-1.4 file ${r.name}`))
    const release = s.hold()
    for (const r of refs) s.files.prefetch(r)
    await until(() => s.asked.length === 4, 'four copies started')
    await new Promise((r) => setTimeout(r, 20))
    assert.is(s.asked.length, 4, 'the others wait')
    release()
    await until(() => s.asked.length === 10, 'then the rest')
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('a sweep removes the files no record points to once past the grace, and nothing else', async () => {
  const s = await store()
  try {
    const kept = await s.files.put(Buffer.from('%PDF-1.4 kept'))
    const orphan = await s.files.put(Buffer.from('%PDF-1.4 orphan'))
    const isKept = (name: string) => name === kept.name
    assert.is(await s.files.sweep(isKept, 60_000), 0, 'too young to tell')
    assert.is(await s.files.sweep(isKept, 0), 1)
    assert.equal(await readdir(s.dir.path), [kept.name])
    assert.ok(await s.files.holds(kept))
    assert.not.ok(await s.files.holds(orphan))
  } finally {
    await s.files.close()
    await s.dir.remove()
  }
})

test('parts a crash left behind are removed when the store opens', async () => {
  const dir = await tempDir()
  try {
    await writeFile(join(dir.path, 'abcdefghij.part'), 'half a file')
    await writeFile(join(dir.path, 'abcdefghik'), 'a whole one')
    const files = new DiskFileStore({ dir: dir.path, self: 'me' })
    await files.ready()
    assert.equal(await readdir(dir.path), ['abcdefghik'])
    await files.close()
  } finally {
    await dir.remove()
  }
})

test('a file made before v8 (a blob) is still served, and cleared at its purge', async () => {
  const dir = await tempDir()
  const store = new Corestore(join(dir.path, 'store'))
  const blobs = new BlobFileStore(store, { fetchTimeoutMs: 200 })
  await blobs.ready()
  const files = new DiskFileStore({ dir: join(dir.path, 'files'), self: 'me', blobs })
  await files.ready()
  try {
    const bytes = Buffer.from('%PDF-1.4 from v7')
    const ref = await blobs.put(bytes)
    const file = (await files.open(ref))!
    assert.ok((await read(file.stream())).equals(bytes))
    assert.ok(await files.holds(ref))
    await files.remove(ref)
    assert.not.ok(await files.holds(ref))
  } finally {
    await files.close()
    await store.close()
    await dir.remove()
  }
})

test.run()
