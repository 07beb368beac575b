/** Ports that were free a moment ago, for nodes started by tests and the benchmark. */
import { createSocket } from 'node:dgram'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'

/**
 * Where the ports a node is told to bind are picked: below the kernel's ephemeral range. A
 * port picked inside it was taken, between the check and the bind, by another node's socket
 * bound to port 0 (each node's own DHT node, its UDX sockets): "--dht-port ... is already in
 * use", once in a CI run.
 */
function pickRange(): [number, number] {
  try {
    const first = Number(
      readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').split(/\s+/)[0],
    )
    if (first > 12_000) return [10_000, first]
  } catch {
    // not Linux: the usual default
  }
  return [20_000, 32_768]
}

/** Ports handed out by this process: none is handed out twice. */
const handedOut = new Set<number>()

/** A port below the ephemeral range that `bindable` says is free now, not handed out before. */
async function pick(bindable: (port: number) => Promise<boolean>): Promise<number> {
  const [low, high] = pickRange()
  for (;;) {
    const port = low + Math.floor(Math.random() * (high - low))
    if (handedOut.has(port) || !(await bindable(port))) continue
    handedOut.add(port)
    return port
  }
}

export async function freeUdpPorts(count: number): Promise<number[]> {
  const ports: number[] = []
  while (ports.length < count) {
    ports.push(
      await pick(
        (port) =>
          new Promise<boolean>((resolve) => {
            const socket = createSocket('udp4')
            socket.once('error', () => resolve(false))
            socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)))
          }),
      ),
    )
  }
  return ports
}

/**
 * A TCP port free a moment ago, below the ephemeral range for the reason above: one picked by
 * binding port 0 was taken by another node's socket before its node bound it ("listen
 * EADDRINUSE", once in a CI run).
 */
export function freeTcpPort(): Promise<number> {
  return pick(
    (port) =>
      new Promise<boolean>((resolve) => {
        const server = createServer()
        server.once('error', () => resolve(false))
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
      }),
  )
}
