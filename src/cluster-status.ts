/**
 * The cluster status page's model (`/status`): what each node says of itself (`GET
 * /status.json`: uptime, workers, log length, disk, the events it saw) merged by the node
 * serving the page with its own view of the membership. Every node hears every death, so
 * those are kept once per (kind, node, incarnation); a takeover only its node lists. Pure: the
 * fetching is the web layer's.
 * No user ids and no file links: it is for operators.
 */

export type StatusEventKind = 'joined' | 'dead' | 'left' | 'back' | 'takeover'

export interface StatusEvent {
  /** Cluster time (ms). */
  at: number
  kind: StatusEventKind
  /** The member it is about (for a takeover: the node that took over). */
  node: string
  incarnation: number
  /** For a takeover: from which node, from what progress. */
  detail?: string
}

/** What one node says of itself. */
export interface NodeSelf {
  id: string
  name: string
  url: string
  incarnation: number
  uptimeMs: number
  running: number
  logLength: number
  /** This node is the scribe: the others hand it what they write to the log (cluster/scribe.ts). */
  scribe: boolean
  /**
   * Whether it reaches its quorum (cluster/quorum.ts): without, it runs no work and refuses new
   * downloads. Absent from a node of an earlier version.
   */
  quorum?: { ok: boolean; reachable: number; voters: number; needed: number }
  /**
   * Its disk is below its reserve (--min-free-mb): its workers are paused and it takes no new
   * downloads. Absent when it is not, and from a node of an earlier version.
   */
  diskLow?: true
  dataBytes: number | null
  events: StatusEvent[]
}

export interface StatusRow {
  id: string
  name: string
  url: string
  status: string
  incarnation: number
  /** Null when the node could not be asked (dead, or did not answer in time). */
  uptimeMs: number | null
  running: number | null
  logLength: number | null
  /** Null when the node could not be asked. */
  scribe: boolean | null
  /** Null when the node could not be asked (or did not say). */
  quorum: NodeSelf['quorum'] | null
  /** Whether its disk is low, as it said (false when it could not be asked). */
  diskLow: boolean
  dataBytes: number | null
}

export interface ClusterStatus {
  at: number
  /** The node serving the page. */
  servedBy: string
  nodes: StatusRow[]
  events: StatusEvent[]
}

/** How many events each node keeps, and the page shows. */
export const EVENTS_KEPT = 30

/**
 * A member's incarnation is its start time (ms): a refutation raises it by one, a restart to
 * the new start. More than this past the last one known is a restart.
 */
const RESTART_STEP = 1000

/**
 * Whether, and as what, the status page lists a membership event a node saw; `startedAt` is
 * that node's first incarnation (its start), `before` the member's incarnation as it knew it
 * before this event (null: never heard of). A member up before it started, heard of for the
 * first time, did not join: this node did, and meets every member so as it starts (a restarted
 * node listed each of its peers as joined, which pushed the cluster's real events off the
 * page). One back after it was declared dead or left came back; so did one only suspected,
 * with a new start (a node cut off declares nobody dead: its peers killed and restarted
 * meanwhile were back unlisted). A refuted suspicion is not listed.
 */
export function listedEvent(
  type: string,
  member: { incarnation: number },
  startedAt: number,
  before: number | null,
): StatusEventKind | null {
  if (type === 'joined') {
    if (before !== null) return 'back'
    return member.incarnation > startedAt ? 'joined' : null
  }
  if (type === 'alive')
    return before !== null && member.incarnation - before > RESTART_STEP ? 'back' : null
  return type === 'dead' || type === 'left' ? type : null
}

/** A node's recent events, newest first. */
export class StatusEvents {
  private readonly events: StatusEvent[] = []

  add(event: StatusEvent): void {
    this.events.unshift(event)
    this.events.length = Math.min(this.events.length, EVENTS_KEPT)
  }

  list(): StatusEvent[] {
    return [...this.events]
  }
}

/**
 * The page's rows and events from the membership as this node sees it and what each member
 * said of itself (those that answered), with the events last heard from those that did not
 * (`unheard`: a dead node's takeovers stay listed after it died).
 */
export function mergeStatus(
  at: number,
  servedBy: string,
  members: readonly {
    id: string
    name: string
    url: string
    status: string
    incarnation: number
  }[],
  selves: ReadonlyMap<string, NodeSelf>,
  unheard: readonly StatusEvent[][] = [],
): ClusterStatus {
  const nodes = members
    .map((m): StatusRow => {
      const self = selves.get(m.id)
      return {
        id: m.id,
        name: m.name,
        url: m.url,
        status: m.status,
        incarnation: m.incarnation,
        uptimeMs: self?.uptimeMs ?? null,
        running: self?.running ?? null,
        logLength: self?.logLength ?? null,
        scribe: self?.scribe ?? null,
        quorum: self?.quorum ?? null,
        diskLow: self?.diskLow === true,
        dataBytes: self?.dataBytes ?? null,
      }
    })
    .sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
  const seen = new Set<string>()
  const events: StatusEvent[] = []
  const all = [...selves.values()].flatMap((s) => s.events).concat(unheard.flat())
  // One arrival seen by a node that knew the member before (back) and by one that did not
  // (joined) is one return.
  const back = new Set(
    all.filter((e) => e.kind === 'back').map((e) => `${e.node}|${e.incarnation}`),
  )
  for (const e of all.sort((a, b) => b.at - a.at)) {
    if (e.kind === 'joined' && back.has(`${e.node}|${e.incarnation}`)) continue
    // Only the node that took a download over lists the takeover: two of them in one
    // millisecond are two. A membership change is heard by every node: listed once.
    if (e.kind !== 'takeover') {
      const key = `${e.kind}|${e.node}|${e.incarnation}`
      if (seen.has(key)) continue
      seen.add(key)
    }
    events.push(e)
    if (events.length === EVENTS_KEPT) break
  }
  return { at, servedBy, nodes, events }
}

/** A node's own status as another node received it, or null if it is not one. */
export function parseNodeSelf(v: unknown): NodeSelf | null {
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  const str = (x: unknown): x is string => typeof x === 'string' && x.length <= 200
  const num = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x)
  if (!str(o.id) || !str(o.name) || !str(o.url) || !num(o.incarnation) || !num(o.uptimeMs))
    return null
  if (!num(o.running) || !num(o.logLength) || !(o.dataBytes === null || num(o.dataBytes)))
    return null
  if (o.scribe !== undefined && typeof o.scribe !== 'boolean') return null
  const q = o.quorum as Record<string, unknown> | undefined
  const quorum =
    typeof q === 'object' &&
    q !== null &&
    typeof q.ok === 'boolean' &&
    num(q.reachable) &&
    num(q.voters) &&
    num(q.needed)
      ? { ok: q.ok, reachable: q.reachable, voters: q.voters, needed: q.needed }
      : undefined
  const kinds: readonly string[] = ['joined', 'dead', 'left', 'back', 'takeover']
  const events = (Array.isArray(o.events) ? o.events : []).slice(0, EVENTS_KEPT).flatMap((e) => {
    const x = e as Record<string, unknown>
    if (
      typeof x !== 'object' ||
      x === null ||
      !num(x.at) ||
      !str(x.kind) ||
      !kinds.includes(x.kind)
    )
      return []
    if (!str(x.node) || !num(x.incarnation) || !(x.detail === undefined || str(x.detail))) return []
    const event: StatusEvent = {
      at: x.at,
      kind: x.kind as StatusEventKind,
      node: x.node,
      incarnation: x.incarnation,
    }
    if (x.detail !== undefined) event.detail = x.detail as string
    return [event]
  })
  return {
    id: o.id,
    name: o.name,
    url: o.url,
    incarnation: o.incarnation,
    uptimeMs: o.uptimeMs,
    running: o.running,
    logLength: o.logLength,
    scribe: o.scribe === true,
    ...(quorum && { quorum }),
    ...(o.diskLow === true && { diskLow: true as const }),
    dataBytes: o.dataBytes as number | null,
    events,
  }
}
