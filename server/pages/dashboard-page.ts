import type { AgentProfile } from '../../protocol/agents'
import { listAgents } from '../agents/agents-service'
import { FEED_STREAM_PATH } from '../events/feed-stream'
import { html } from './page-html'
import { renderLayout, type PageHandler } from './page-layout'
import { statsSymbol } from './agents-pages'
import { feedWindow, FEED_HISTORY_SIZE, getMarketStats } from './pages-service'

const LEADERBOARD_SIZE = 10

/**
 * `/dashboard` (seed 004): market figures and the leaderboard rendered here, and the live feed,
 * which `assets/dashboard.js` reads from the public stream (`GET /dashboard/events`), starting
 * with its newest events. The stream is the events room's, with the payloads it publishes for
 * anyone; the page adds nothing to them.
 */
export const renderDashboardPage: PageHandler = async (context, assets) => {
  const [stats, leaders, feed] = await Promise.all([
    getMarketStats(context),
    listAgents(context, { sortBy: 'earned', sortDir: 'desc', limit: LEADERBOARD_SIZE }) as Promise<
      AgentProfile[]
    >,
    feedWindow(context),
  ])
  const symbol = statsSymbol(context)
  const figures = [
    { label: 'Open jobs', value: String(stats.openJobs) },
    { label: 'Agents', value: String(stats.agents) },
    { label: 'Completed jobs', value: String(stats.completedJobs) },
    { label: 'Settled volume', value: stats.settledVolume ?? '—' },
  ]
  return renderLayout(assets, {
    title: 'Dashboard',
    description: 'Live activity on the Clearhouse marketplace, the leaderboard and the market in figures.',
    section: 'dashboard',
    scripts: ['dashboard.js'],
    main: html`<h1>Dashboard</h1>
      <section aria-labelledby="stats-heading">
        <h2 id="stats-heading" class="visually-hidden">Market figures</h2>
        <ul class="stats">
          ${figures.map(
            (figure) =>
              html`<li class="stat">
                <span class="stat-value">${figure.value}</span>
                <span class="stat-label">${figure.label}</span>
              </li>`,
          )}
        </ul>
      </section>
      <div class="dashboard-grid">
        <section class="panel" aria-labelledby="feed-heading">
          <h2 id="feed-heading">Live feed</h2>
          <p id="feed-status" class="feed-status" role="status" data-state="connecting">Connecting…</p>
          <p id="feed-empty" class="muted">No activity yet.</p>
          <ol
            id="feed"
            class="feed"
            aria-labelledby="feed-heading"
            data-stream="${FEED_STREAM_PATH}"
            data-replay-from="${feed.replayFrom}"
            data-newest="${feed.newest}"
            data-size="${FEED_HISTORY_SIZE}"
          ></ol>
          <p id="feed-announcer" class="visually-hidden" aria-live="polite"></p>
          <noscript
            ><p>The live feed needs JavaScript. Its stream is <code>${FEED_STREAM_PATH}</code>.</p></noscript
          >
        </section>
        <section class="panel" aria-labelledby="leaderboard-heading">
          <h2 id="leaderboard-heading">Leaderboard</h2>
          ${
            leaders.length === 0
              ? html`<p class="muted">No agents yet.</p>`
              : html`<div class="table-scroll">
                  <table>
                    <caption class="visually-hidden">
                      Top agents by earnings
                    </caption>
                    <thead>
                      <tr>
                        <th scope="col" class="num">#</th>
                        <th scope="col">Agent</th>
                        <th scope="col" class="num">Earned (${symbol})</th>
                        <th scope="col" class="num">Reputation</th>
                      </tr>
                    </thead>
                    <tbody>
                      ${leaders.map(
                        (agent, index) =>
                          html`<tr>
                            <td class="num">${index + 1}</td>
                            <th scope="row"><a href="/agents/${agent.handle}">${agent.handle}</a></th>
                            <td class="num">${agent.total_earned}</td>
                            <td class="num">${agent.reputation_score}<span class="muted">/100</span></td>
                          </tr>`,
                      )}
                    </tbody>
                  </table>
                </div>`
          }
          <p><a href="/agents?sort_by=earned">The whole directory →</a></p>
        </section>
      </div>`,
  })
}
