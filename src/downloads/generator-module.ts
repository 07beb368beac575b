/**
 * A job of the user's own (`--generator ./my-job.mjs`): a JavaScript or TypeScript module,
 * resolved from the working directory, whose default export is a generator (generator.ts).
 * A module that does not load, or does not have that shape, stops the node at start with one
 * line naming the path and what is wrong: a node that started would fail every download.
 */
import { execFile } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { isAbsolute, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Generator } from './generator.ts'

export class GeneratorModuleError extends Error {}

/** The jobs `--generator` names rather than points to. */
export const BUILT_IN_JOBS: ReadonlySet<string> = new Set(['pdf', 'failing'])

const TYPESCRIPT = /\.[mc]?tsx?$/
/** How plain Node refuses TypeScript: not at all (20), or beyond what it strips (22+). */
const PLAIN_NODE_REFUSED = [
  'ERR_UNKNOWN_FILE_EXTENSION',
  'ERR_UNSUPPORTED_TYPESCRIPT_SYNTAX',
  'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING',
  'ERR_MODULE_NOT_FOUND',
]

/**
 * How long a module's top-level code may take: one that awaits a connection that never comes
 * would otherwise hold its node at start with nothing said.
 */
export const LOAD_TIMEOUT_MS = 30_000

/** Loads and checks the module at `path` (relative to `cwd`). Throws GeneratorModuleError. */
export async function loadGeneratorModule(
  path: string,
  cwd = process.cwd(),
  timeoutMs = LOAD_TIMEOUT_MS,
): Promise<Generator> {
  const file = isAbsolute(path) ? path : resolve(cwd, path)
  const fail = (why: string) => new GeneratorModuleError(`job module ${path} (${file}) ${why}`)
  const found = await stat(file).catch(() => null)
  // A bare word was likely meant as a built-in job's name, mistyped.
  if (!found && /^[\w-]+$/.test(path))
    throw fail(`is not a built-in job (${[...BUILT_IN_JOBS].join(', ')}), nor a file`)
  if (!found) throw fail('does not exist')
  if (!found.isFile()) throw fail('is not a file')
  let loaded: unknown
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new LoadTimeout()), timeoutMs)
  })
  try {
    loaded = await Promise.race([importModule(file), late])
  } catch (err) {
    if (err instanceof LoadTimeout)
      throw fail(
        `did not finish loading in ${seconds(timeoutMs)} (its top-level code is still waiting on something)`,
      )
    const where = err instanceof SyntaxError ? await syntaxErrorAt(file) : null
    throw fail(`did not load: ${firstLine(err)}${where ? ` at ${where}` : ''}`)
  } finally {
    clearTimeout(timer)
  }
  const problem = shapeProblem((loaded as { default?: unknown }).default)
  if (problem) throw fail(problem)
  return (loaded as { default: Generator }).default
}

/** What keeps a module's default export from being a generator, or null. */
export function shapeProblem(value: unknown): string | null {
  const expected = 'export default { name, run(job, ctx) }'
  if (value === undefined) return `has no default export (${expected})`
  if (typeof value !== 'object' || value === null)
    return `exports ${value === null ? 'null' : `a ${typeof value}`} by default, not a generator (${expected})`
  const g = value as Record<string, unknown>
  if (typeof g.run !== 'function') return `has no run(job, ctx) function in its default export`
  if (typeof g.name !== 'string' || g.name.trim() === '')
    return 'has no name in its default export (a string naming the job)'
  if (g.label !== undefined && (typeof g.label !== 'string' || !/^[^<>&"']{1,40}$/.test(g.label)))
    return 'has a label in its default export that is not 1-40 characters of text'
  if (g.validate !== undefined && typeof g.validate !== 'function')
    return 'has a validate in its default export that is not a function'
  return null
}

async function importModule(file: string): Promise<unknown> {
  const url = pathToFileURL(file).href
  try {
    return await import(url)
  } catch (err) {
    // Plain Node (the installed package) does not read TypeScript: tsx does, if it is there.
    const code = (err as { code?: string }).code ?? ''
    if (!TYPESCRIPT.test(file) || !PLAIN_NODE_REFUSED.includes(code)) throw err
    const tsx = await import('tsx/esm/api').catch(() => null)
    if (!tsx && code === 'ERR_MODULE_NOT_FOUND') throw err
    if (!tsx)
      throw new Error(
        'a TypeScript module needs tsx installed beside it (npm install tsx), or compile it to JavaScript',
      )
    return tsx.tsImport(url, import.meta.url)
  }
}

/**
 * Where a JavaScript file's syntax error is (`/path/job.mjs:12`), or null: Node's import says
 * what, not where, and `node --check` says both. Only at a start that fails, so a child
 * process is no cost.
 */
function syntaxErrorAt(file: string): Promise<string | null> {
  if (TYPESCRIPT.test(file)) return Promise.resolve(null)
  return new Promise((resolve) => {
    execFile(process.execPath, ['--check', file], { timeout: 10_000 }, (_err, _out, stderr) => {
      const line = String(stderr).split('\n')[0]?.trim() ?? ''
      resolve(/:\d+$/.test(line) ? line : null)
    })
  })
}

class LoadTimeout extends Error {}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
}

/**
 * An error's message in one line: its first, and the next too when the first only announces
 * it (tsx's "Transform failed with 1 error:", whose next line says what and where).
 */
function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const [first = '', ...rest] = message.split('\n').map((line) => line.trim())
  const next = rest.find((line) => line !== '')
  if (first.endsWith(':') && next) return `${first} ${next}`
  return first || 'unknown error'
}
