/**
 * What the downloads layer tells whoever counts its work (metrics.ts): each event once, on the
 * node where it happened, so that summing a counter over the nodes gives the cluster's figure.
 * Calls are cheap and never throw.
 */
export interface DownloadObserver {
  /** A request accepted on this node. */
  requested(): void
  /** A fresh download's first progress, here: seconds since it was requested. */
  waited(seconds: number): void
  /** A download this node finished: seconds its last attempt worked. */
  completed(workSeconds: number): void
  /** A download this node failed for good (its last attempt threw). */
  failed(): void
  /** A download this node took over from a dead owner (its name), resuming at `progress` %. */
  tookOver(from: string, progress: number): void
  /** A progress tick from another node: seconds from its measurement to its arrival here. */
  relayed(seconds: number): void
}

/** Tells each observer, in turn. */
export function fanOut(...observers: DownloadObserver[]): DownloadObserver {
  return {
    requested: () => observers.forEach((o) => o.requested()),
    waited: (s) => observers.forEach((o) => o.waited(s)),
    completed: (s) => observers.forEach((o) => o.completed(s)),
    failed: () => observers.forEach((o) => o.failed()),
    tookOver: (from, p) => observers.forEach((o) => o.tookOver(from, p)),
    relayed: (s) => observers.forEach((o) => o.relayed(s)),
  }
}

export const noObserver: DownloadObserver = {
  requested() {},
  waited() {},
  completed() {},
  failed() {},
  tookOver() {},
  relayed() {},
}
