import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { startTestNode, tempDir } from '../helpers/node.ts'
import { rawRequest } from '../helpers/raw-http.ts'

test('with --metrics-port the metrics are served there only, and the page’s port answers 404', async () => {
  const dir = await tempDir()
  const node = await startTestNode({ name: 'm1', dataDir: dir.path, metricsPort: 0 })
  try {
    assert.not.ok(node.metricsUrl.startsWith(node.url), node.metricsUrl)
    const own = await fetch(node.metricsUrl)
    assert.is(own.status, 200)
    assert.match(await own.text(), /^pdfcluster_members\{status="alive"\} 1$/m)
    const page = await fetch(node.url + '/metrics')
    assert.is(page.status, 404)
    await page.arrayBuffer()
    const other = await fetch(node.metricsUrl.replace(/\/metrics$/, '/'))
    assert.is(other.status, 404, 'nothing else is served on the metrics port')
    await other.arrayBuffer()
    // Its listener runs synchronously: a URL that does not parse must not throw there.
    const port = Number(new URL(node.metricsUrl).port)
    assert.is(
      await rawRequest(port, 'GET http://a:b/metrics HTTP/1.1\r\nHost: x'),
      'HTTP/1.1 404 Not Found',
    )
    assert.is((await fetch(node.metricsUrl)).status, 200, 'still served')
  } finally {
    await node.close()
    await dir.remove()
  }
})

test('without it, /metrics is on the page’s port', async () => {
  const dir = await tempDir()
  const node = await startTestNode({ name: 'm2', dataDir: dir.path })
  try {
    assert.is(node.metricsUrl, `${node.url}/metrics`)
    const res = await fetch(node.metricsUrl)
    assert.is(res.status, 200)
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    await res.arrayBuffer()
  } finally {
    await node.close()
    await dir.remove()
  }
})

test.run()
