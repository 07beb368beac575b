/**
 * This node's own writer checked against its peers before anything is appended to it
 * (store/own-writer.ts): the verdict alone, then the waits, a peer's word checked and a store
 * found behind, on a core the test plays and a fake clock.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type Hypercore from 'hypercore'
import {
  OwnWriter,
  OwnWriterBehindError,
  ownWriterVerdict,
  type OwnWriterFacts,
} from '../../src/store/own-writer.ts'
import { fakeClock } from '../helpers/clock.ts'

const facts = (over: Partial<OwnWriterFacts> = {}): OwnWriterFacts => ({
  length: 5,
  contiguousLength: 5,
  openLength: 5,
  fork: 0,
  peers: [],
  known: false,
  openForMs: 0,
  confirmMs: 3000,
  ...over,
})
const peer = (length: number, fork = 0) => ({ synced: true, length, fork })

test('safe once a peer has said it holds no more of the writer than this store', () => {
  assert.equal(ownWriterVerdict(facts()), { kind: 'wait' }, 'no word yet')
  assert.equal(ownWriterVerdict(facts({ peers: [{ synced: false, length: 0, fork: 0 }] })), {
    kind: 'wait',
  })
  assert.equal(ownWriterVerdict(facts({ peers: [peer(5)] })), { kind: 'ok' })
  assert.equal(ownWriterVerdict(facts({ peers: [peer(3)] })), { kind: 'ok' }, 'a peer behind')
  assert.equal(ownWriterVerdict(facts({ openForMs: 3000 })), { kind: 'ok' }, 'no peer in time')
  assert.equal(ownWriterVerdict(facts({ known: true })), { kind: 'ok' }, 'made here')
})

test('a peer that says it holds more is checked; behind once hypercore took its longer length', () => {
  assert.equal(ownWriterVerdict(facts({ peers: [peer(3), peer(8)] })), { kind: 'claimed', held: 8 })
  assert.equal(
    ownWriterVerdict(facts({ known: true, openForMs: 60_000, peers: [peer(8)] })),
    { kind: 'claimed', held: 8 },
    'whatever was confirmed before',
  )
  // Hypercore takes a peer's longer signed length as the core's, without its blocks.
  assert.equal(ownWriterVerdict(facts({ length: 8, contiguousLength: 5, peers: [peer(8)] })), {
    kind: 'behind',
    have: 5,
    held: 8,
  })
  // Or with them: nothing was appended since the open, so they are the peers'.
  assert.equal(ownWriterVerdict(facts({ length: 8, contiguousLength: 8, peers: [peer(8)] })), {
    kind: 'behind',
    have: 5,
    held: 8,
  })
  assert.equal(
    ownWriterVerdict(facts({ length: 8, contiguousLength: 8, known: true })),
    { kind: 'ok' },
    'appended here since it was confirmed',
  )
  assert.equal(
    ownWriterVerdict(facts({ peers: [peer(8, 1)] })),
    { kind: 'wait' },
    'a peer on another fork says nothing of this one',
  )
})

/** A writer core the test plays: its lengths, its peers, the sessions and fetches asked of it. */
function fakeCore(length: number) {
  const state = {
    length,
    contiguousLength: length,
    fork: 0,
    peers: [] as { remoteSynced: boolean; remoteLength: number; remoteFork: number }[],
    sessions: [] as { active?: boolean; closed: boolean }[],
    asked: [] as { start: number; end: number; destroyed: boolean }[],
  }
  const core = {
    get length() {
      return state.length
    },
    get contiguousLength() {
      return state.contiguousLength
    },
    get fork() {
      return state.fork
    },
    get peers() {
      return state.peers
    },
    session(opts: { active?: boolean }) {
      const s = { ...opts, closed: false }
      state.sessions.push(s)
      return {
        download(range: { start: number; end: number }) {
          const f = { ...range, destroyed: false }
          state.asked.push(f)
          return { done: () => new Promise<void>(() => {}), destroy: () => (f.destroyed = true) }
        },
        close: async () => {
          s.closed = true
        },
      }
    },
  }
  return { state, core: core as unknown as Hypercore }
}

function ownWriter(length: number, known = false) {
  const clock = fakeClock()
  const { state, core } = fakeCore(length)
  const told: string[] = []
  const w = new OwnWriter({
    core: () => core,
    known,
    clock,
    confirmMs: 3000,
    onBehind: (have, held) => told.push(`behind ${have} ${held}`),
  })
  return { w, clock, state, told }
}

test('a restarted writer asks its peers at once, and appends once one answers', async () => {
  const { w, clock, state } = ownWriter(5)
  w.opened(false)
  assert.is(w.mayAppend(), false)
  assert.equal(
    state.sessions.map((s) => s.active),
    [true],
    'an active session, so that peers are asked',
  )
  let done = false
  const until = w.until(30_000, () => false).then(() => (done = true))
  await clock.tick(500)
  assert.is(done, false)
  state.peers.push({ remoteSynced: true, remoteLength: 5, remoteFork: 0 })
  await clock.tick(100)
  await until
  assert.ok(state.sessions[0]!.closed, 'the asking session closed once answered')
  assert.is(w.mayAppend(), true)
})

test('with no peer to ask it appends after the wait; made here or never written, at once', async () => {
  const lone = ownWriter(5)
  lone.w.opened(false)
  assert.is(lone.w.mayAppend(), false)
  await lone.clock.tick(3000)
  assert.is(lone.w.mayAppend(), true)

  const made = ownWriter(0, true)
  made.w.opened(false)
  assert.is(made.w.mayAppend(), true)
  assert.equal(made.state.sessions, [], 'nothing to ask')

  const fresh = ownWriter(0)
  fresh.w.opened(true)
  assert.is(fresh.w.mayAppend(), true)
})

test('behind: a peer’s word checked, then told once, and this base appends nothing more', async () => {
  const { w, clock, state, told } = ownWriter(4)
  w.opened(false)
  let failed: Error | null = null
  const waiting = w.until(30_000, () => false).catch((e: Error) => (failed = e))
  state.peers.push({ remoteSynced: true, remoteLength: 7, remoteFork: 0 })
  await clock.tick(200)
  assert.equal(told, [], 'a word only')
  assert.equal(
    state.asked.map((f) => [f.start, f.end]),
    [[4, 7]],
    'the blocks asked for, once: hypercore checks the longer length as it takes it',
  )
  // The peers' signed length arrives, without the blocks.
  state.length = 7
  await clock.tick(100)
  assert.equal(told, ['behind 4 7'], 'told once, with nothing appending')
  await waiting
  assert.instance(failed, OwnWriterBehindError, 'the write waiting fails at once')
  assert.ok(state.asked[0]!.destroyed && state.sessions[0]!.closed, 'asking over')
  state.contiguousLength = 7
  assert.is(w.mayAppend(), false, 'fetched or not, this base writes nothing more')
  await clock.tick(1000)
  assert.equal(told, ['behind 4 7'])
})

test('behind too when the blocks come with the length, before anything was appended', async () => {
  const { w, clock, state, told } = ownWriter(4)
  w.opened(false)
  state.peers.push({ remoteSynced: true, remoteLength: 7, remoteFork: 0 })
  state.length = 7
  state.contiguousLength = 7
  await clock.tick(100)
  assert.equal(told, ['behind 4 7'])
  assert.is(w.mayAppend(), false)
})

test('a wait that never ends fails with what the store lacks; one on a closed base just ends', async () => {
  const { w, clock, state } = ownWriter(4)
  w.opened(false)
  state.peers.push({ remoteSynced: true, remoteLength: 9, remoteFork: 0 })
  const failed = w.until(30_000, () => false).catch((e: Error) => e)
  await clock.tick(30_000)
  const err = await failed
  assert.instance(err, OwnWriterBehindError)
  assert.match((err as Error).message, /holds 4 blocks of its own log writer and its peers 9/)
  assert.is(w.mayAppend(), false, 'a word never checked: still nothing appended')

  let closed = false
  const ended = w.until(30_000, () => closed)
  closed = true
  await clock.tick(100)
  await ended
  w.close()
  assert.ok(state.sessions.every((s) => s.closed))
})

test.run()
