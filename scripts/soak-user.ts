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
}

/** As the page does (public/file-link.js): a 503 is asked again this many times. */
const FILE_RETRIES = 5

/**
 * Fetches a file the way the page does: a node that does not hold it yet answers 503 with a
 * Retry-After (a peer's copy not reachable within its timeout, on a loaded machine), and is
 * asked again after that long. Returns the last status.
 */
async function fetchFile(url: string, cookie: string, result: UserResult): Promise<number> {
  for (let i = 0; ; i++) {
    const file = await fetch(url, { headers: { cookie } })
    await file.arrayBuffer()
    if (file.status !== 503 || i === FILE_RETRIES) return file.status
    result.retriedFiles++
    const header = Number(file.headers.get('retry-after') ?? 2)
    const seconds = Number.isFinite(header) ? header : 2
    await new Promise((r) => setTimeout(r, Math.min(5000, Math.max(500, seconds * 1000))))
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

/** One user, over and over until the schedule ends; `made` is called for each file fetched. */
export async function soakUser(
  node: NodeProcess,
  schedule: SoakSchedule,
  made: () => void,
): Promise<UserResult> {
  const cookie = await sessionCookie(node.url)
  const client = await Client.connect(node.url, cookie)
  const result: UserResult = {
    made: 0,
    refused: new Map(),
    stuck: [],
    failedFiles: [],
    retriedFiles: 0,
  }
  const last = () =>
    [...client.messages].reverse().find((m) => m.type === 'download')?.download as
      Record<string, any> | null | undefined
  try {
    while (await schedule.next()) {
      client.send({ type: 'request' })
      const answer = await client
        .wait(
          (m) => m.type === 'error' || (m.type === 'download' && m.download?.state === 'ready'),
          STUCK_MS,
          'ready',
        )
        .catch(() => null)
      if (!answer) {
        const d = last()
        const socket = client.ws.readyState === client.ws.OPEN ? 'open' : 'CLOSED'
        result.stuck.push({
          node: node.name,
          user: userOf(cookie),
          since: new Date(Date.now() - STUCK_MS).toISOString().slice(11, 23),
          shown: d ? `${d.id} ${d.state} ${d.progress}% on ${d.ownerName}` : 'no download',
          socket,
        })
        if (socket === 'CLOSED') break
        client.send({ type: 'dismiss' })
        continue
      }
      if (answer.type === 'error') {
        const message = String((answer as { message: unknown }).message)
        result.refused.set(message, (result.refused.get(message) ?? 0) + 1)
        await new Promise((r) => setTimeout(r, 1000))
        continue
      }
      const ready = (answer as { download: Record<string, any> }).download
      const status = await fetchFile(node.url + ready.fileUrl, cookie, result)
      if (status === 200) {
        result.made++
        made()
      } else result.failedFiles.push({ node: node.name, id: ready.id, status })
      client.send({ type: 'dismiss' })
      await client
        .download((d) => d === null, 30_000, 'dismissed')
        .catch(() => {
          result.refused.set(
            '(no answer to a dismissal in 30 s)',
            1 + (result.refused.get('(no answer to a dismissal in 30 s)') ?? 0),
          )
        })
    }
  } finally {
    client.close()
  }
  return result
}
