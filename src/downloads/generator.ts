/**
 * The job contract (README, "Your own job"): what turns a download into a file. A node runs
 * one generator, the built-in PDF report or a module of the user's (generator-module.ts). A
 * generator is resumable: it reports a checkpoint with its progress and is handed the last
 * one that reached the cluster when an attempt starts again, on this node or another.
 */
import type { Readable } from 'node:stream'
import type { Checkpoint, Params } from '../store/record.ts'

export interface Job {
  id: string
  userId: string
  /** What the user asked for, as `validate` accepted it (`{}` when nothing was). */
  params: Params
  /** Progress of the checkpoint this attempt starts from (0 on a fresh start). */
  progress: number
  /** The last checkpoint that reached the cluster, or null on a fresh start. */
  checkpoint: Checkpoint | null
  /** 1 for the first attempt, raised by every retry after the generator threw. */
  attempt: number
  createdAt: number
  /** The node running this attempt, for the report. */
  nodeName: string
}

export interface RunContext {
  /** Aborted when the download is dismissed, taken over (fenced) or the node shuts down. */
  signal: AbortSignal
  /**
   * Progress 0-99 (100 is the file being ready) and the state to resume from, a flat object
   * of strings, numbers, booleans and nulls. Call it often (the page's bar moves with it);
   * the nodes next in line for the download keep a copy every 10 percent, the log one every
   * `--log-checkpoint-ms`. A bad argument fails the download at once (README, Your own job).
   */
  report(progress: number, checkpoint: Checkpoint): void
}

interface FileMeta {
  filename: string
  contentType: string
}

/** The file, whole in memory or as a stream that is written to the store as it comes. */
export type GeneratedFile =
  | (FileMeta & { bytes: Buffer | Uint8Array; stream?: undefined })
  | (FileMeta & { stream: Readable; bytes?: undefined })

/** A file whole in memory: what the built-in generators make. */
export type BytesFile = FileMeta & { bytes: Buffer; stream?: undefined }

export interface Generator<File extends GeneratedFile = GeneratedFile> {
  readonly name: string
  /** What the page calls the file, as in "Download your CSV export". @default 'file' */
  readonly label?: string
  /**
   * The parameters' problem for the user, or nothing when they will do (or a promise of
   * either). Called on the node the request arrives at, before anything is written.
   */
  validate?(
    params: Params,
  ): string | null | undefined | void | Promise<string | null | undefined | void>
  run(job: Job, ctx: RunContext): Promise<File>
}

/** Waits `ms`, or rejects with the signal's reason once it is aborted. */
export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>
