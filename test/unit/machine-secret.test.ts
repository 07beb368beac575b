import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadMachineSecret, machineSecretPath } from '../../src/machine-secret.ts'
import { tempDir } from '../helpers/node.ts'

test('the secret is made once, kept private, and the same for every node after', async () => {
  const dir = await tempDir()
  try {
    const path = machineSecretPath({ PDF_CLUSTER_HOME: join(dir.path, 'home') })
    const first = await loadMachineSecret(path)
    assert.ok(first.length >= 24)
    assert.is(await loadMachineSecret(path), first)
    assert.is((await stat(path)).mode & 0o777, 0o600)
  } finally {
    await dir.remove()
  }
})

test('two nodes starting at once end with the same secret', async () => {
  const dir = await tempDir()
  try {
    const path = join(dir.path, 'cluster-secret')
    let n = 0
    const made = () => `secret-number-${++n}`
    // Many at once: one that finds the file created must never read it half-written.
    const all = await Promise.all(Array.from({ length: 20 }, () => loadMachineSecret(path, made)))
    assert.equal(new Set(all).size, 1, 'one secret for all')
    assert.is((await readFile(path, 'utf8')).trim(), all[0])
    assert.equal(await readdir(dir.path), ['cluster-secret'], 'no draft left behind')
  } finally {
    await dir.remove()
  }
})

test('a file that holds no usable secret is an error, not a silent new secret', async () => {
  const dir = await tempDir()
  try {
    const path = join(dir.path, 'cluster-secret')
    await writeFile(path, 'short\n')
    await loadMachineSecret(path).then(
      () => assert.unreachable('should refuse'),
      (err: Error) => assert.match(err.message, /no usable secret/),
    )
  } finally {
    await dir.remove()
  }
})

test.run()
