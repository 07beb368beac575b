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

export async function freeUdpPorts(count: number): Promise<number[]> {
  const [low, high] = pickRange()
  const ports: number[] = []
  while (ports.length < count) {
    const port = low + Math.floor(Math.random() * (high - low))
    const free = await new Promise<boolean>((resolve) => {
      const socket = createSocket('udp4')
      socket.once('error', () => resolve(false))
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)))
    })
    if (free && !ports.includes(port)) ports.push(port)
  }
  return ports
}

export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}
