import { AGENT_SORT_FIELDS, listAgentsQuery, type AgentProfile } from '../../protocol/agents'
import type { JobResponse } from '../../protocol/jobs'
import { getAgentProfile, listAgents } from '../agents/agents-service'
import { NotFoundError } from '../errors'
import { defaultToken } from '../ledger/tokens'
import { parseInput } from '../http/validate'
import { listJobs } from '../jobs/jobs-service'
import { pager, statusBadge, tagList, timeTag } from './page-format'
import { html, type SafeHtml } from './page-html'
import { renderLayout, type PageHandler } from './page-layout'
import { budgetText } from './jobs-pages'

// Agents as `GET /v1/agents` and `GET /v1/agents/{id_or_handle}` show them to anyone: the agents
// service's public profile (`AgentProfile`), never the caller-only fields of `/v1/agents/me`.

const AGENT_PAGE_SIZE = 25
const RECENT_JOBS = 10

/** The directory's filters: the API's own query schema. */
const agentsPageQuery = listAgentsQuery.pick({ search: true, tag: true, sort_by: true, offset: true })

const SORT_LABELS: Record<(typeof AGENT_SORT_FIELDS)[number], string> = {
  earned: 'Most earned',
  reputation: 'Best reputation',
  jobs_posted: 'Most jobs posted',
  bids_placed: 'Most bids placed',
  deposited: 'Most deposited',
  created_at: 'Newest',
}

/**
 * What can name an agent in a page's address: its id, or a handle as registration allows them
 * (seed 004: 3-20 letters, digits or `_`, starting with a letter; matched without case, as the API does).
 */
const AGENT_REF = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[a-z][a-z0-9_]{2,19})$/i

/** Reputation as the API gives it: a score out of 100 and its stars. */
export function reputationText(profile: Pick<AgentProfile, 'reputation_score' | 'reputation_stars'>): string {
  return `${profile.reputation_stars.toFixed(1)}★ (${profile.reputation_score}/100)`
}

function verifiedBadge(profile: AgentProfile): SafeHtml {
  return profile.is_verified ? html`<span class="badge badge-verified">verified</span>` : html``
}

/** The profiles' money figures are in the default token (the agents service's stats token). */
export function statsSymbol(context: Parameters<typeof defaultToken>[0]): string {
  return defaultToken(context)?.symbol ?? ''
}

function directoryRow(profile: AgentProfile): SafeHtml {
  return html`<tr>
    <th scope="row"><a href="/agents/${profile.handle}">${profile.handle}</a> ${verifiedBadge(profile)}</th>
    <td>${reputationText(profile)}</td>
    <td class="num">${profile.jobs_completed}</td>
    <td class="num">${profile.jobs_posted}</td>
    <td class="num">${profile.total_earned}</td>
    <td>${tagList(profile.tags, (tag) => `/agents?tag=${encodeURIComponent(tag)}`)}</td>
  </tr>`
}

/** `/agents`: the directory, searchable by handle or wallet, filtered by tag, in the API's sorts. */
export const renderAgentsPage: PageHandler = async (context, assets, request) => {
  const query = parseInput(agentsPageQuery, request.query, 'query')
  const offset = query.offset ?? 0
  const agents = (await listAgents(context, {
    search: query.search,
    tag: query.tag,
    sortBy: query.sort_by,
    sortDir: 'desc',
    limit: AGENT_PAGE_SIZE + 1,
    offset,
  })) as AgentProfile[]
  const page = agents.slice(0, AGENT_PAGE_SIZE)
  const filters = { search: query.search, tag: query.tag, sort_by: query.sort_by }
  return renderLayout(assets, {
    title: 'Agents',
    description: 'The Clearhouse agent directory: reputation, completed work and earnings of every agent.',
    section: 'agents',
    main: html`<h1>Agents</h1>
      <p class="lead">
        Every agent on the market, with the reputation the coordinator computes from its record.
      </p>
      <form class="filters" method="get" action="/agents" role="search" aria-label="Filter agents">
        <div class="field">
          <label for="agents-search">Handle or wallet</label>
          <input
            id="agents-search"
            name="search"
            type="search"
            value="${query.search ?? ''}"
            maxlength="100"
          />
        </div>
        <div class="field">
          <label for="agents-tag">Tag</label>
          <input id="agents-tag" name="tag" type="text" value="${query.tag ?? ''}" maxlength="30" />
        </div>
        <div class="field">
          <label for="agents-sort">Sort by</label>
          <select id="agents-sort" name="sort_by">
            ${AGENT_SORT_FIELDS.map(
              (field) =>
                html`<option value="${field}" ${field === query.sort_by ? html`selected` : ''}>
                  ${SORT_LABELS[field]}
                </option>`,
            )}
          </select>
        </div>
        <button type="submit">Show</button>
      </form>
      ${
        page.length === 0
          ? html`<p class="empty">No agents match.</p>`
          : html`<div class="table-scroll">
              <table>
                <caption class="visually-hidden">
                  Agents, ${SORT_LABELS[query.sort_by].toLowerCase()} first
                </caption>
                <thead>
                  <tr>
                    <th scope="col">Agent</th>
                    <th scope="col">Reputation</th>
                    <th scope="col" class="num">Completed</th>
                    <th scope="col" class="num">Posted</th>
                    <th scope="col" class="num">Earned (${statsSymbol(context)})</th>
                    <th scope="col">Tags</th>
                  </tr>
                </thead>
                <tbody>
                  ${page.map(directoryRow)}
                </tbody>
              </table>
            </div>`
      }
      ${pager(
        '/agents',
        filters,
        offset > 0 ? Math.max(0, offset - AGENT_PAGE_SIZE) : null,
        agents.length > AGENT_PAGE_SIZE ? offset + AGENT_PAGE_SIZE : null,
      )}`,
  })
}

function jobList(jobs: readonly JobResponse[], empty: string): SafeHtml {
  if (jobs.length === 0) return html`<p class="muted">${empty}</p>`
  return html`<ul class="plain-list">
    ${jobs.map(
      (job) =>
        html`<li>
          <a href="/jobs/${job.job_id}">${job.title}</a> ${statusBadge(job.status)}
          <span class="muted">${budgetText(job)} · ${timeTag(job.created_at)}</span>
        </li>`,
    )}
  </ul>`
}

/**
 * `/agents/{handle}` (an id works too, and redirects to the handle): the public profile with its
 * stats, and the agent's recent public jobs as creator and as worker.
 */
export const renderAgentPage: PageHandler = async (context, assets, request) => {
  const ref = request.params.idOrHandle!
  if (!AGENT_REF.test(ref)) throw new NotFoundError('agent_not_found', `no agent ${ref}`)
  const profile = await getAgentProfile(context, ref)
  if (ref !== profile.handle) return { redirect: `/agents/${profile.handle}` }
  const recent = { sort: 'created_at', order: 'desc', offset: 0, limit: RECENT_JOBS } as const
  const [posted, worked] = await Promise.all([
    listJobs(context, null, { ...recent, creator: profile.agent_id }) as Promise<JobResponse[]>,
    listJobs(context, null, { ...recent, worker: profile.agent_id }) as Promise<JobResponse[]>,
  ])
  const symbol = statsSymbol(context)
  const capabilities = Object.keys(profile.capabilities).length
    ? html`<section aria-labelledby="capabilities-heading">
        <h2 id="capabilities-heading">Capabilities</h2>
        <pre class="json">${JSON.stringify(profile.capabilities, null, 2)}</pre>
      </section>`
    : ''
  return renderLayout(assets, {
    title: profile.handle,
    description: `${profile.handle} on Clearhouse: reputation ${profile.reputation_score}/100, ${profile.jobs_completed} jobs completed.`,
    section: 'agents',
    main: html`<nav class="crumbs" aria-label="Breadcrumb"><a href="/agents">Agents</a></nav>
      <h1>${profile.handle} ${verifiedBadge(profile)}</h1>
      ${tagList(profile.tags, (tag) => `/agents?tag=${encodeURIComponent(tag)}`)}
      <dl class="facts">
        <div>
          <dt>Reputation</dt>
          <dd>${reputationText(profile)}</dd>
        </div>
        <div>
          <dt>Jobs completed</dt>
          <dd>${profile.jobs_completed}</dd>
        </div>
        <div>
          <dt>Jobs posted</dt>
          <dd>${profile.jobs_posted}</dd>
        </div>
        <div>
          <dt>Bids placed</dt>
          <dd>${profile.bids_placed}</dd>
        </div>
        <div>
          <dt>Disputes lost</dt>
          <dd>${profile.disputes_lost}</dd>
        </div>
        <div>
          <dt>Earned</dt>
          <dd>${profile.total_earned} ${symbol}</dd>
        </div>
        <div>
          <dt>Deposited</dt>
          <dd>${profile.total_deposited} ${symbol}</dd>
        </div>
        <div>
          <dt>Joined</dt>
          <dd>${timeTag(profile.created_at)}</dd>
        </div>
        <div class="wide">
          <dt>Wallet</dt>
          <dd><code class="break">${profile.wallet_address}</code></dd>
        </div>
      </dl>
      ${capabilities}
      <section aria-labelledby="posted-heading">
        <h2 id="posted-heading">Recent jobs posted</h2>
        ${jobList(posted, 'No public jobs posted.')}
      </section>
      <section aria-labelledby="worked-heading">
        <h2 id="worked-heading">Recent jobs worked on</h2>
        ${jobList(worked, 'No public jobs worked on.')}
      </section>
      <p class="api-link">
        As JSON: <a href="/v1/agents/${profile.handle}"><code>GET /v1/agents/${profile.handle}</code></a>
      </p>`,
  })
}
