import { connect } from 'node:net'

/**
 * Sends `head` (a request line and headers, without the blank line) as it is, bypassing
 * fetch's own URL checks, and resolves with the status line of the answer ('' if the
 * connection closed without one).
 */
export function rawRequest(port: number, head: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n`))
    let reply = ''
    socket.on('data', (d) => {
      reply += d
      if (reply.includes('\r\n')) socket.destroy()
    })
    socket.on('error', () => {})
    socket.on('close', () => resolve(reply.split('\r\n')[0] ?? ''))
  })
}
