import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { GeneratorModuleError, loadGeneratorModule } from '../../src/downloads/generator-module.ts'
import { tempDir } from '../helpers/node.ts'

async function refusal(path: string, cwd: string): Promise<string> {
  try {
    await loadGeneratorModule(path, cwd)
  } catch (err) {
    assert.instance(err, GeneratorModuleError)
    const message = (err as Error).message
    assert.not.match(message, /\n/, 'one line')
    assert.ok(message.startsWith(`job module ${path} (`), message)
    return message
  }
  throw new Error(`${path} loaded`)
}

test('a module that cannot be a job is refused with one line naming the path and the problem', async () => {
  const dir = await tempDir()
  try {
    const at = (name: string, text: string) => writeFile(join(dir.path, name), text)
    await at('nothing.mjs', 'export const x = 1\n')
    await at('norun.mjs', "export default { name: 'x' }\n")
    await at('noname.mjs', 'export default { run() {} }\n')
    await at('fn.mjs', 'export default function run() {}\n')
    await at('badvalidate.mjs', "export default { name: 'x', run() {}, validate: 3 }\n")
    await at('syntax.mjs', 'export default {\n')
    await at('throws.mjs', "throw new Error('no database configured')\n")
    await mkdir(join(dir.path, 'folder.mjs'))

    assert.match(await refusal('./missing.mjs', dir.path), /does not exist$/)
    assert.match(
      await refusal('failng', dir.path),
      /^job module failng \(.*\) is not a built-in job \(pdf, failing\), nor a file$/,
    )
    assert.match(await refusal('./folder.mjs', dir.path), /is not a file$/)
    assert.match(await refusal('./nothing.mjs', dir.path), /has no default export/)
    assert.match(await refusal('./norun.mjs', dir.path), /has no run\(job, ctx\) function/)
    assert.match(await refusal('./noname.mjs', dir.path), /has no name/)
    assert.match(await refusal('./fn.mjs', dir.path), /exports a function by default/)
    assert.match(await refusal('./badvalidate.mjs', dir.path), /validate .* not a function/)
    // What and where: Node's import says only what.
    const syntax = await refusal('./syntax.mjs', dir.path)
    assert.match(syntax, /did not load: SyntaxError|did not load: Unexpected/)
    assert.ok(syntax.endsWith(` at ${join(dir.path, 'syntax.mjs')}:2`), syntax)
    assert.match(await refusal('./throws.mjs', dir.path), /did not load: no database configured/)
    // TypeScript goes through tsx, whose message says where on its second line.
    await at('syntax.ts', 'export default {\n  run() { return (1 }\n}\n')
    const ts = await refusal('./syntax.ts', dir.path)
    assert.ok(ts.includes(`${join(dir.path, 'syntax.ts')}:2:`), ts)
    assert.ok((await refusal('./missing.mjs', dir.path)).includes(join(dir.path, 'missing.mjs')))
  } finally {
    await dir.remove()
  }
})

test('a module whose top-level code never finishes is refused after the load timeout, saying so', async () => {
  const dir = await tempDir()
  try {
    await writeFile(
      join(dir.path, 'waits.mjs'),
      "await new Promise(() => {})\nexport default { name: 'x', run() {} }\n",
    )
    let message = ''
    await loadGeneratorModule('./waits.mjs', dir.path, 300).catch((err) => {
      assert.instance(err, GeneratorModuleError)
      message = err.message
    })
    assert.match(
      message,
      /^job module \.\/waits\.mjs \(.*\) did not finish loading in 300 ms \(its top-level code is still waiting on something\)$/,
    )
  } finally {
    await dir.remove()
  }
})

test('a JavaScript or TypeScript module with a default generator loads, from the working directory', async () => {
  const dir = await tempDir()
  try {
    await writeFile(
      join(dir.path, 'job.mjs'),
      "export default { name: 'js-job', run: async () => ({ bytes: Buffer.from('x'), filename: 'x', contentType: 'text/plain' }) }\n",
    )
    await writeFile(
      join(dir.path, 'job.ts'),
      "const limit: number = 3\nexport default { name: 'ts-job', validate: (p: Record<string, unknown>) => (Object.keys(p).length > limit ? 'too many' : null), run: async () => ({ bytes: Buffer.from('y'), filename: 'y', contentType: 'text/plain' }) }\n",
    )
    assert.is((await loadGeneratorModule('./job.mjs', dir.path)).name, 'js-job')
    const ts = await loadGeneratorModule('job.ts', dir.path)
    assert.is(ts.name, 'ts-job')
    assert.is(ts.validate?.({ a: 1, b: 2, c: 3, d: 4 }), 'too many')
    assert.is((await loadGeneratorModule(join(dir.path, 'job.mjs'), '/')).name, 'js-job')
  } finally {
    await dir.remove()
  }
})

test.run()
