/**
 * The downloads contract the web layer calls, and nothing more: start, dismiss, read and
 * follow a user's download, and open its file. manager.ts implements it; the web layer's tests
 * use a fake.
 */
import type { Readable } from 'node:stream'
import type { Download, Params } from '../store/record.ts'

/** A record as a client should see it: with the freshest progress and when it was measured. */
/**
 * A download as a client is shown it: `progressAt` when its worker measured `progress`; and
 * `savedProgress`, the record's own, when `progress` is a value held above it after a failover.
 */
export type DownloadView = Download & { progressAt?: number; savedProgress?: number }

export type DownloadEvent =
  { type: 'download'; download: DownloadView | null } | { type: 'error'; message: string }

/**
 * Told of every change to a user's download. An object rather than a callback, so that each
 * of thousands of idle sockets is its own listener and holds no closure for it.
 */
export interface Listener {
  onDownloadEvent(event: DownloadEvent): void
}

/** A ready download's file, as the web layer serves it. */
export interface OpenedFile {
  id: string
  /** The name a browser saves it under. */
  filename: string
  contentType: string
  /** Null while the file cannot be had on this node yet (no peer holding it reachable). */
  content: { size: number; stream(range?: { start: number; end: number }): Readable } | null
}

export interface DownloadService {
  /** The user's download as a client should see it now, or null. */
  current(userId: string): DownloadView | null
  /**
   * Starts a download with these parameters (`{}` by default); refused with
   * DownloadConflictError while the user has one, InvalidParamsError if the generator refuses.
   */
  request(userId: string, params?: Params): Promise<DownloadView>
  /** Clears the user's download (cancelling it if it runs); resolves to what was dismissed. */
  dismiss(userId: string): Promise<DownloadView | null>
  /** Every change to the user's download, and notices meant for the user, until `unsubscribe`. */
  subscribe(userId: string, listener: Listener): void
  unsubscribe(userId: string, listener: Listener): void
  /**
   * The file of a ready download, for its own user only; null if unknown, expired or foreign;
   * 'not-ready' while the user's download is being made (again: a page can hold the link of a
   * node that died before the others heard its download was ready, and another took it over).
   */
  openFile(id: string, userId: string): Promise<OpenedFile | 'not-ready' | null>
}
