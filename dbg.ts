import { startTestNode, tempDir } from './test/helpers/node.ts'
const dir = await tempDir()
const node = await startTestNode({ name: 'n1', dataDir: dir.path })
const t = Date.now()
await node.close()
console.log('closed in', Date.now() - t)
await dir.remove()
setTimeout(() => {
  const handles = (process as any)._getActiveHandles()
  console.log(
    handles.map(
      (h: any) =>
        h.constructor.name +
        (h.constructor.name === 'Socket' ? ' ' + JSON.stringify(h.address?.()) : ''),
    ),
  )
  console.log((process as any)._getActiveRequests().length)
  process.exit(0)
}, 1000)
