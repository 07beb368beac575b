/**
 * Asks a Node process started with `--inspect=127.0.0.1:0` to collect its garbage, over the
 * inspector (Chrome DevTools Protocol): so a memory figure counts what is held, not what is
 * merely not collected yet. Used by the bench on both systems alike.
 */
import WebSocket from 'ws'

const LISTENING = /Debugger listening on (ws:\/\/\S+)/

/** The inspector's address a process printed; the last one, for a node under `npm run`. */
export function inspectorUrl(lines: string[]): string {
  const url = lines
    .map((l) => LISTENING.exec(l)?.[1])
    .filter(Boolean)
    .at(-1)
  if (!url) throw new Error('the process printed no inspector address (started without --inspect?)')
  return url
}

export async function collectGarbage(url: string): Promise<void> {
  const ws = new WebSocket(url)
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
    })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the inspector did not answer')), 10_000)
      ws.on('message', (data) => {
        if ((JSON.parse(String(data)) as { id?: number }).id !== 1) return
        clearTimeout(timer)
        resolve()
      })
      ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }))
    })
  } finally {
    ws.close()
  }
}
