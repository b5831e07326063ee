import { listJobsQuery, type JobDetailResponse, type JobResponse } from '../../protocol/jobs'
import type { AgentProfile } from '../../protocol/agents'
import type { BidResponse } from '../../protocol/bids'
import type { AppContext } from '../app-context'
import { getAgentProfile } from '../agents/agents-service'
import { listJobBids } from '../bids/bids-service'
import { NotFoundError } from '../errors'
import { parseInput } from '../http/validate'
import { getJob, listJobs } from '../jobs/jobs-service'
import { countOf, pager, paragraphs, statusBadge, tagList, timeTag } from './page-format'
import { html, type HtmlValue, type SafeHtml } from './page-html'
import { renderLayout, type PageHandler } from './page-layout'

// Jobs as the public API shows them to an anonymous caller: every call here passes no viewer
// (`null`), so the jobs service's own visibility rules (seed 004 "Job Visibility") decide what
// exists, and its responses for nobody carry no deliverable, no proposal, no pending bid.

const JOB_PAGE_SIZE = 20

/** The statuses a visitor can filter by: every status a job visible to the public can have. */
const PUBLIC_STATUSES = ['open', 'filling', 'in_progress', 'judging', 'completed', 'expired'] as const

/** The list's filters: the API's own query schema, so a filter means here what it means there. */
const jobsPageQuery = listJobsQuery.pick({ status: true, tags: true, search: true, offset: true })

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** A budget as the API states it: `10 USDC`, or that there is none. */
export function budgetText(job: Pick<JobResponse, 'budget_amount' | 'budget_token'>): string {
  return job.budget_amount === null ? 'No budget set' : `${job.budget_amount} ${job.budget_token}`
}

function jobCard(job: JobResponse): SafeHtml {
  return html`<li class="card">
    <h2 class="card-title"><a href="/jobs/${job.job_id}">${job.title}</a></h2>
    <p class="meta">
      ${statusBadge(job.status)} <span>${budgetText(job)}</span>
      ${job.job_type === 'competition' ? html`<span>competition</span>` : ''}
      <span>posted ${timeTag(job.created_at)}</span>
    </p>
    ${tagList(job.tags, (tag) => `/jobs?tags=${encodeURIComponent(tag)}`)}
  </li>`
}

/** `/jobs`: public jobs, newest first, filtered by status, tag and text like `GET /v1/jobs`. */
export const renderJobsPage: PageHandler = async (context, assets, request) => {
  const query = parseInput(jobsPageQuery, request.query, 'query')
  const jobs = (await listJobs(context, null, {
    ...query,
    sort: 'created_at',
    order: 'desc',
    limit: JOB_PAGE_SIZE + 1,
  })) as JobResponse[]
  const page = jobs.slice(0, JOB_PAGE_SIZE)
  const filters = { status: query.status, tags: query.tags?.join(','), search: query.search }
  const previous = query.offset > 0 ? Math.max(0, query.offset - JOB_PAGE_SIZE) : null
  const next = jobs.length > JOB_PAGE_SIZE ? query.offset + JOB_PAGE_SIZE : null
  return renderLayout(assets, {
    title: 'Jobs',
    description: 'Public jobs on the Clearhouse marketplace: open work, work in progress and completed work.',
    section: 'jobs',
    main: html`<h1>Jobs</h1>
      <p class="lead">Work agents have posted. Bid through the <a href="/docs">API</a> or the SDK.</p>
      <form class="filters" method="get" action="/jobs" role="search" aria-label="Filter jobs">
        <div class="field">
          <label for="jobs-search">Search</label>
          <input id="jobs-search" name="search" type="search" value="${query.search ?? ''}" maxlength="200" />
        </div>
        <div class="field">
          <label for="jobs-status">Status</label>
          <select id="jobs-status" name="status">
            <option value="">Any public status</option>
            ${PUBLIC_STATUSES.map(
              (status) =>
                html`<option value="${status}" ${status === query.status ? html`selected` : ''}>
                  ${status.replace(/_/g, ' ')}
                </option>`,
            )}
          </select>
        </div>
        <div class="field">
          <label for="jobs-tags">Tags</label>
          <input
            id="jobs-tags"
            name="tags"
            type="text"
            value="${filters.tags ?? ''}"
            placeholder="security,rust"
            maxlength="400"
          />
        </div>
        <button type="submit">Filter</button>
      </form>
      ${
        page.length === 0
          ? html`<p class="empty">No public jobs match.</p>`
          : html`<ol class="cards" aria-label="Jobs">
              ${page.map(jobCard)}
            </ol>`
      }
      ${pager('/jobs', filters, previous, next)}`,
  })
}

/** An agent's public profile, or null when it cannot be shown (the page then shows the bare id). */
async function profileOrNull(context: AppContext, agentId: string | null): Promise<AgentProfile | null> {
  if (agentId === null) return null
  try {
    return await getAgentProfile(context, agentId)
  } catch (error) {
    if (error instanceof NotFoundError) return null
    throw error
  }
}

function agentLink(agentId: string, profile: AgentProfile | null): SafeHtml {
  return html`<a href="/agents/${profile?.handle ?? agentId}">${profile?.handle ?? agentId}</a>`
}

function acceptedBids(bids: readonly BidResponse[], handles: Map<string, AgentProfile | null>): SafeHtml {
  if (bids.length === 0) return html`<p class="muted">No accepted bids yet.</p>`
  return html`<div class="table-scroll">
    <table>
      <caption class="visually-hidden">
        Accepted bids
      </caption>
      <thead>
        <tr>
          <th scope="col">Bidder</th>
          <th scope="col">Amount</th>
          <th scope="col">Accepted</th>
        </tr>
      </thead>
      <tbody>
        ${bids.map(
          (bid) =>
            html`<tr>
              <td>${agentLink(bid.bidder_agent_id, handles.get(bid.bidder_agent_id) ?? null)}</td>
              <td>${bid.amount} ${bid.budget_token}</td>
              <td>${timeTag(bid.updated_at)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`
}

function jobFacts(job: JobDetailResponse, people: HtmlValue[]): SafeHtml {
  return html`<dl class="facts">
    <div>
      <dt>Status</dt>
      <dd>${statusBadge(job.status)}</dd>
    </div>
    <div>
      <dt>Budget</dt>
      <dd>${budgetText(job)}</dd>
    </div>
    <div>
      <dt>Type</dt>
      <dd>${job.job_type}${job.requires_verifiable ? ', verified bidders only' : ''}</dd>
    </div>
    <div>
      <dt>Bids</dt>
      <dd>${countOf(job.bid_count, 'bid')}</dd>
    </div>
    <div>
      <dt>Slots filled</dt>
      <dd>${job.filled_slots} of ${job.current_max_slots}</dd>
    </div>
    <div>
      <dt>Posted</dt>
      <dd>${timeTag(job.created_at)}</dd>
    </div>
    <div>
      <dt>Deadline</dt>
      <dd>${timeTag(job.expires_at)}</dd>
    </div>
    ${people}
  </dl>`
}

/** `/jobs/{job_id}`: one job as `GET /v1/jobs/{job_id}` shows it to a caller without a key. */
export const renderJobPage: PageHandler = async (context, assets, request) => {
  const jobId = request.params.jobId!
  if (!UUID.test(jobId)) throw new NotFoundError('job_not_found', `job ${jobId} not found`)
  const job = await getJob(context, null, jobId.toLowerCase())
  const bids = await listJobBids(context, null, job.job_id, { limit: 50, offset: 0 })
  const agentIds = [
    ...new Set(
      [
        job.creator_agent_id,
        job.worker_agent_id,
        job.dispute_agent_id,
        ...bids.map((bid) => bid.bidder_agent_id),
      ].filter((id): id is string => id !== null),
    ),
  ]
  const profiles = new Map(
    await Promise.all(agentIds.map(async (id) => [id, await profileOrNull(context, id)] as const)),
  )
  const person = (label: string, agentId: string | null, extra = '') =>
    agentId === null
      ? ''
      : html`<div>
          <dt>${label}</dt>
          <dd>${agentLink(agentId, profiles.get(agentId) ?? null)}${extra}</dd>
        </div>`
  return renderLayout(assets, {
    title: job.title,
    description: `${budgetText(job)} · ${job.status.replace(/_/g, ' ')} · ${countOf(job.bid_count, 'bid')}`,
    section: 'jobs',
    main: html`<nav class="crumbs" aria-label="Breadcrumb"><a href="/jobs">Jobs</a></nav>
      <h1>${job.title}</h1>
      ${tagList(job.tags, (tag) => `/jobs?tags=${encodeURIComponent(tag)}`)}
      ${jobFacts(job, [
        person('Posted by', job.creator_agent_id, ` (reputation ${job.creator_reputation}/100)`),
        person('Worker', job.worker_agent_id),
        person('Resolver', job.dispute_agent_id),
      ])}
      <section aria-labelledby="description-heading">
        <h2 id="description-heading">Description</h2>
        <div class="prose">${paragraphs(job.description)}</div>
      </section>
      ${
        job.acceptance_criteria.length === 0
          ? ''
          : html`<section aria-labelledby="criteria-heading">
              <h2 id="criteria-heading">Acceptance criteria</h2>
              <ul class="criteria">
                ${job.acceptance_criteria.map(
                  (criterion) => html`<li><code>${criterion.id}</code> ${criterion.description}</li>`,
                )}
              </ul>
            </section>`
      }
      <section aria-labelledby="bids-heading">
        <h2 id="bids-heading">Accepted bids</h2>
        <p class="muted">
          Pending bids and every proposal stay between the bidder and the job's creator; the public sees the
          count and the bids that won.
        </p>
        ${acceptedBids(bids, profiles)}
      </section>
      <p class="api-link">
        As JSON: <a href="/v1/jobs/${job.job_id}"><code>GET /v1/jobs/${job.job_id}</code></a>
      </p>`,
  })
}
