#!/usr/bin/env node
// The layering of src/, checked: no import cycle between files, and none between folders
// (store, cluster, downloads, web; a file at the top of src/ counts as a folder of its own).
// Type-only imports count too: a cycle of types is still two rooms that each need the other.
import madge from 'madge'

const graph = (await madge('src', { fileExtensions: ['ts'] })).obj()
const problems = []

for (const cycle of cycles(graph)) problems.push(`files: ${cycle.join(' -> ')}`)

const folderOf = (file) => (file.includes('/') ? file.slice(0, file.indexOf('/')) + '/' : file)
const folders = {}
for (const [file, deps] of Object.entries(graph)) {
  const from = folderOf(file)
  folders[from] ??= []
  for (const dep of deps) {
    const to = folderOf(dep)
    if (to !== from && !folders[from].includes(to)) folders[from].push(to)
  }
}
for (const cycle of cycles(folders)) problems.push(`folders: ${cycle.join(' -> ')}`)

if (problems.length > 0) {
  console.error(`import cycles in src/:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`imports: ${Object.keys(graph).length} files, no cycle between files or folders`)

/** Every elementary cycle found by a depth-first walk, each reported once. */
function cycles(edges) {
  const found = new Map()
  const state = new Map() // 1: on the current path, 2: done
  const path = []
  const visit = (node) => {
    state.set(node, 1)
    path.push(node)
    for (const next of edges[node] ?? []) {
      if (state.get(next) === 1) {
        const cycle = [...path.slice(path.indexOf(next)), next]
        found.set([...cycle].sort().join(), cycle)
      } else if (!state.has(next)) visit(next)
    }
    path.pop()
    state.set(node, 2)
  }
  for (const node of Object.keys(edges)) if (!state.has(node)) visit(node)
  return [...found.values()]
}
