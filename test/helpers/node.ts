/** Starts real nodes in this process on free loopback ports with temporary data directories. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig, type Config } from '../../src/config.ts'
import { startNode, type NodeDeps, type RunningNode } from '../../src/node.ts'
import { createLogger, silentLogger } from '../../src/logger.ts'

export async function tempDir(
  prefix = 'pdf-cluster-test-',
): Promise<{ path: string; remove(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix))
  return {
    path,
    remove: () => rm(path, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 }),
  }
}

export function testConfig(over: Partial<Config> = {}): Config {
  const c = parseConfig([], {})
  if (c === 'help') throw new Error('unreachable')
  return {
    ...c,
    port: 0,
    dhtPort: 0,
    bootstrap: [],
    secret: 'test-cluster-secret',
    devSecret: false,
    ...over,
  }
}

/** Logs show up only with DEBUG=1, so test output stays readable. */
export function testLogger(name: string) {
  return process.env.DEBUG ? createLogger(name) : silentLogger
}

export async function startTestNode(
  over: Partial<Config> & { dataDir: string },
  deps: NodeDeps = {},
): Promise<RunningNode> {
  const config = testConfig(over)
  return startNode(config, { log: testLogger(config.name), ...deps })
}
