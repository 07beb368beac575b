/**
 * A download record and the operations that change it. These are the only shapes that travel
 * through the replicated log, so everything read back from it goes through `parseOp` first.
 */

/**
 * Where a file lives: a file in its maker's files directory, copied to other nodes over the
 * cluster's links (store/disk-files.ts), or, for files made before v8, a blob in its maker's
 * hyperblobs core (store/file-store.ts).
 */
export type FileRef = DiskFileRef | BlobRef

export interface DiskFileRef {
  /** Id of the member that made it. */
  node: string
  /** Its name in the files directory of every node that holds it. */
  name: string
  byteLength: number
  /** Hex SHA-256 of its bytes: a copy that does not match is thrown away. */
  sha256: string
}

export interface BlobRef {
  /** Hex key of the hyperblobs core holding the file. */
  core: string
  blockOffset: number
  blockLength: number
  byteOffset: number
  byteLength: number
}

export const isBlobRef = (ref: FileRef): ref is BlobRef => 'core' in ref

/** The names the files directory holds: what nanoid makes, never a path. */
export const FILE_NAME = /^[A-Za-z0-9_-]{10,64}$/

export const STATES = ['pending', 'processing', 'ready', 'error'] as const
export type DownloadState = (typeof STATES)[number]

export interface Download {
  id: string
  userId: string
  state: DownloadState
  /** 0..100, as of the last checkpoint written to the log. */
  progress: number
  /** The generated file, once ready. */
  file: DownloadFile | null
  error: string | null
  /** Id of the node that runs (or ran) the worker. */
  owner: string
  ownerName: string
  /** Raised by every takeover; writes from an older epoch lose (fencing). */
  epoch: number
  /** Raised by the owner on every write within an epoch. */
  version: number
  createdAt: number
  updatedAt: number
  finishedAt: number | null
  /** Wall-clock ms after which the record is invisible and may be purged. */
  expiresAt: number
  /** Opaque, generator-specific state to resume from. */
  checkpoint: Checkpoint | null
  /** What the user asked for, as the generator validated it: handed to every attempt. */
  params: Params
  /** The attempt running, or waiting to run (1 for the first). */
  attempt: number
  /** How many attempts the download may take in all (--attempts where it was requested). */
  attempts: number
  /** Cluster time before which the next attempt does not start (a retry's backoff); else null. */
  retryAt: number | null
}

export type Checkpoint = Record<string, string | number | boolean | null>

/** A download's parameters: any JSON object, at most MAX_PARAMS_BYTES as JSON. */
export type Params = { [key: string]: unknown }

export const MAX_PARAMS_BYTES = 2048

/** A ready download's file: where it lives in the replicated storage, and how it is served. */
export type DownloadFile = FileRef & {
  /** The name a browser saves it under, as the generator gave it (made safe). */
  filename: string
  contentType: string
}

export interface PutOp {
  type: 'put'
  download: Download
}

/** A dismissal. It beats every put of the same id, whatever their order. */
export interface RemoveOp {
  type: 'remove'
  id: string
  userId: string
  at: number
  expiresAt: number
}

export type RecordOp = PutOp | RemoveOp

export const isLive = (d: Download): boolean => d.state === 'pending' || d.state === 'processing'

const ID = /^[A-Za-z0-9_-]{1,64}$/

function str(v: unknown): v is string {
  return typeof v === 'string'
}
function num(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v)
}
function nullable<T>(v: unknown, check: (v: unknown) => v is T): v is T | null {
  return v === null || check(v)
}

/** Longest file name kept; longer ones are cut (keeping the extension). */
const MAX_FILE_NAME = 200
const UNSAFE_IN_FILE_NAME = /[/\\"\u0000-\u001f\u007f]/g
const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
const CONTENT_TYPE = new RegExp(
  `^${TOKEN}/${TOKEN}(\\s*;\\s*${TOKEN}=(${TOKEN}|"[^"\\\\\\u0000-\\u001f]*"))*$`,
)

/**
 * A file name a browser can save and a header can carry, from whatever a generator gave:
 * path separators, quotes and control characters become `_`, and an over-long name is cut.
 */
export function safeFileName(name: string): string {
  const clean = name.replace(UNSAFE_IN_FILE_NAME, '_').trim() || 'download'
  if (clean.length <= MAX_FILE_NAME) return clean
  const dot = clean.lastIndexOf('.')
  const ext = dot > 0 && clean.length - dot <= 16 ? clean.slice(dot) : ''
  return clean.slice(0, MAX_FILE_NAME - ext.length) + ext
}

/** A media type a Content-Type header can carry, parameters included (RFC 9110). */
export function isContentType(v: string): boolean {
  return v.length <= 200 && CONTENT_TYPE.test(v)
}

function parseFile(v: unknown, id: string): DownloadFile | null | undefined {
  if (v === null) return null
  if (typeof v !== 'object' || v === undefined) return undefined
  const o = v as Record<string, unknown>
  const ref = parseRef(o)
  if (!ref) return undefined
  // Records written before files had names were all the built-in PDF report.
  const filename = o.filename === undefined ? `report-${id}.pdf` : o.filename
  const contentType = o.contentType === undefined ? 'application/pdf' : o.contentType
  if (!str(filename) || safeFileName(filename) !== filename) return undefined
  if (!str(contentType) || !isContentType(contentType)) return undefined
  return { ...ref, filename, contentType }
}

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

function parseRef(o: Record<string, unknown>): FileRef | undefined {
  if (o.core === undefined) {
    const { node, name, byteLength, sha256 } = o
    if (typeof node !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(node)) return undefined
    if (typeof name !== 'string' || !FILE_NAME.test(name)) return undefined
    if (!count(byteLength) || typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256))
      return undefined
    return { node, name, byteLength, sha256 }
  }
  const ints = ['blockOffset', 'blockLength', 'byteOffset', 'byteLength'] as const
  if (typeof o.core !== 'string' || !/^[0-9a-f]{64}$/.test(o.core)) return undefined
  for (const k of ints) if (!count(o[k])) return undefined
  return {
    core: o.core,
    blockOffset: o.blockOffset as number,
    blockLength: o.blockLength as number,
    byteOffset: o.byteOffset as number,
    byteLength: o.byteLength as number,
  }
}

export function parseCheckpoint(v: unknown): Checkpoint | null | undefined {
  if (v === null) return null
  if (typeof v !== 'object' || Array.isArray(v) || v === undefined) return undefined
  const out: Checkpoint = {}
  for (const [k, x] of Object.entries(v as object)) {
    if (x === null || typeof x === 'string' || typeof x === 'boolean' || num(x)) out[k] = x
    else return undefined
  }
  return out
}

/**
 * A download's parameters as given (a JSON object of at most 2 KiB), or why not. Records
 * written before parameters existed have none: they read as `{}`.
 */
export function checkParams(
  v: unknown,
): { ok: true; params: Params } | { ok: false; error: string } {
  if (v === undefined) return { ok: true, params: {} }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, error: '"params" must be a JSON object.' }
  let bytes: number
  try {
    bytes = Buffer.byteLength(JSON.stringify(v))
  } catch {
    return { ok: false, error: '"params" must be plain JSON.' }
  }
  if (bytes > MAX_PARAMS_BYTES)
    return {
      ok: false,
      error: `"params" is ${bytes} bytes as JSON; at most ${MAX_PARAMS_BYTES} are accepted.`,
    }
  return { ok: true, params: v as Params }
}

const positiveInt = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1

export function parseDownload(v: unknown): Download | null {
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  if (!str(o.id) || !ID.test(o.id)) return null
  const checkpoint = parseCheckpoint(o.checkpoint)
  const file = parseFile(o.file, o.id)
  const params = checkParams(o.params)
  // Records written before retries existed were on their first and only attempt.
  const attempt = o.attempt ?? 1
  const attempts = o.attempts ?? 1
  const retryAt = o.retryAt ?? null
  if (
    !params.ok ||
    !positiveInt(attempt) ||
    !positiveInt(attempts) ||
    !nullable(retryAt, num) ||
    !str(o.userId) ||
    !ID.test(o.userId) ||
    !str(o.state) ||
    !(STATES as readonly string[]).includes(o.state) ||
    !num(o.progress) ||
    o.progress < 0 ||
    o.progress > 100 ||
    !nullable(o.error, str) ||
    !str(o.owner) ||
    !str(o.ownerName) ||
    !num(o.epoch) ||
    !num(o.version) ||
    !num(o.createdAt) ||
    !num(o.updatedAt) ||
    !nullable(o.finishedAt, num) ||
    !num(o.expiresAt) ||
    checkpoint === undefined ||
    file === undefined
  ) {
    return null
  }
  return {
    id: o.id,
    userId: o.userId,
    state: o.state as DownloadState,
    progress: o.progress,
    file,
    error: o.error,
    owner: o.owner,
    ownerName: o.ownerName,
    epoch: o.epoch,
    version: o.version,
    createdAt: o.createdAt,
    updatedAt: o.updatedAt,
    finishedAt: o.finishedAt,
    expiresAt: o.expiresAt,
    checkpoint,
    params: params.params,
    attempt,
    attempts,
    retryAt,
  }
}

/** Validates an operation read from the log; anything else is dropped by the caller. */
export function parseOp(v: unknown): RecordOp | null {
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  if (o.type === 'put') {
    const download = parseDownload(o.download)
    return download ? { type: 'put', download } : null
  }
  if (o.type === 'remove') {
    if (!str(o.id) || !ID.test(o.id) || !str(o.userId) || !num(o.at) || !num(o.expiresAt)) {
      return null
    }
    return { type: 'remove', id: o.id, userId: o.userId, at: o.at, expiresAt: o.expiresAt }
  }
  return null
}
