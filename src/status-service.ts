/**
 * What the status page shows, gathered: this node's own figures and events (`/status.json`),
 * and the cluster's, from every live member's `/status.json` asked over HTTP (each answers
 * for itself; one that does not answer in time is shown without its figures, and with the
 * events it told last). Gathered at most twice a second, however many pages watch.
 */
import {
  mergeStatus,
  parseNodeSelf,
  type ClusterStatus,
  type NodeSelf,
  type StatusEvent,
  type StatusEvents,
} from './cluster-status.ts'
import type { Member } from './cluster/member.ts'

export interface StatusServiceOptions {
  /** This node's figures, but for its disk use and events. */
  self(): Omit<NodeSelf, 'dataBytes' | 'events'>
  dataBytes(): Promise<number>
  events: StatusEvents
  members(): Member[]
  /** Cluster time. */
  now(): number
  /** @default 800 */
  peerTimeoutMs?: number
}

/** How long a gathered status is shown again rather than asked anew. */
const FRESH_MS = 400

export function statusService(o: StatusServiceOptions) {
  const timeoutMs = o.peerTimeoutMs ?? 800
  let last: { at: number; status: Promise<ClusterStatus> } | null = null
  /** Each member's events as it last told them: shown while it does not answer (dead, say). */
  const heard = new Map<string, StatusEvent[]>()

  const self = async (): Promise<NodeSelf> => ({
    ...o.self(),
    dataBytes: await o.dataBytes().catch(() => null),
    events: o.events.list(),
  })

  async function ask(member: Member): Promise<NodeSelf | null> {
    try {
      const res = await fetch(`${member.url}/status.json`, {
        signal: AbortSignal.timeout(timeoutMs),
      })
      return res.ok ? parseNodeSelf(await res.json()) : null
    } catch {
      return null
    }
  }

  async function gather(): Promise<ClusterStatus> {
    const mine = await self()
    const members = o.members()
    const selves = new Map<string, NodeSelf>([[mine.id, mine]])
    await Promise.all(
      members
        .filter((m) => m.id !== mine.id && (m.status === 'alive' || m.status === 'suspect'))
        .map(async (m) => {
          const theirs = await ask(m)
          if (theirs?.id === m.id) selves.set(m.id, theirs)
        }),
    )
    const listed = new Set(members.map((m) => m.id))
    for (const id of heard.keys()) if (!listed.has(id)) heard.delete(id)
    for (const [id, s] of selves) if (id !== mine.id) heard.set(id, s.events)
    const unheard = [...heard].filter(([id]) => !selves.has(id)).map(([, events]) => events)
    return mergeStatus(o.now(), mine.name, members, selves, unheard)
  }

  return {
    self,
    cluster(): Promise<ClusterStatus> {
      const now = o.now()
      if (!last || now - last.at >= FRESH_MS) last = { at: now, status: gather() }
      return last.status
    },
  }
}
