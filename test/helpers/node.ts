/** Starts real nodes in this process on free loopback ports with temporary data directories. */
import { resolveConfig, type Config } from '../../src/config.ts'
import { startNode, type NodeDeps, type RunningNode } from '../../src/node.ts'
import { createLogger, silentLogger, type Logger } from '../../src/logger.ts'
export { tempDir } from '../../scripts/lib/temp-dir.ts'

/**
 * The cluster secret of this test process's nodes. Its own, so that clusters of two test files
 * running side by side never meet: two files can pick the same DHT port (each checks that it is
 * free, then binds it a moment later), and then their DHTs are one, so a shared secret (and
 * topic) would merge their clusters, nodes named alike in both.
 */
export const TEST_SECRET = `test-cluster-secret-${process.pid}`

export function testConfig(over: Partial<Config> = {}): Config {
  return resolveConfig({
    port: 0,
    dhtPort: 0,
    bootstrap: [],
    secret: TEST_SECRET,
    ...over,
  })
}

/** Logs show up only with DEBUG=1, so test output stays readable. */
export function testLogger(name: string): Logger {
  return process.env.DEBUG ? createLogger(name) : silentLogger
}

export async function startTestNode(
  over: Partial<Config> & { dataDir: string },
  deps: NodeDeps = {},
): Promise<RunningNode> {
  const config = testConfig(over)
  return startNode(config, { log: testLogger(config.name), ...deps })
}
