/** A WebSocket client that speaks the node's protocol, for tests and the benchmark. */
import WebSocket from 'ws'

const CONNECT_TIMEOUT_MS = 10_000

export type Message =
  | { type: 'download'; download: Record<string, any> | null }
  | { type: 'error'; message: string; code?: string }

/** GETs the page and returns the session cookie the node set. */
export async function sessionCookie(baseUrl: string): Promise<string> {
  const res = await fetch(baseUrl + '/')
  const setCookie = res.headers.get('set-cookie')
  if (!setCookie) throw new Error('no session cookie set')
  await res.arrayBuffer()
  return setCookie.split(';')[0] as string
}

export class Client {
  readonly messages: Message[] = []
  /** Date.now() at the arrival of each message, index for index. */
  readonly times: number[] = []
  private waiters: { test: (m: Message) => boolean; resolve: (m: Message) => void }[] = []
  closed: Promise<{ code: number; reason: string }>

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as Message
      this.messages.push(m)
      this.times.push(Date.now())
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(m)) return true
        w.resolve(m)
        return false
      })
    })
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })),
    )
    // An error after the socket opened (a node killed or cut off) is followed by 'close',
    // which is what callers watch; unheard, it would crash the process.
    ws.on('error', () => {})
  }

  static connect(
    baseUrl: string,
    cookie: string,
    headers: Record<string, string> = {},
  ): Promise<Client> {
    const ws = new WebSocket(baseUrl.replace(/^http/, 'ws') + '/ws', {
      headers: { cookie, ...headers },
    })
    const client = new Client(ws)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        ws.terminate()
        reject(new Error(`no answer to the upgrade at ${baseUrl} within ${CONNECT_TIMEOUT_MS} ms`))
      }, CONNECT_TIMEOUT_MS)
      ws.once('open', () => {
        clearTimeout(timer)
        resolve(client)
      })
      ws.once('error', (err) => {
        clearTimeout(timer)
        reject(err)
      })
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(timer)
        reject(new Error(`upgrade refused: ${res.statusCode}`))
      })
    })
  }

  send(value: unknown): void {
    this.ws.send(typeof value === 'string' ? value : JSON.stringify(value))
  }

  /** The first message (already received or still to come) that passes the test. */
  next(test: (m: Message) => boolean, timeoutMs = 15_000, what = 'message'): Promise<Message> {
    const seen = this.messages.find(test)
    if (seen) return Promise.resolve(seen)
    return this.wait(test, timeoutMs, what)
  }

  /** The next message still to come that passes the test. */
  wait(test: (m: Message) => boolean, timeoutMs = 15_000, what = 'message'): Promise<Message> {
    return new Promise((resolve, reject) => {
      // What the page was told last says why, when it was told something else (a refusal).
      const timer = setTimeout(() => {
        const last = this.messages
          .slice(-3)
          .map((m) => JSON.stringify(m).slice(0, 300))
          .join(' | ')
        reject(
          new Error(
            `timed out after ${timeoutMs} ms waiting for ${what}; last messages: ${last || 'none'}`,
          ),
        )
      }, timeoutMs)
      this.waiters.push({
        test,
        resolve: (m) => {
          clearTimeout(timer)
          resolve(m)
        },
      })
    })
  }

  /**
   * The message at `index` of `messages`, once it has come: 'closed' if the socket closes
   * first, 'timeout' after `timeoutMs`.
   */
  at(index: number, timeoutMs: number): Promise<Message | 'closed' | 'timeout'> {
    if (this.messages.length > index) return Promise.resolve(this.messages[index]!)
    if (this.ws.readyState === this.ws.CLOSED) return Promise.resolve('closed')
    return new Promise((resolve) => {
      const done = (r: Message | 'closed' | 'timeout') => {
        clearTimeout(timer)
        this.ws.off('close', onClose)
        this.waiters = this.waiters.filter((w) => w !== waiter)
        resolve(r)
      }
      const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs))
      const onClose = () => done('closed')
      this.ws.on('close', onClose)
      const waiter = {
        test: () => this.messages.length > index,
        resolve: () => done(this.messages[index]!),
      }
      this.waiters.push(waiter)
    })
  }

  /** The first download message (already received or still to come) whose record passes the test. */
  seen(
    test: (d: Record<string, any> | null) => boolean,
    timeoutMs?: number,
    what = 'download',
  ): Promise<Record<string, any> | null> {
    return this.next((m) => m.type === 'download' && test(m.download), timeoutMs, what).then(
      (m) => (m as { download: Record<string, any> | null }).download,
    )
  }

  /** The next download message whose record passes the test. */
  download(
    test: (d: Record<string, any> | null) => boolean,
    timeoutMs?: number,
    what = 'download',
  ): Promise<Record<string, any> | null> {
    return this.wait((m) => m.type === 'download' && test(m.download), timeoutMs, what).then(
      (m) => (m as { download: Record<string, any> | null }).download,
    )
  }

  close(): void {
    this.ws.close()
  }
}
