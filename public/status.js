// @ts-check
// The cluster status page: one socket to /status/ws, which sends the whole status every
// second; the page redraws from each. When the node serving it stops answering, the page says
// so and greys out what that node said last, and tries the other live members it listed (the
// main page's reconnection policy, reconnect.js), as the main page does.

import { closed, createPolicy, nextRetry, opened, startAttempt, withMembers } from './reconnect.js'
import * as liveness from './liveness.js'

/** @param {string} id */
const $ = (id) => {
  const node = document.getElementById(id)
  if (!node) throw new Error(`#${id} is missing from the page`)
  return node
}

const el = {
  connection: $('connection'),
  connectionText: $('connection-text'),
  main: $('main'),
  headline: $('headline'),
  summary: $('summary'),
  stale: $('stale'),
  members: /** @type {HTMLTableElement} */ ($('members')),
  events: $('events'),
  eventsEmpty: $('events-empty'),
  servedBy: $('served-by'),
}

const STATUS_TEXT = { alive: 'Alive', suspect: 'Suspect', dead: 'Dead', left: 'Left' }
const EVENT_TEXT = {
  joined: 'joined',
  dead: 'died',
  left: 'left',
  back: 'came back',
  takeover: 'took over a download',
}

/** @param {number | null} ms */
function duration(ms) {
  if (ms === null) return '—'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  const h = Math.floor(m / 60)
  return h < 48 ? `${h} h ${m % 60} min` : `${Math.floor(h / 24)} d ${h % 24} h`
}

/** @param {number | null} n */
function bytes(n) {
  if (n === null || !Number.isFinite(n)) return '—'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024
    i++
  }
  return `${n < 10 && i > 0 ? n.toFixed(1) : Math.round(n)} ${units[i]}`
}

/** @param {number | null} n */
const count = (n) => (n === null ? '—' : n.toLocaleString())

/** @param {number} at */
const clock = (at) =>
  new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })

/**
 * @param {string} tag
 * @param {string} text
 * @param {string} [className]
 */
function cell(tag, text, className) {
  const node = document.createElement(tag)
  node.textContent = text
  if (className) node.className = className
  return node
}

/** @param {any} status */
function render(status) {
  const nodes = /** @type {any[]} */ (status.nodes)
  // A member that left said so: it is listed, not counted as missing.
  const current = nodes.filter((n) => n.status !== 'left')
  const alive = current.filter((n) => n.status === 'alive').length
  const running = nodes.reduce((sum, n) => sum + (n.running ?? 0), 0)
  const left = nodes.length - current.length
  el.summary.textContent =
    `${alive} of ${current.length} members alive` +
    (left > 0 ? ` (and ${left} that left)` : '') +
    ` · ${running} download${running === 1 ? '' : 's'} running`
  // The one state that stops all work on a node: said first, in words, on a line of its own.
  const own = nodes.find((n) => n.name === status.servedBy)
  el.headline.dataset.cutOff = String(own?.quorum?.ok === false)
  el.headline.hidden = own?.quorum?.ok !== false
  if (own?.quorum?.ok === false) {
    const q = own.quorum
    el.headline.textContent = `${own.name} is cut off from its cluster: it reaches ${q.reachable} of ${q.voters} members and needs ${q.needed}, so it runs no downloads and refuses new ones.`
  }
  el.servedBy.textContent = status.servedBy

  const body = el.members.tBodies[0]
  body.replaceChildren(
    ...nodes.map((n) => {
      const row = document.createElement('tr')
      row.dataset.status = n.status
      row.dataset.name = n.name
      const name = document.createElement('th')
      name.scope = 'row'
      const link = document.createElement('a')
      link.href = n.url
      link.textContent = n.name
      const url = cell('span', n.url, 'members__url')
      name.append(link)
      if (n.scribe && n.status !== 'dead' && n.status !== 'left') {
        const scribe = cell('span', 'scribe', 'badge badge--scribe')
        scribe.title = 'Writes the record log for the cluster: the others hand it what they write'
        name.append(' ', scribe)
      }
      name.append(url)
      const state = document.createElement('td')
      state.append(cell('span', STATUS_TEXT[n.status] ?? n.status, `badge badge--${n.status}`))
      if (n.quorum?.ok === false && n.status !== 'dead' && n.status !== 'left') {
        const cut = cell('span', 'cut off', 'badge badge--cut-off')
        cut.title = `Reaches ${n.quorum.reachable} of ${n.quorum.voters} members, needs ${n.quorum.needed}: runs no downloads and refuses new ones`
        state.append(' ', cut)
      }
      if (n.diskLow && n.status !== 'dead' && n.status !== 'left') {
        const low = cell('span', 'disk low', 'badge badge--cut-off')
        low.title =
          'Its disk is below its reserve (--min-free-mb): its workers are paused and new downloads go to other members'
        state.append(' ', low)
      }
      row.append(
        name,
        state,
        cell('td', duration(n.uptimeMs), 'num'),
        cell('td', count(n.running), 'num'),
        cell('td', count(n.logLength), 'num'),
        cell('td', bytes(n.dataBytes), 'num'),
        cell('td', String(n.incarnation), 'num mono'),
      )
      return row
    }),
  )

  const events = /** @type {any[]} */ (status.events)
  el.eventsEmpty.hidden = events.length > 0
  el.events.replaceChildren(
    ...events.map((e) => {
      const item = document.createElement('li')
      item.className = `event event--${e.kind}`
      const time = cell('time', clock(e.at), 'event__time')
      time.setAttribute('datetime', new Date(e.at).toISOString())
      const what = document.createElement('span')
      what.append(cell('span', e.node, 'node'), ` ${EVENT_TEXT[e.kind] ?? e.kind}`)
      if (e.detail) what.append(` ${e.detail}`)
      item.append(time, what)
      return item
    }),
  )
}

/** @param {'connecting' | 'open' | 'reconnecting'} status */
function connection(status) {
  el.connection.dataset.status = status
  el.connectionText.textContent =
    status === 'open' ? 'Live' : status === 'reconnecting' ? 'Reconnecting…' : 'Connecting…'
}

/** The live members' sockets, to go to when the one in use stops answering (reconnect.js). */
let policy = createPolicy(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`)
/** The node that served what the page shows, and when it last did. */
let last = /** @type {{ servedBy: string, at: number } | null} */ (null)

/** @param {boolean} stale  the page shows what a node that no longer answers said last */
function showStale(stale) {
  el.main.dataset.stale = String(stale)
  el.stale.hidden = !stale || last === null
  if (stale && last)
    el.stale.textContent = `${last.servedBy}, which served this page, stopped answering: below is what it said at ${clock(last.at)}. Trying the other members…`
}

function connect() {
  policy = startAttempt(policy, Math.random)
  const url = policy.current
  /** @type {number | null} */
  let openedAt = null
  const ws = new WebSocket(url.replace(/\/ws$/, '/status/ws'))
  let live = liveness.started(Date.now())
  let left = false
  // A paused or hung node keeps the socket open and silent (liveness.js). Its node sends twice
  // a second unasked, so a quiet is the question already: no ping is sent.
  const look = setInterval(() => {
    const step = liveness.nextStep(live, Date.now())
    if (step === 'ping') live = liveness.pinged(live, Date.now())
    else if (step === 'leave') {
      dropped()
      ws.close()
    }
  }, liveness.LOOK_EVERY_MS)
  ws.addEventListener('open', () => {
    if (left) return
    openedAt = Date.now()
    live = liveness.opened(live, openedAt)
    policy = opened(policy)
    connection('open')
  })
  ws.addEventListener('message', (event) => {
    if (left) return
    live = liveness.heard(live, Date.now())
    let message
    try {
      message = JSON.parse(String(event.data))
    } catch {
      return // a frame that is not a status is not ours to show
    }
    if (message?.type !== 'status') return
    render(message.status)
    last = { servedBy: String(message.status.servedBy), at: Date.now() }
    showStale(false)
    const nodes = Array.isArray(message.status.nodes) ? message.status.nodes : []
    policy = withMembers(
      policy,
      nodes.filter((/** @type {any} */ n) => n?.status === 'alive'),
    )
  })
  ws.addEventListener('close', dropped)
  function dropped() {
    if (left) return
    left = true
    clearInterval(look)
    policy = closed(policy, { endpoint: url, openedAt, closedAt: Date.now() })
    connection('reconnecting')
    showStale(true)
    const retry = nextRetry(policy, Math.random)
    policy = retry.policy
    setTimeout(connect, retry.delay)
  }
}

connect()
