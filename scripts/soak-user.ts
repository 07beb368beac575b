/**
 * One soak user (scripts/soak.ts): request, wait for ready, fetch the file as the page does,
 * dismiss, again, and what went wrong on the way.
 */
import { Client, sessionCookie } from './lib/client.ts'
import type { NodeProcess } from './lib/processes.ts'

interface Stuck {
  node: string
  user: string
  /** When the request was sent (UTC, as the nodes log). */
  since: string
  shown: string
  socket: string
}

const userOf = (cookie: string) => cookie.slice('sid='.length).split('.')[0]!
type Rec = Record<string, any>
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

export interface UserResult {
  made: number
  /** Refusals the node answered, by message. */
  refused: Map<string, number>
  /** Downloads not ready within STUCK_MS, with what the page last showed. */
  stuck: Stuck[]
  /** Files a node would not serve, even asked again as the page does. */
  failedFiles: { node: string; id: string; status: number }[]
  /** Answers of 503 (not on this node yet) that were asked again. */
  retriedFiles: number
  /** Downloads shown to the user and then gone without a dismissal. */
  lost: { user: string; id: string; node: string }[]
  /** Downloads that ended in the error state. */
  failed: { user: string; id: string; node: string; error: string }[]
  /** Sockets opened again after one closed (chaos). */
  reconnects: number
}

/** As the page does (public/file-link.js): a 503 is asked again this many times. */
const FILE_RETRIES = 5

/**
 * With chaos, how long a file is asked for again: its maker may have been killed before the
 * next node copied it, and it is served again once the maker is back.
 */
const CHAOS_FILE_WAIT_MS = 90_000

/**
 * Fetches a file the way the page does: a node that does not hold it yet answers 503 with a
 * Retry-After (a peer's copy not reachable within its timeout, on a loaded machine), and is
 * asked again after that long. With chaos a node that does not answer (killed) is left for
 * the next, and a 503 is asked again until CHAOS_FILE_WAIT_MS. Returns the last status.
 */
async function fetchFile(
  at: UserNodes,
  node: () => number,
  cookie: string,
  path: string,
  result: UserResult,
  reconnect: () => Promise<boolean>,
): Promise<number> {
  const until = Date.now() + CHAOS_FILE_WAIT_MS
  for (let tries = 0; ; tries++) {
    let file: Response
    try {
      file = await fetch(at.nodes[node()]!.url + path, { headers: { cookie } })
      await file.arrayBuffer()
    } catch (err) {
      if (!at.isUp || !(await reconnect())) throw err
      continue
    }
    const again = at.isUp ? Date.now() < until : tries < FILE_RETRIES
    if (file.status !== 503 || !again) return file.status
    result.retriedFiles++
    const header = Number(file.headers.get('retry-after') ?? 2)
    const seconds = Number.isFinite(header) ? header : 2
    await sleep(Math.min(5000, Math.max(500, seconds * 1000)))
  }
}

/** A download not ready this long after its request counts as stuck. */
export const STUCK_MS = 120_000

/**
 * When the users stop, and a hold between two downloads: the soak holds them all to measure the
 * disk at rest, and the run goes on as much longer as the hold lasted.
 */
export class SoakSchedule {
  private gate: { at: number; opened: Promise<void>; open: () => void } | null = null
  /** Users waiting at the gate. */
  held = 0
  /** Milliseconds spent held so far. */
  heldMs = 0

  constructor(public until: number) {}

  /** Whether a user starts another download: waits while the users are held. */
  async next(): Promise<boolean> {
    while (this.gate) {
      this.held++
      await this.gate.opened.finally(() => this.held--)
    }
    return Date.now() < this.until
  }

  /** Users finish the download they are making and wait. */
  hold(): void {
    if (this.gate) return
    let open = () => {}
    const opened = new Promise<void>((r) => (open = r))
    this.gate = { at: Date.now(), opened, open }
  }

  get holding(): boolean {
    return this.gate !== null
  }

  release(): void {
    if (!this.gate) return
    const ms = Date.now() - this.gate.at
    this.heldMs += ms
    this.until += ms
    this.gate.open()
    this.gate = null
  }
}

/** The nodes a user's page may be on. */
export interface UserNodes {
  nodes: NodeProcess[]
  /** The node its page is on first. */
  home: number
  /**
   * Whether node i is up; given with chaos (scripts/lib/chaos.ts), where a socket that closes
   * is a killed node's and the user goes on through the next node that is up, as behind a load
   * balancer. Without it a closed socket ends the user, counted as stuck.
   */
  isUp?: (i: number) => boolean
}

/**
 * One user, over and over until the schedule ends; `made` is called for each file fetched. It
 * acts on what its socket says, as the page does: a socket opened again says what the user
 * has, and a request is sent again only when that is nothing.
 */
export async function soakUser(
  at: UserNodes,
  schedule: SoakSchedule,
  made: () => void,
): Promise<UserResult> {
  let i = at.home
  const cookie = await sessionCookie(at.nodes[i]!.url)
  const user = userOf(cookie)
  let client = await Client.connect(at.nodes[i]!.url, cookie)
  /** Messages of this socket already acted on. */
  let seen = 0
  const result: UserResult = {
    made: 0,
    refused: new Map(),
    stuck: [],
    failedFiles: [],
    retriedFiles: 0,
    lost: [],
    failed: [],
    reconnects: 0,
  }
  const refuse = (message: string) =>
    result.refused.set(message, (result.refused.get(message) ?? 0) + 1)
  const last = () =>
    [...client.messages].reverse().find((m) => m.type === 'download')?.download as
      Rec | null | undefined
  /** Opens a socket on the next node that is up; false without chaos. */
  const reconnect = async (): Promise<boolean> => {
    if (!at.isUp) return false
    result.reconnects++
    for (;;) {
      i = (i + 1) % at.nodes.length
      // A node down is skipped; with none up (chaos keeps two of three up) this waits, not spins.
      if (!at.isUp(i)) {
        await sleep(100)
        continue
      }
      try {
        client = await Client.connect(at.nodes[i]!.url, cookie)
        seen = 0
        return true
      } catch {
        await sleep(500)
      }
    }
  }
  const send = (m: object) => {
    if (client.ws.readyState === client.ws.OPEN) client.send(m)
  }

  try {
    while (await schedule.next()) {
      const askedAt = Date.now()
      const deadline = askedAt + STUCK_MS
      /** The download this request made, once shown. */
      let id: string | null = null
      /** Whether this socket was sent the request (a socket opened again was not). */
      let asked = true
      let ready: Rec | null = null
      send({ type: 'request' })
      while (!ready) {
        const m = await client.at(seen, deadline - Date.now())
        if (m === 'timeout') {
          const d = last()
          result.stuck.push({
            node: at.nodes[i]!.name,
            user,
            since: new Date(askedAt).toISOString().slice(11, 23),
            shown: d ? `${d.id} ${d.state} ${d.progress}% on ${d.ownerName}` : 'no download',
            socket: client.ws.readyState === client.ws.OPEN ? 'open' : 'CLOSED',
          })
          send({ type: 'dismiss' })
          break
        }
        if (m === 'closed') {
          if (!(await reconnect())) {
            result.stuck.push({
              node: at.nodes[i]!.name,
              user,
              since: new Date(askedAt).toISOString().slice(11, 23),
              shown: 'the socket closed',
              socket: 'CLOSED',
            })
            return result
          }
          asked = false
          continue
        }
        seen++
        if (m.type === 'error') {
          refuse(String((m as { message: unknown }).message))
          await sleep(1000)
          send({ type: 'request' })
          asked = true
          continue
        }
        if (m.type !== 'download') continue
        const d = m.download
        if (d === null) {
          // Shown once and gone without a dismissal: the cluster lost an accepted request. The
          // user asks again, as one looking at an empty page would.
          if (id !== null) {
            result.lost.push({ user, id, node: at.nodes[i]!.name })
            id = null
            asked = false
          }
          if (!asked) send({ type: 'request' })
          asked = true
          continue
        }
        id = d.id
        // Gone for a moment only: a node reached after a reconnect had not heard of it yet, and
        // the request made meanwhile lost the race to it. Not lost.
        const back = result.lost.findIndex((l) => l.id === d.id)
        if (back >= 0) result.lost.splice(back, 1)
        if (d.state === 'ready') ready = d
        else if (d.state === 'error') {
          result.failed.push({ user, id: d.id, node: at.nodes[i]!.name, error: String(d.error) })
          break
        }
      }
      if (ready) {
        const status = await fetchFile(at, () => i, cookie, ready.fileUrl, result, reconnect)
        if (status === 200) {
          result.made++
          made()
        } else result.failedFiles.push({ node: at.nodes[i]!.name, id: ready.id, status })
      }
      // Dismissed, on this socket or, if it closed, the next one.
      seen = client.messages.length
      send({ type: 'dismiss' })
      for (;;) {
        const m = await client.at(seen, 30_000)
        if (m === 'timeout') {
          refuse('(no answer to a dismissal in 30 s)')
          break
        }
        if (m === 'closed') {
          if (!(await reconnect())) return result
          send({ type: 'dismiss' })
          continue
        }
        seen++
        if (m.type === 'download' && m.download === null) break
      }
    }
  } finally {
    client.close()
  }
  return result
}
