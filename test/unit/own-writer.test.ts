/**
 * This node's own writer checked against its peers before anything is appended to it
 * (store/own-writer.ts): the verdict alone, then the waits, a peer's word, blocks that came
 * from a peer and a store found behind, on a core the test plays and a fake clock.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { EventEmitter } from 'node:events'
import type Hypercore from 'hypercore'
import {
  OwnWriter,
  OwnWriterError,
  ownWriterVerdict,
  type OwnWriterFacts,
} from '../../src/store/own-writer.ts'
import { fakeClock } from '../helpers/clock.ts'

const facts = (over: Partial<OwnWriterFacts> = {}): OwnWriterFacts => ({
  opened: true,
  length: 5,
  contiguousLength: 5,
  fetchedFrom: null,
  conflicted: false,
  fork: 0,
  peers: [],
  known: false,
  openForMs: 500,
  confirmMs: 3000,
  settleMs: 500,
  ...over,
})
const peer = (length: number, fork = 0) => ({ synced: true, length, fork })
const silent = { synced: false, length: 0, fork: 0 }

test('safe once every peer has said it holds no more of the writer than this store', () => {
  assert.equal(ownWriterVerdict(facts()), { kind: 'wait' }, 'no word yet')
  assert.equal(ownWriterVerdict(facts({ peers: [peer(5)] })), { kind: 'ok' })
  assert.equal(ownWriterVerdict(facts({ peers: [peer(3), peer(5)] })), { kind: 'ok' })
  assert.equal(
    ownWriterVerdict(facts({ peers: [peer(3), silent] })),
    { kind: 'wait' },
    'the first to answer may be one that holds less: all of them',
  )
  assert.equal(
    ownWriterVerdict(facts({ peers: [peer(5)], openForMs: 100 })),
    { kind: 'wait' },
    'and not in the first moment after the open, when other links are still coming up',
  )
  assert.equal(ownWriterVerdict(facts({ openForMs: 3000 })), { kind: 'ok' }, 'no word in time')
  assert.equal(ownWriterVerdict(facts({ known: true, openForMs: 0 })), { kind: 'ok' }, 'made here')
  assert.equal(ownWriterVerdict(facts({ opened: false, known: true })), { kind: 'wait' })
})

test('a peer that says it holds more is believed once hypercore took its length; blocks from a peer are enough', () => {
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
  // Or with them, fetched from a peer: it held what this store lacked.
  assert.equal(
    ownWriterVerdict(facts({ length: 8, contiguousLength: 8, fetchedFrom: 5, known: true })),
    { kind: 'behind', have: 5, held: 8 },
  )
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

/** A writer core the test plays: its lengths, its peers, the sessions asked of it. */
function fakeCore(length: number) {
  const state = {
    length,
    contiguousLength: length,
    fork: 0,
    peers: [] as { remoteSynced: boolean; remoteLength: number; remoteFork: number }[],
    sessions: [] as { active?: boolean; closed: boolean }[],
  }
  const events = new EventEmitter()
  const core = Object.defineProperties(events, {
    length: { get: () => state.length },
    contiguousLength: { get: () => state.contiguousLength },
    fork: { get: () => state.fork },
    peers: { get: () => state.peers },
    session: {
      value: (opts: { active?: boolean }) => {
        const s = { ...opts, closed: false }
        state.sessions.push(s)
        return { close: async () => void (s.closed = true) }
      },
    },
  })
  return { state, core: core as unknown as Hypercore, events }
}

function ownWriter(length: number, known = false) {
  const clock = fakeClock()
  const { state, core, events } = fakeCore(length)
  const told: string[] = []
  const w = new OwnWriter({
    core: () => core,
    known,
    clock,
    confirmMs: 3000,
    settleMs: 500,
    onBehind: (have, held) => told.push(`behind ${have} ${held}`),
  })
  return { w, clock, state, told, events }
}

test('a restarted writer asks its peers at once, and appends once they have answered', async () => {
  const { w, clock, state } = ownWriter(5)
  assert.is(w.mayAppend(), false, 'nothing known before the open')
  w.opened(false)
  assert.is(w.mayAppend(), false)
  assert.equal(
    state.sessions.map((s) => s.active),
    [true],
    'an active session, so that peers are asked',
  )
  let done = false
  const until = w.until(30_000, () => false).then((may) => (done = may))
  state.peers.push({ remoteSynced: true, remoteLength: 5, remoteFork: 0 })
  await clock.tick(300)
  assert.is(done, false, 'answered, but within the first half second')
  await clock.tick(300)
  await until
  assert.is(done, true)
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
  let failed: unknown = null
  const waiting = w.until(30_000, () => false).catch((e: Error) => (failed = e))
  state.peers.push({ remoteSynced: true, remoteLength: 7, remoteFork: 0 })
  await clock.tick(200)
  assert.equal(told, [], 'a word only')
  // The peers' signed length arrives, without the blocks.
  state.length = 7
  await clock.tick(100)
  assert.equal(told, ['behind 4 7'], 'told once, with nothing appending')
  await waiting
  assert.instance(failed, OwnWriterError, 'the write waiting fails at once')
  assert.match((failed as Error).message, /holds 4 blocks of its own log writer and its peers 7/)
  assert.ok(state.sessions[0]!.closed, 'asking over')
  state.contiguousLength = 7
  assert.is(w.mayAppend(), false, 'fetched or not, this base writes nothing more')
  await clock.tick(1000)
  assert.equal(told, ['behind 4 7'])
})

test('blocks of its writer that come from a peer, even after it was confirmed, are the peers’: behind', async () => {
  const { w, clock, state, told, events } = ownWriter(4)
  w.opened(false)
  state.peers.push({ remoteSynced: true, remoteLength: 4, remoteFork: 0 })
  await clock.tick(600)
  assert.is(w.mayAppend(), true, 'confirmed by a peer that held no more')
  // Another peer that held more links later: hypercore fetches its blocks.
  state.length = 6
  state.contiguousLength = 6
  events.emit('download', 5)
  events.emit('download', 4)
  assert.is(w.mayAppend(), false)
  assert.equal(told, ['behind 4 6'])
})

test('hypercore’s conflict on its writer (it wrote where its peers held other blocks): behind at once', async () => {
  const { w, state, told, events } = ownWriter(16, true)
  w.opened(false)
  assert.is(w.mayAppend(), true, 'restored alone, it wrote')
  state.peers.push({ remoteSynced: true, remoteLength: 22, remoteFork: 0 })
  events.emit('conflict', 22, 0)
  assert.equal(told, ['behind 16 22'], 'told as hypercore says it, before it closes the core')
  assert.is(w.mayAppend(), false)
})

test('autobase’s own appends are held back while the writer is not known whole: an acknowledgement dropped, a value refused', async () => {
  const { w, clock, state } = ownWriter(5)
  const reached: unknown[] = []
  const base = {
    local: { length: 5 },
    _appendBatch: async (value: unknown) => void reached.push(value),
  }
  w.holdBack(base as never)
  w.opened(false)
  await base._appendBatch(null)
  const refused = await base._appendBatch(['op']).then(
    () => null,
    (e: Error) => e,
  )
  assert.instance(refused, OwnWriterError)
  assert.equal(reached, [], 'nothing reached autobase')
  state.peers.push({ remoteSynced: true, remoteLength: 5, remoteFork: 0 })
  await clock.tick(500)
  await base._appendBatch(null)
  await base._appendBatch(['op'])
  assert.equal(reached, [null, ['op']], 'once its peers answered')
})

test('a word never checked fails the wait with what it says; a closed base ends it and asks no more', async () => {
  const { w, clock, state } = ownWriter(4)
  w.opened(false)
  state.peers.push({ remoteSynced: true, remoteLength: 9, remoteFork: 0 })
  const failed = w.until(30_000, () => false).catch((e: Error) => e)
  await clock.tick(30_000)
  const err = await failed
  assert.instance(err, OwnWriterError)
  assert.match(
    (err as Error).message,
    /a peer says it holds 9 blocks .* and this store 4, not verified/,
  )
  assert.is(w.mayAppend(), false, 'still nothing appended')

  let closed = false
  const ended = w.until(30_000, () => closed)
  closed = true
  await clock.tick(100)
  assert.is(await ended, false, 'told the base closed, not let through')
  w.close()
  assert.is(w.mayAppend(), false)
  const sessions = state.sessions.length
  await clock.tick(1000)
  assert.is(state.sessions.length, sessions, 'no session asked after the close')
  assert.ok(state.sessions.every((s) => s.closed))
})

test.run()
