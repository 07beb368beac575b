import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createWebServer } from '../src/web/server.ts'
import { Sessions } from '../src/web/session.ts'
import { PUBLIC_DIR } from '../src/node.ts'
import { silentLogger } from '../src/logger.ts'
import type { DownloadManager } from '../src/downloads/manager.ts'
import { download } from './helpers/records.ts'

test('a file not reachable from this node yet gets 503 with a retry hint, not a hang', async () => {
  const sessions = new Sessions('a-test-secret')
  const userId = sessions.issue().userId
  const d = download({ id: 'abc', userId, state: 'ready' })
  const manager = {
    openFile: async (id: string, user: string) =>
      id === 'abc' && user === userId ? { download: d, file: null } : null,
  } as unknown as DownloadManager
  const web = createWebServer({
    manager,
    sessions,
    publicDir: PUBLIC_DIR,
    log: silentLogger,
    health: () => ({}),
    cluster: () => ({}),
  })
  const port = await web.listen(0, '127.0.0.1')
  try {
    const res = await fetch(`http://127.0.0.1:${port}/downloads/abc`, {
      headers: { cookie: `sid=${sessions.sign(userId)}` },
    })
    assert.is(res.status, 503)
    assert.is(res.headers.get('retry-after'), '2')
    assert.match(await res.text(), /not available on this node yet/)
    const other = await fetch(`http://127.0.0.1:${port}/downloads/nope`, {
      headers: { cookie: `sid=${sessions.sign(userId)}` },
    })
    assert.is(other.status, 404)
  } finally {
    await web.close()
  }
})

test.run()
