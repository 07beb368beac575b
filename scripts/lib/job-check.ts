/**
 * `node --import tsx scripts/lib/job-check.ts <path>`: loads a job module as a node does and
 * prints why it cannot be one (exit 2), or nothing (exit 0). The launcher asks in a process of
 * its own so that the module's top-level code (a connection it opens, a timer it sets) runs and
 * ends here rather than living on in the launcher beside the nodes.
 */
import { GeneratorModuleError, loadGeneratorModule } from '../../src/downloads/generator-module.ts'

try {
  await loadGeneratorModule(process.argv[2] ?? '')
  process.exit(0)
} catch (err) {
  if (!(err instanceof GeneratorModuleError)) throw err
  process.stdout.write(err.message)
  process.exit(2)
}
