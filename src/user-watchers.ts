/**
 * The library's watchers of one user's download (index.ts, `watch`): what a page's socket gets,
 * live progress included. A node relays a worker's ticks only to nodes whose clients watch
 * that user (cluster/relay.ts), so `onDownload`, which hears every record's changes, sees a
 * download's start and end but none of its progress; a watcher registers the same interest a
 * page does. It follows the node across the runner's restarts (`attach`).
 */
import type { DownloadEvent, DownloadView, Listener } from './downloads/service.ts'
import { toPublic, type PublicDownload } from './web/protocol.ts'
import { callAll } from './call-all.ts'

/** The part of the download manager a watcher needs (downloads/manager.ts). */
export interface Subscriptions {
  subscribe(userId: string, listener: Listener): void
  unsubscribe(userId: string, listener: Listener): void
  current(userId: string): DownloadView | null
}

type Watcher = (download: PublicDownload | null) => void

/** One user's watchers, and the listener that serves them on the node of the moment. */
class UserFeed implements Listener {
  readonly watchers = new Set<Watcher>()

  constructor(private readonly userId: string) {}

  onDownloadEvent(event: DownloadEvent): void {
    if (event.type !== 'download') return
    // The feed logs what a watcher threw (`listener-failed`).
    callAll(this.watchers, toPublic(event.download), `watchers of ${this.userId}`)
  }
}

export class UserWatchers {
  private readonly feeds = new Map<string, UserFeed>()
  private node: Subscriptions | null = null

  /** Serves every watcher from `node` from now on (a node started, or started again). */
  attach(node: Subscriptions): void {
    this.node = node
    for (const [userId, feed] of this.feeds) node.subscribe(userId, feed)
  }

  /** Calls `watcher` with the user's download now, then on each change; returns the unwatch. */
  watch(userId: string, watcher: Watcher): () => void {
    let feed = this.feeds.get(userId)
    if (!feed) {
      feed = new UserFeed(userId)
      this.feeds.set(userId, feed)
      this.node?.subscribe(userId, feed)
    }
    feed.watchers.add(watcher)
    watcher(toPublic(this.node?.current(userId) ?? null))
    const mine = feed
    return () => {
      if (!mine.watchers.delete(watcher) || mine.watchers.size > 0) return
      this.feeds.delete(userId)
      this.node?.unsubscribe(userId, mine)
    }
  }

  /** Drops every watcher (the node closes). */
  clear(): void {
    for (const [userId, feed] of this.feeds) this.node?.unsubscribe(userId, feed)
    this.feeds.clear()
  }
}
