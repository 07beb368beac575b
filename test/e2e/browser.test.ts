/**
 * A real browser, end to end: Debian's Chromium driven by playwright-core against three real
 * node processes. The page must survive the death of its own node and of the worker's node,
 * a refresh, and a second tab. When a step fails, the nodes' last lines are printed.
 */
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { eventually } from '../helpers/cluster.ts'
import { Client } from '../../scripts/lib/client.ts'
import { processCluster, waitForCluster, type ProcessCluster } from '../../scripts/lib/processes.ts'
import { assertValidPdf } from '../helpers/pdf.ts'

const CHROMIUM = '/usr/bin/chromium'
const shots = mkdtempSync(join(tmpdir(), 'pdf-cluster-browser-'))
console.log(`  screenshots: ${shots}`)
let step = 0

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(shots, `${String(++step).padStart(2, '0')}-${name}.png`) })
}

async function launch(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); .ci/run does`,
    )
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
}

const attr = (page: Page, selector: string, name: string) => page.getAttribute(selector, name)
const progressOf = async (page: Page) =>
  Number((await attr(page, '#progress', 'aria-valuenow')) ?? -1)
const portOf = (url: string) => Number(new URL(url.replace(/^ws/, 'http')).port)

async function scenario(
  name: string,
  body: (c: ProcessCluster, browser: Browser) => Promise<void>,
  hostOf?: (i: number) => string,
  flags: string[] = ['--work-ms', '12000'],
): Promise<void> {
  // The browser first: one that cannot start must not leave three nodes running.
  const browser = await launch()
  const c = await processCluster(3, flags, 0, () => [], hostOf).catch(async (err) => {
    await browser.close()
    throw err
  })
  try {
    await waitForCluster(c.nodes)
    await body(c, browser)
  } catch (err) {
    console.log(`  ${name} failed; screenshots are in ${shots}`)
    for (const n of c.nodes) console.log(`  --- ${n.name}\n${n.lines.slice(-40).join('\n')}`)
    throw err
  } finally {
    await browser.close()
    await c.teardown()
  }
}

// Each node on a host of its own (127.0.0.1 to .3): the browser sends the session cookie only
// to the first, so the page moves with the ticket its node gave it.
test('the page survives the death of its node and of the worker, on other hosts, then downloads a valid PDF', async () => {
  await scenario(
    'failover',
    async (c, browser) => {
      const context = await browser.newContext({ acceptDownloads: true })
      const page = await context.newPage()
      await page.goto(c.nodes[0]!.url)
      await page.waitForSelector('#connection[data-status="open"]')
      // The page says which node it is on.
      await eventually(
        async () => (await page.textContent('#connection-text')) === 'Live · n1',
        'the node named',
      )
      await shot(page, 'idle')
      await page.click('#request')
      await page.waitForSelector('#download[data-state="processing"]')
      await eventually(async () => (await progressOf(page)) >= 10, 'the bar moves')
      assert.match(await page.title(), /^\d+ % · /, 'progress in the tab title')
      await shot(page, 'running')

      // Kill the node the page is connected to.
      const first = (await attr(page, '#connection', 'data-endpoint'))!
      const pageNode = c.nodes.findIndex((n) => n.port === portOf(first))
      const before = await progressOf(page)
      c.signal(pageNode, 'SIGKILL')
      await page.waitForSelector('#connection[data-status="reconnecting"]', { timeout: 10_000 })
      await shot(page, 'reconnecting')
      // A string, evaluated in the page: the node tests have no DOM types.
      await page.waitForFunction(
        `document.querySelector('#connection').dataset.status === 'open' && document.querySelector('#connection').dataset.endpoint !== ${JSON.stringify(first)}`,
        undefined,
        { timeout: 20_000 },
      )
      assert.ok((await progressOf(page)) >= before, 'the bar did not move back')
      await eventually(async () => (await progressOf(page)) > before, 'the bar continues', 20_000)
      await shot(page, 'reconnected')

      // The killed node comes back (as a supervisor would bring it): with two of three nodes
      // dead the last one would be cut off from its quorum and, rightly, stop (DESIGN.md,
      // Partitions). Then kill the node running the worker (or, if that was the page's node,
      // the page's new node).
      await c.start(pageNode)
      await waitForCluster(c.nodes)
      const now = (await attr(page, '#connection', 'data-endpoint'))!
      const survivor = c.nodes.find((n) => n.port === portOf(now))!
      // The page's cookie is for its first host only; a test client sends it anywhere.
      const cookies = await context.cookies(c.nodes[0]!.url)
      assert.equal(await context.cookies(survivor.url), [], 'no cookie on the node it moved to')
      const probe = await Client.connect(
        survivor.url,
        cookies.map((k) => `${k.name}=${k.value}`).join('; '),
      )
      const record = await probe.seen((d) => d !== null)
      probe.close()
      let target = c.nodes.findIndex((n) => n.name === record!.ownerName)
      if (target === pageNode) target = c.nodes.findIndex((n) => n.port === portOf(now))
      const workerKilled = c.nodes[target]!.name === record!.ownerName
      c.signal(target, 'SIGKILL')
      if (workerKilled) {
        // The takeover as it happens: who stopped, and where it resumed from.
        await eventually(
          async () =>
            new RegExp(`^${record!.ownerName} stopped; resumed on node \\S+ from \\d+ %`).test(
              (await page.textContent('#detail')) ?? '',
            ),
          'the takeover told',
          20_000,
        )
        await shot(page, 'taken-over')
      }
      await page.waitForSelector('#download[data-state="ready"]', { timeout: 60_000 })
      await page.waitForSelector('#connection[data-status="open"]', { timeout: 20_000 })
      assert.match(await page.title(), /^Ready · /)
      await shot(page, 'ready')

      const [download] = await Promise.all([
        page.waitForEvent('download', { timeout: 20_000 }),
        page.click('#file-link'),
      ])
      const path = await download.path()
      assertValidPdf(readFileSync(path))
      // The file stays downloadable until it expires; "Clear" ends it.
      await page.waitForSelector('#hint:not([hidden])')
      assert.match(
        (await page.textContent('#hint')) ?? '',
        /^Downloaded\. You can download it again until /,
      )
      assert.ok(await page.isVisible('#file-link'), 'the link is still there')
      await shot(page, 'downloaded')
      await page.click('#dismiss')
      await page.waitForSelector('#idle:not([hidden])', { timeout: 10_000 })
    },
    (i) => `127.0.0.${i + 1}`,
  )
})

test('a page whose node is paused (SIGSTOP) leaves it within seconds for another member, where the bar goes on to the file', async () => {
  await scenario('paused', async (c, browser) => {
    const page = await browser.newPage()
    await page.goto(c.nodes[0]!.url)
    await page.waitForSelector('#connection[data-status="open"]')
    await page.click('#request')
    await page.waitForSelector('#download[data-state="processing"]')
    await eventually(async () => (await progressOf(page)) >= 10, 'the bar moves')
    // Its socket stays open and says nothing: only the page's own asking tells.
    const first = (await attr(page, '#connection', 'data-endpoint'))!
    const pageNode = c.nodes.findIndex((n) => n.port === portOf(first))
    // And a status page on the same node.
    const status = await browser.newPage()
    await status.goto(`${c.nodes[pageNode]!.url}/status`)
    await status.waitForSelector('main[data-stale="false"]')
    // What the stale note said, kept: it shows only until another member answers, in moments.
    await status.evaluate(`(() => {
      const note = document.querySelector('#stale')
      window.staleSaid = []
      new MutationObserver(() => {
        if (!note.hidden) window.staleSaid.push(note.textContent)
      }).observe(note, { attributes: true, childList: true, characterData: true, subtree: true })
    })()`)
    const name = c.nodes[pageNode]!.name
    c.signal(pageNode, 'SIGSTOP')
    try {
      await status.waitForFunction(
        `document.querySelector('#served-by').textContent !== ${JSON.stringify(name)}`,
        undefined,
        { timeout: 15_000 },
      )
      const said = (await status.evaluate('window.staleSaid')) as string[]
      assert.ok(
        said.some((t) => new RegExp(`^${name}, which served this page, stopped answering`).test(t)),
        `the status page said its node stopped answering: ${JSON.stringify(said)}`,
      )
      await status.waitForSelector('main[data-stale="false"]', { timeout: 15_000 })
      await page.waitForFunction(
        `document.querySelector('#connection').dataset.status === 'open' && document.querySelector('#connection').dataset.endpoint !== ${JSON.stringify(first)}`,
        undefined,
        { timeout: 20_000 },
      )
      await shot(page, 'left-paused-node')
      const before = await progressOf(page)
      // Or the file is there already: under load, the 12 s of work can end as the page moves.
      const onward = async () =>
        (await progressOf(page)) > before ||
        (await attr(page, '#download', 'data-state')) === 'ready'
      await eventually(onward, 'the bar goes on', 20_000)
    } finally {
      c.signal(pageNode, 'SIGCONT')
    }
    await page.waitForSelector('#download[data-state="ready"]', { timeout: 60_000 })
  })
})

test('a refresh mid-download and a second tab show the same download; a dismissal clears both', async () => {
  await scenario('tabs', async (c, browser) => {
    const context = await browser.newContext()
    const page = await context.newPage()
    await page.goto(c.nodes[1]!.url)
    await page.waitForSelector('#connection[data-status="open"]')
    await page.click('#request')
    await page.waitForSelector('#download[data-state="processing"]')
    await eventually(async () => (await progressOf(page)) >= 10, 'the bar moves')
    const id = await attr(page, '#download', 'data-id')
    const before = await progressOf(page)
    await shot(page, 'before-refresh')
    await page.reload()
    await page.waitForSelector('#download[data-state="processing"]')
    assert.is(await attr(page, '#download', 'data-id'), id, 'the same download after a refresh')
    assert.ok((await progressOf(page)) >= before, 'with its progress')
    await shot(page, 'after-refresh')

    const second = await context.newPage()
    await second.goto(c.nodes[2]!.url)
    await second.waitForSelector('#download[data-state="processing"]')
    assert.is(
      await attr(second, '#download', 'data-id'),
      id,
      'the same download in a second tab on another node',
    )
    await shot(second, 'second-tab')
    await second.click('#cancel')
    await page.waitForSelector('#idle:not([hidden])', { timeout: 10_000 })
    await second.waitForSelector('#idle:not([hidden])', { timeout: 10_000 })
    await shot(page, 'dismissed-first-tab')
    await shot(second, 'dismissed-second-tab')
  })
})

test('the status page lists the members live, and shows a killed node dead within seconds', async () => {
  await scenario('status', async (c, browser) => {
    const page = await browser.newPage()
    await page.goto(`${c.nodes[0]!.url}/status`)
    await page.waitForSelector('#connection[data-status="open"]')
    await page.waitForFunction("document.querySelectorAll('#members tbody tr').length === 3")
    for (const n of c.nodes) {
      const row = `#members tr[data-name="${n.name}"]`
      assert.is(await attr(page, row, 'data-status'), 'alive')
      assert.match((await page.textContent(row)) ?? '', new RegExp(n.url.replace(/[.]/g, '\\.')))
    }
    // Figures from every member, not only the one serving the page.
    await page.waitForFunction(
      "[...document.querySelectorAll('#members tbody tr td:nth-child(3)')].every((td) => td.textContent !== '—')",
    )
    assert.match((await page.textContent('#summary')) ?? '', /3 of 3 members alive/)
    // One of them writes the log for the others (cluster/scribe.ts), and says so.
    const scribes =
      'document.querySelectorAll(\'#members tr[data-status="alive"] .badge--scribe\').length'
    await page.waitForFunction(`${scribes} === 1`)
    await shot(page, 'status-alive')

    const killedAt = Date.now()
    c.signal(2, 'SIGKILL')
    await page.waitForSelector('#members tr[data-name="n3"][data-status="dead"]', { timeout: 5000 })
    const shownMs = Date.now() - killedAt
    assert.ok(shownMs < 3000, `shown dead after ${shownMs} ms`)
    await page.waitForSelector('#events .event--dead')
    assert.match((await page.textContent('#events')) ?? '', /n3 died/)
    assert.match((await page.textContent('#summary')) ?? '', /2 of 3 members alive/)
    await page.waitForFunction(`${scribes} === 1`, null, { timeout: 5000 })
    const text = (await page.textContent('body')) ?? ''
    assert.not.match(text, /\/downloads\//, 'no file links')
    await shot(page, 'status-dead')

    // The node serving the page dies: the page says so over what it said last, then goes on
    // from another member.
    c.signal(0, 'SIGKILL')
    await page.waitForSelector('#stale:not([hidden])', { timeout: 10_000 })
    assert.match(
      (await page.textContent('#stale')) ?? '',
      /^n1, which served this page, stopped answering: below is what it said at .*Trying the other members/,
    )
    assert.is(await attr(page, 'main', 'data-stale'), 'true')
    await shot(page, 'status-stale')
    await page.waitForFunction("document.querySelector('#served-by').textContent === 'n2'", null, {
      timeout: 15_000,
    })
    await page.waitForSelector('main[data-stale="false"]')
    assert.ok(await page.isHidden('#stale'))
    await shot(page, 'status-moved')
  })
})

test('with two nodes of three down, the page on the third says it is cut off, shows the download and stays; it carries on when one is back', async () => {
  await scenario('cut-off', async (c, browser) => {
    const page = await browser.newPage()
    await page.goto(c.nodes[2]!.url)
    await page.waitForSelector('#connection[data-status="open"]')
    await page.click('#request')
    await page.waitForSelector('#download[data-state="processing"]')
    const id = await attr(page, '#download', 'data-id')
    c.signal(0, 'SIGKILL')
    c.signal(1, 'SIGKILL')
    await page.waitForSelector('#connection[data-cut-off="true"]', { timeout: 15_000 })
    assert.match((await page.textContent('#connection-text')) ?? '', /^Cut off · n3$/)
    assert.match((await page.textContent('#notice')) ?? '', /cut off .* stays/s)
    assert.match((await page.textContent('#detail')) ?? '', /^Waiting for the cluster/)
    await shot(page, 'cut-off')
    // It does not go round the dead members and back: the socket stays open on n3.
    // (A string: this file is type-checked without the DOM's types.)
    const reconnects = await page.evaluate(`new Promise((resolve) => {
      const el = document.querySelector('#connection')
      let n = 0
      new MutationObserver(() => {
        if (el.dataset.status !== 'open') n++
      }).observe(el, { attributes: true, attributeFilter: ['data-status'] })
      setTimeout(() => resolve(n), 4000)
    })`)
    assert.is(reconnects, 0, 'the page stayed on its node')
    assert.is(await attr(page, '#download', 'data-id'), id, 'and shows the download')
    // The status page says it first, in words: no work runs there.
    const status = await browser.newPage()
    await status.goto(`${c.nodes[2]!.url}/status`)
    await status.waitForSelector('#headline[data-cut-off="true"]', { timeout: 10_000 })
    assert.match(
      (await status.textContent('#headline')) ?? '',
      /^n3 is cut off from its cluster: it reaches 1 of 3 members and needs 2/,
    )
    assert.ok(await status.isVisible('#members tr[data-name="n3"] .badge--cut-off'))
    await shot(status, 'cut-off-status')

    await c.start(0)
    await page.waitForSelector('#connection[data-cut-off="false"][data-status="open"]', {
      timeout: 20_000,
    })
    assert.match((await page.textContent('#connection-text')) ?? '', /^Live · n3$/)
    await status.waitForSelector('#headline[data-cut-off="false"]', {
      state: 'attached',
      timeout: 10_000,
    })
    assert.not.ok(await status.isVisible('#headline'))
    await status.waitForFunction(
      "/n1 came back/.test(document.querySelector('#events').textContent)",
      undefined,
      { timeout: 10_000 },
    )
    await page.waitForSelector('#download[data-state="ready"]', { timeout: 30_000 })
    assert.is(await attr(page, '#download', 'data-id'), id)
    await shot(page, 'cut-off-over')
  })
})

test('a link with parameters that do not parse requests nothing; after an error "Try again" asks anew; with no server left the page says so, and when it retries', async () => {
  await scenario(
    'errors',
    async (c, browser) => {
      const page = await browser.newPage()
      // A link whose parameters do not parse requests nothing, and says why.
      await page.goto(`${c.nodes[0]!.url}/?params=${encodeURIComponent('{lines:3')}`)
      await page.waitForSelector('#connection[data-status="open"]')
      await page.click('#request')
      await page.waitForSelector('#notice:not([hidden])')
      assert.match(
        (await page.textContent('#notice')) ?? '',
        /cannot be used: they are not valid JSON/,
      )
      assert.ok(await page.isVisible('#idle'), 'nothing requested')
      await page.goto(c.nodes[0]!.url)
      await page.waitForSelector('#connection[data-status="open"]')
      await page.click('#request')
      await page.waitForSelector('#download[data-state="error"]', { timeout: 20_000 })
      const failed = await attr(page, '#download', 'data-id')
      assert.match(await page.title(), /^Failed · /)
      assert.ok(await page.isVisible('#retry'))
      await shot(page, 'error')
      await page.click('#retry')
      await page.waitForFunction(
        `document.querySelector('#download').dataset.id !== ${JSON.stringify(failed)} && !document.querySelector('#download').hidden`,
        undefined,
        { timeout: 10_000 },
      )
      await shot(page, 'tried-again')

      for (let i = 0; i < 3; i++) c.signal(i, 'SIGKILL')
      await page.waitForSelector('#connection[data-unreachable="true"]', { timeout: 10_000 })
      assert.match(
        (await page.textContent('#connection-text')) ?? '',
        /^No server reachable · retrying( in \d+ s|…)$/,
      )
      await shot(page, 'unreachable')
    },
    undefined,
    ['--generator', 'failing', '--attempts', '1', '--work-ms', '1500'],
  )
})

test.run()
