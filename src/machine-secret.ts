/**
 * The cluster secret of this machine, for nodes started without --secret: generated once and
 * kept where every node of this user finds it, so nodes started by hand join the cluster that
 * `npm start` launched. Other machines cannot know it; a node reachable from them needs an
 * explicit secret (config.ts refuses it otherwise).
 */
import { randomBytes } from 'node:crypto'
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

/** `$PDF_CLUSTER_HOME/cluster-secret`, by default `~/.pdf-cluster/cluster-secret`. */
export function machineSecretPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.PDF_CLUSTER_HOME || join(homedir(), '.pdf-cluster'), 'cluster-secret')
}

/**
 * Reads the machine's secret, creating it if there is none. Two nodes starting at once both
 * end with the one that was written first: creation is exclusive, and whole (the secret is
 * written to a file of its own, then linked into place, so nobody reads a half-written one).
 */
export async function loadMachineSecret(
  path = machineSecretPath(),
  initial = () => randomBytes(24).toString('base64url'),
): Promise<string> {
  const existing = await read(path)
  if (existing) return existing
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const draft = `${path}.${process.pid}.${randomBytes(4).toString('hex')}`
  await writeFile(draft, initial() + '\n', { flag: 'wx', mode: 0o600 })
  try {
    await link(draft, path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
  } finally {
    await rm(draft, { force: true })
  }
  const secret = await read(path)
  if (!secret) throw new Error(`${path} holds no usable secret (8 characters at least)`)
  return secret
}

async function read(path: string): Promise<string | null> {
  try {
    const secret = (await readFile(path, 'utf8')).trim()
    return secret.length >= 8 ? secret : null
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw new Error(`cannot read the cluster secret in ${path}: ${(err as Error).message}`)
  }
}
