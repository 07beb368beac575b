/**
 * Background threads yield to the event loop. A node's loop answers heartbeats (a late one
 * makes peers suspect it) and relays progress; on a machine short of CPU it should be served
 * before the work that can wait a little: V8's compiler and garbage-collector helpers, and the
 * thread that renders reports (render-worker.ts). Measured on this project's two-core machine,
 * V8's helpers took about a quarter of a node's CPU in a burst of downloads, nearly all of it
 * TurboFan compiling the code the burst made hot, at the loop's own priority.
 *
 * Linux only (a thread's priority is set by its id); elsewhere, or if refused, nothing changes.
 */
import { readdirSync, readlinkSync } from 'node:fs'
import { setPriority } from 'node:os'

/** The nice of a background thread: its turns come after the loop's when both want a core. */
const BACKGROUND_NICE = 10

/** Node's default size of V8's pool of helper threads (`--v8-pool-size`). */
const DEFAULT_V8_POOL_SIZE = 4

/**
 * The threads of V8's platform among a process's threads, by the order Node starts them: the
 * main thread, then the platform's delayed-task thread and its `poolSize` workers, before the
 * signal thread and libuv's pool. Thread ids grow within a process, so sorted ids give that
 * order (other processes' threads may fall between them). Should the ids wrap around
 * (`pid_max`) while Node starts, the choice is off: a wrong thread lowered or V8's left as
 * they were, nothing worse.
 */
export function v8HelperThreads(threadIds: number[], mainId: number, poolSize: number): number[] {
  const after = threadIds.filter((id) => id > mainId).sort((a, b) => a - b)
  return after.slice(0, 1 + poolSize)
}

/** `--v8-pool-size` as Node reads it: the command line's, else NODE_OPTIONS', else the default. */
export function v8PoolSize(execArgv: string[], nodeOptions = ''): number {
  const args = [...nodeOptions.split(/\s+/), ...execArgv]
  let size = DEFAULT_V8_POOL_SIZE
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i]!.split('=', 2)
    if (flag !== '--v8-pool-size') continue
    const n = Number(inline ?? args[i + 1])
    // 0 lets Node pick from the CPUs; the default is then the best guess at the count.
    if (Number.isInteger(n) && n > 0) size = n
  }
  return size
}

/**
 * Lowers V8's helper threads of this process to BACKGROUND_NICE, from the main thread, once
 * (they are found by the order they started, so any time will do; threads the main thread
 * makes later start at its own priority and are left alone). Returns the ids it lowered.
 */
export function lowerV8Helpers(): number[] {
  if (process.platform !== 'linux') return []
  try {
    const ids = readdirSync('/proc/self/task').map(Number)
    const helpers = v8HelperThreads(
      ids,
      process.pid,
      v8PoolSize(process.execArgv, process.env.NODE_OPTIONS),
    )
    for (const id of helpers) setPriority(id, BACKGROUND_NICE)
    return helpers
  } catch {
    return []
  }
}

/** Lowers the calling thread (a worker thread's own) to BACKGROUND_NICE. */
export function lowerThisThread(): boolean {
  if (process.platform !== 'linux') return false
  try {
    // "/proc/thread-self" names this thread's task: "<pid>/task/<tid>".
    setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), BACKGROUND_NICE)
    return true
  } catch {
    return false
  }
}
