/**
 * Forked by the launcher with a job module's path: loads it as a node does and sends back why
 * it cannot be one (`{ problem }`), or `{ problem: null }`. The launcher asks in a process of
 * its own so that the module's top-level code (a connection it opens, a timer it sets) runs
 * and ends here rather than living on in the launcher beside the nodes; the answer goes over
 * the IPC channel, apart from anything the module prints.
 */
import { GeneratorModuleError, loadGeneratorModule } from '../../src/downloads/generator-module.ts'

let problem: string | null = null
try {
  await loadGeneratorModule(process.argv[2] ?? '')
} catch (err) {
  problem =
    err instanceof GeneratorModuleError
      ? err.message
      : `job module ${process.argv[2]} could not be checked: ${(err as Error)?.message ?? String(err)}`
}
process.send!({ problem }, () => process.exit(0))
