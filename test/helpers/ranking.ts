/**
 * Downloads of users chosen by where rendezvous hashing puts them: a test that kills the
 * owner, or keeps the page away from it, needs a user whose ranking it knows.
 */
import { Client, sessionCookie } from '../../scripts/lib/client.ts'
import { clusterView, type NodeProcess } from '../../scripts/lib/processes.ts'
import { rank } from '../../src/cluster/rendezvous.ts'

const userOf = (cookie: string) => cookie.slice('sid='.length).split('.')[0]!

/** The nodes in the order they would own this user's downloads. */
export async function ranking(nodes: NodeProcess[], userId: string): Promise<NodeProcess[]> {
  const view = (await clusterView(nodes[0]!.url))!
  const ids = view.members.map((m) => m.id)
  return rank(userId, ids).map((id) => {
    const name = view.members.find((m) => m.id === id)!.name
    return nodes.find((n) => n.name === name)!
  })
}

/** A download taken this far by the page's bar, with the node that runs it. */
async function downloadAt(nodes: NodeProcess[], percent: number, params?: object) {
  const home = nodes[0]!
  const cookie = await sessionCookie(home.url)
  const page = await Client.connect(home.url, cookie)
  page.send({ type: 'request', ...(params && { params }) })
  const d = (await page.seen((x) => x !== null && x.progress >= percent, 30_000, `${percent} %`))!
  return { cookie, page, id: d.id as string, seen: d.progress as number, user: userOf(cookie) }
}

/** A download of a user whose ranking passes the test (others are dismissed at once). */
export async function downloadWhere(
  nodes: NodeProcess[],
  ok: (order: NodeProcess[]) => boolean,
  params?: object,
) {
  for (let k = 0; k < 40; k++) {
    const d = await downloadAt(nodes, 0, params)
    const order = await ranking(nodes, d.user)
    if (ok(order)) return { ...d, order }
    d.page.send({ type: 'dismiss' })
    await d.page.seen((x) => x === null, 5000, 'dismissed')
    d.page.close()
  }
  throw new Error('no user with such a ranking in 40 tries')
}
