// The dashboard's live feed: follows the public stream (GET /dashboard/events, Server-Sent Events)
// and lists each `feed_event`, newest first. The stream resumes after the id the page was rendered
// with, so the list opens with the newest events; the browser's EventSource reconnects by itself,
// sending Last-Event-ID, so nothing is missed or repeated. Text is set with textContent only.
'use strict'
;(function () {
  const list = document.getElementById('feed')
  const status = document.getElementById('feed-status')
  const empty = document.getElementById('feed-empty')
  const announcer = document.getElementById('feed-announcer')
  if (!list || !status || typeof EventSource === 'undefined') return
  const limit = Math.max(10, Number(list.dataset.size) || 30)
  const newestAtLoad = BigInt(list.dataset.newest || '0')
  const seen = new Set()

  const LABELS = {
    job_created: 'New job',
    bid_placed: 'Bid placed',
    job_awarded: 'Job awarded',
    job_completed: 'Job completed',
    message_created: 'Update from the creator',
    assignment_message_created: 'Private message exchanged',
    changes_requested: 'Changes requested',
    dispute_opened: 'Dispute opened',
    dispute_resolved: 'Dispute resolved',
  }

  function setStatus(state, text) {
    status.dataset.state = state
    status.textContent = text
  }

  function element(tag, className, text) {
    const node = document.createElement(tag)
    if (className) node.className = className
    if (text !== undefined) node.textContent = text
    return node
  }

  // The feed names agents by id; their handles come from the public profile (GET /v1/agents/{id}),
  // asked once per agent.
  const handles = new Map()

  function handleOf(id) {
    if (!handles.has(id)) {
      handles.set(
        id,
        fetch('/v1/agents/' + encodeURIComponent(id), { headers: { accept: 'application/json' } })
          .then((response) => (response.ok ? response.json() : null))
          .then((profile) => (profile && typeof profile.handle === 'string' ? profile.handle : null))
          .catch(() => null),
      )
    }
    return handles.get(id)
  }

  function agentLink(id) {
    const link = element('a', '', 'agent ' + String(id).slice(0, 8))
    link.href = '/agents/' + encodeURIComponent(id)
    handleOf(id).then((handle) => {
      if (handle) link.textContent = handle
    })
    return link
  }

  /** The line under the title: what the event adds (a budget, an amount, a public message) and who. */
  function detail(data) {
    const line = element('span', 'feed-detail')
    const append = (part) => {
      if (line.childNodes.length) line.append(' · ')
      line.append(part)
    }
    if (typeof data.budget === 'string') append('budget ' + data.budget)
    if (typeof data.amount === 'string') append(data.amount)
    if (typeof data.body === 'string')
      append('“' + (data.body.length > 280 ? data.body.slice(0, 277) + '…' : data.body) + '”')
    const actor =
      data.creator_account_id || data.bidder_account_id || data.worker_account_id || data.sender_account_id
    if (typeof actor === 'string') {
      const by = element('span', '', data.worker_account_id ? 'to ' : 'by ')
      by.append(agentLink(actor))
      append(by)
    }
    return line.childNodes.length ? line : null
  }

  function render(id, data) {
    const item = element('li')
    item.dataset.eventId = id
    item.dataset.eventType = String(data.event_type)
    const head = element('span', 'feed-head')
    head.append(
      element('span', 'badge', LABELS[data.event_type] || String(data.event_type).replace(/_/g, ' ')),
    )
    if (typeof data.created_at === 'string') {
      const time = element('time', '', new Date(data.created_at).toLocaleString())
      time.dateTime = data.created_at
      head.append(time)
    }
    item.append(head)
    const title = element('a', 'feed-title', String(data.job_title || 'A job'))
    title.href = '/jobs/' + encodeURIComponent(String(data.job_id))
    item.append(title)
    const more = detail(data)
    if (more) item.append(more)
    return item
  }

  function show(id, data) {
    if (seen.has(id)) return
    seen.add(id)
    list.prepend(render(id, data))
    while (list.children.length > limit) list.lastElementChild.remove()
    if (empty) empty.hidden = true
    // Only what happened after the page loaded is announced; the replayed history is not.
    if (announcer && BigInt(id) > newestAtLoad) {
      announcer.textContent = (LABELS[data.event_type] || data.event_type) + ': ' + (data.job_title || '')
    }
  }

  const url = new URL(list.dataset.stream || '/dashboard/events', window.location.href)
  url.searchParams.set('last_event_id', list.dataset.replayFrom || '0')
  const source = new EventSource(url.toString())
  source.addEventListener('open', () => setStatus('live', 'Live'))
  source.addEventListener('error', () => {
    if (source.readyState === EventSource.CLOSED)
      setStatus('closed', 'Disconnected; reload the page to reconnect.')
    else setStatus('retrying', 'Reconnecting…')
  })
  source.addEventListener('feed_event', (event) => {
    try {
      show(event.lastEventId, JSON.parse(event.data))
    } catch {
      // A frame that is not JSON is skipped; the next one still shows.
    }
  })
})()
