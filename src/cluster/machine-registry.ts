/**
 * How nodes on one machine find each other whatever their ports: each node started without
 * --bootstrap writes its DHT address to a file in a directory every node of this user reads
 * (`$PDF_CLUSTER_HOME/nodes`, by default `~/.pdf-cluster/nodes`), and bootstraps through the
 * addresses of the others. A file whose process is gone (a SIGKILL leaves it) is ignored and
 * removed; a clean stop removes its own. Several machines still need --bootstrap.
 */
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { HostPort } from '../config.ts'

/** `$PDF_CLUSTER_HOME/nodes`, by default `~/.pdf-cluster/nodes`. */
export function machineRegistryDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PDF_CLUSTER_HOME || join(homedir(), '.pdf-cluster'), 'nodes')
}

interface Entry extends HostPort {
  pid: number
}

/** Whether a process runs (EPERM: it does, as another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

export class MachineRegistry {
  private others: HostPort[] = []
  private readonly file: string

  constructor(
    private readonly dir: string,
    private readonly self: HostPort,
    private readonly pid = process.pid,
  ) {
    this.file = join(dir, `${self.host}-${self.port}.json`)
  }

  /** Registers this node. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    const entry: Entry = { ...this.self, pid: this.pid }
    await writeFile(this.file, JSON.stringify(entry) + '\n')
    await this.refresh()
  }

  /** The other nodes of this machine, as last read. */
  list(): HostPort[] {
    return this.others
  }

  /** Reads the directory again; a file that cannot be read is skipped, one of a dead node removed. */
  async refresh(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[])
    const found: HostPort[] = []
    for (const name of names) {
      if (!name.endsWith('.json') || join(this.dir, name) === this.file) continue
      const entry = await readFile(join(this.dir, name), 'utf8')
        .then((text) => JSON.parse(text) as Entry)
        .catch(() => null)
      if (!entry || typeof entry.port !== 'number' || typeof entry.host !== 'string') continue
      if (!Number.isSafeInteger(entry.pid) || !alive(entry.pid)) {
        // Skipped all the same when it cannot be removed (a directory shared read-only).
        await rm(join(this.dir, name), { force: true }).catch(() => {})
        continue
      }
      found.push({ host: entry.host, port: entry.port })
    }
    this.others = found
  }

  async stop(): Promise<void> {
    await rm(this.file, { force: true })
  }
}
