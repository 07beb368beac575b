import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RequestAdmission, type NodeState } from '../../src/downloads/request-admission.ts'
import {
  CutOffError,
  DownloadConflictError,
  InvalidParamsError,
  InvalidUserError,
  JoiningError,
  ShuttingDownError,
  StorageFailedError,
  StorageLowError,
} from '../../src/downloads/errors.ts'
import type { Download } from '../../src/store/record.ts'
import { recordingLogger } from '../helpers/recording-logger.ts'
import { download } from '../helpers/records.ts'

interface World {
  existing?: Download | null
  validate?: (params: unknown) => unknown
  trusted?: boolean
  quorumOk?: boolean
  /** What the quorum says once a loss seen is settled (a stall of this node's own loop). */
  settlesOk?: boolean
  mayWork?: boolean
  /** Without its quorum: cut off (the default), or still joining it. */
  cutOff?: boolean
}

function admission(w: World = {}) {
  const log = recordingLogger()
  let quorumOk = w.quorumOk ?? true
  const a = new RequestAdmission({
    repo: { forUser: () => w.existing ?? null },
    generator: { validate: w.validate as never },
    placement: {
      mayWork: () => w.mayWork ?? true,
      mayWorkSettled: async () => {
        if (w.settlesOk) quorumOk = true
        return quorumOk
      },
    },
    log,
    timeTrusted: () => w.trusted ?? true,
    quorum: () => ({ ok: quorumOk, reachable: quorumOk ? 3 : 1, voters: 3, needed: 2 }),
    cutOff: () => w.cutOff ?? true,
  })
  return { a, log }
}

const fine: NodeState = { closed: false, storage: null }

async function refusal(p: Promise<void>): Promise<unknown> {
  try {
    await p
    return null
  } catch (err) {
    return err
  }
}

test('a request a healthy node can take is admitted', async () => {
  assert.is(await refusal(admission().a.check('user-1', { title: 'x' }, fine)), null)
})

test('what is wrong wherever it is sent is said before what is this node’s state', async () => {
  const unwell: World = { trusted: false, quorumOk: false, mayWork: false }
  const low: NodeState = { closed: false, storage: 'low' }
  assert.instance(
    await refusal(admission(unwell).a.check('not a user id!', {}, low)),
    InvalidUserError,
  )
  const badParams = { ...unwell, validate: () => 'no such template.' }
  const err = await refusal(admission(badParams).a.check('user-1', {}, low))
  assert.instance(err, InvalidParamsError)
  assert.match((err as Error).message, /no such template/)
  const busy = { ...unwell, existing: download() }
  assert.instance(await refusal(admission(busy).a.check('user-1', {}, low)), DownloadConflictError)
})

test('then the node’s own state, each with its own error', async () => {
  const check = (w: World, node: NodeState = fine) => refusal(admission(w).a.check('u', {}, node))
  assert.instance(await check({}, { closed: true, storage: null }), ShuttingDownError)
  assert.instance(await check({ trusted: false, quorumOk: false }), JoiningError)
  assert.instance(await check({ quorumOk: false, mayWork: false }), CutOffError)
  // Started a moment ago, or back from standing still: joining, not cut off (quorum-watch.ts).
  assert.instance(await check({ quorumOk: false, cutOff: false }), JoiningError)
  assert.instance(await check({ mayWork: false }, { closed: false, storage: 'low' }), JoiningError)
  assert.instance(await check({}, { closed: false, storage: 'low' }), StorageLowError)
  assert.instance(await check({}, { closed: false, storage: 'failed' }), StorageFailedError)
})

test('a quorum loss that was this node’s own stall does not refuse the request', async () => {
  assert.is(
    await refusal(admission({ quorumOk: false, settlesOk: true }).a.check('u', {}, fine)),
    null,
  )
})

test('a generator whose validate throws: the user hears it could not be checked, the log why', async () => {
  const { a, log } = admission({
    validate: () => {
      throw new Error('template cache broken')
    },
  })
  const err = await refusal(a.check('u', {}, fine))
  assert.instance(err, InvalidParamsError)
  assert.match((err as Error).message, /could not check them/)
  const { user, error, thrownAt } = log.events('validate-failed')[0]!.fields
  assert.equal([user, error], ['u', 'template cache broken'])
  assert.match(String(thrownAt), /request-admission\.test\.ts:\d+:\d+$/, 'the line of validate')
})

test.run()
