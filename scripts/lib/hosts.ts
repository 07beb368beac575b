/**
 * Test hosts: network namespaces on one machine, each with its own address on a bridge that
 * lives in a namespace of its own, so several nodes run as they would on several machines.
 * The test process reaches them through an observer link (10.77.0.254) that a cut leaves
 * alone: a cut drops what a host exchanges with the other hosts only, in both directions
 * (nftables in the host's namespace), so the test still reads the cut-off node's /healthz and
 * its pages still hear from it. Loss on every link is nftables too; delay needs the kernel's
 * sch_netem, which not every kernel has: `degrade` says whether it took.
 *
 * Needs root, `ip` (iproute2) and `nft` (nftables). Every address is a test host's: traffic
 * never leaves the machine.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { randomBytes } from 'node:crypto'

const run = promisify(execFile)

/** The test hosts' network; the observer (this process's side) is .254. */
const SUBNET = '10.77.0'
const OBSERVER = `${SUBNET}.254`
/** Every namespace and link this harness makes starts with this, so leftovers can be found. */
const PREFIX = 'pdfc'

export interface Host {
  name: string
  /** The network namespace the host is. */
  ns: string
  /** Its address, 10.77.0.<n>. */
  ip: string
}

export interface TestHosts {
  hosts: Host[]
  /** The command prefix that runs a program on host i. */
  exec(i: number): string[]
  /** Drops everything host i exchanges with the other hosts, both ways, from now on. */
  cut(i: number): Promise<void>
  /** Splits the hosts in two: these on one side, the rest on the other. */
  split(side: number[]): Promise<void>
  /** Undoes every cut, split and `degrade`. */
  heal(): Promise<void>
  /**
   * Drops `lossPercent` of the packets on every host-to-host link, and delays them by
   * `delayMs` ± `jitterMs` where the kernel has netem. Resolves to whether the delay took.
   */
  degrade(o: { lossPercent: number; delayMs: number; jitterMs: number }): Promise<{
    delayed: boolean
    why?: string
  }>
  teardown(): Promise<void>
}

async function sh(cmd: string, args: string[], input?: string): Promise<string> {
  if (input === undefined) return (await run(cmd, args)).stdout
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, (err, stdout) => (err ? reject(err) : resolve(stdout)))
    child.stdin!.end(input)
  })
}

/**
 * Why test hosts cannot be made here (not root, no `ip` or `nft`), or null when they can.
 * A suite that needs them says this in one line and skips.
 */
export async function hostsUnavailable(): Promise<string | null> {
  if (process.getuid?.() !== 0) return 'test hosts need root (network namespaces)'
  for (const [tool, pkg] of [
    ['ip', 'iproute2'],
    ['nft', 'nftables'],
  ] as const) {
    try {
      await run(tool, ['-V'])
    } catch {
      return `test hosts need \`${tool}\` (apt-get install ${pkg})`
    }
  }
  return null
}

/** Removes what an earlier run that was killed left behind. */
async function removeLeftovers(): Promise<void> {
  const list = await sh('ip', ['netns', 'list']).catch(() => '')
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0]
    if (ns?.startsWith(`${PREFIX}-`)) await run('ip', ['netns', 'del', ns]).catch(() => {})
  }
  await run('ip', ['link', 'del', `${PREFIX}-obs`]).catch(() => {})
}

export async function createHosts(count: number): Promise<TestHosts> {
  if (count < 1 || count > 200) throw new Error('between 1 and 200 test hosts')
  await removeLeftovers()
  const tag = randomBytes(3).toString('hex')
  const bridgeNs = `${PREFIX}-${tag}-br`
  const hosts: Host[] = Array.from({ length: count }, (_, i) => ({
    name: `h${i + 1}`,
    ns: `${PREFIX}-${tag}-h${i + 1}`,
    ip: `${SUBNET}.${i + 1}`,
  }))
  const made: string[] = []
  const teardown = async () => {
    for (const ns of made.reverse()) await run('ip', ['netns', 'del', ns]).catch(() => {})
    await run('ip', ['link', 'del', `${PREFIX}-obs`]).catch(() => {})
  }
  try {
    await run('ip', ['netns', 'add', bridgeNs])
    made.push(bridgeNs)
    const inBridge = (...args: string[]) => run('ip', ['-n', bridgeNs, ...args])
    await inBridge('link', 'add', 'br0', 'type', 'bridge')
    await inBridge('link', 'set', 'br0', 'up')

    // The observer: this process's side of the bridge.
    await run('ip', ['link', 'add', `${PREFIX}-obs`, 'type', 'veth', 'peer', 'name', 'obs-br'])
    await run('ip', ['link', 'set', 'obs-br', 'netns', bridgeNs])
    await inBridge('link', 'set', 'obs-br', 'master', 'br0')
    await inBridge('link', 'set', 'obs-br', 'up')
    await run('ip', ['addr', 'add', `${OBSERVER}/24`, 'dev', `${PREFIX}-obs`])
    await run('ip', ['link', 'set', `${PREFIX}-obs`, 'up'])

    for (const [i, h] of hosts.entries()) {
      await run('ip', ['netns', 'add', h.ns])
      made.push(h.ns)
      const port = `${PREFIX}-${tag}-${i + 1}`.slice(0, 15)
      await run('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns])
      await run('ip', ['link', 'set', port, 'netns', bridgeNs])
      await inBridge('link', 'set', port, 'master', 'br0')
      await inBridge('link', 'set', port, 'up')
      const inHost = (...args: string[]) => run('ip', ['-n', h.ns, ...args])
      await inHost('addr', 'add', `${h.ip}/24`, 'dev', 'eth0')
      await inHost('link', 'set', 'eth0', 'up')
      await inHost('link', 'set', 'lo', 'up')
      await nft(
        h,
        `table inet ${PREFIX} {
          chain input { type filter hook input priority 0; policy accept; }
          chain output { type filter hook output priority 0; policy accept; }
        }`,
      )
    }
  } catch (err) {
    await teardown()
    throw new Error(`could not build the test hosts: ${(err as Error).message}`)
  }

  const others = (i: number) => hosts.filter((_, j) => j !== i).map((h) => h.ip)
  const set = (ips: string[]) => `{ ${ips.join(', ')} }`
  /** Each host drops, both ways, what it exchanges with the hosts on the other side. */
  async function split(side: number[]): Promise<void> {
    for (const [i, h] of hosts.entries()) {
      const mine = side.includes(i)
      const far = hosts.filter((_, j) => side.includes(j) !== mine).map((x) => x.ip)
      if (far.length === 0) continue
      await nft(
        h,
        `add rule inet ${PREFIX} input ip saddr ${set(far)} drop
         add rule inet ${PREFIX} output ip daddr ${set(far)} drop`,
      )
    }
  }
  return {
    hosts,
    exec: (i) => ['ip', 'netns', 'exec', hosts[i]!.ns],
    cut(i) {
      return split([i])
    },
    split,
    async heal() {
      for (const h of hosts) {
        await nft(h, `flush chain inet ${PREFIX} input\nflush chain inet ${PREFIX} output`)
        await run('tc', ['-n', h.ns, 'qdisc', 'del', 'dev', 'eth0', 'root']).catch(() => {})
      }
    },
    async degrade({ lossPercent, delayMs, jitterMs }) {
      let delayed = true
      let why: string | undefined
      for (const [i, h] of hosts.entries()) {
        if (lossPercent > 0 && hosts.length > 1) {
          await nft(
            h,
            `add rule inet ${PREFIX} output ip daddr ${set(others(i))} numgen random mod 100 < ${Math.round(lossPercent)} drop`,
          )
        }
        if (delayMs > 0 && delayed) {
          try {
            await run('tc', [
              ...['-n', h.ns, 'qdisc', 'replace', 'dev', 'eth0', 'root', 'netem'],
              ...['delay', `${delayMs}ms`, `${jitterMs}ms`],
            ])
          } catch (err) {
            delayed = false
            why = `no delay: this kernel has no sch_netem (${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()})`
          }
        }
      }
      return { delayed: delayed && delayMs > 0, why }
    },
    teardown,
  }
}

async function nft(h: Host, script: string): Promise<void> {
  await sh('ip', ['netns', 'exec', h.ns, 'nft', '-f', '-'], script + '\n')
}
