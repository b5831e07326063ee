import { expect } from 'chai'
import { randomUUID } from 'node:crypto'
import request from 'supertest'
import viewerManifest from 'swagger-ui-dist/package.json'
import type { JobResponse } from '../../../protocol/jobs'
import { postJob } from '../helpers/jobs'
import { buildPagesWorld, pageAddresses, type PagesWorld } from './pages-world'

/** The tags of a page's body that load or run script: each must load an external file. */
function scriptTags(body: string): string[] {
  return body.match(/<script\b[^>]*>/g) ?? []
}

/**
 * Issue 16, the public pages: each page answers 200 with what the public API shows anyone, in one
 * layout that is accessible (a language, landmarks, one h1, labelled fields) and loads only
 * external scripts under the app's Content-Security-Policy; what does not exist is a 404 page,
 * bad input a 400 page, never a 500.
 */
describe('public pages', () => {
  let world: PagesWorld
  /** An open job whose title and description are markup, which every page must show as text. */
  let hostile: JobResponse

  before(async function () {
    this.timeout(180_000)
    world = await buildPagesWorld()
    hostile = await postJob(world.app, world.agents.creator.apiKey, {
      title: '<script>alert("pages")</script> Benchmark the ingest path',
      description:
        'Measure p50 and p99 latency of the ingest path under 1k requests per second; report <b>numbers</b>.',
      tags: ['performance'],
      budget_amount: '9',
    })
  })
  after(async () => {
    await world?.stop()
  })

  const get = (path: string) => request(world.app).get(path)

  describe('every page', () => {
    it('answers 200 HTML in the shared layout: lang, viewport, landmarks, one h1, external scripts only', async () => {
      for (const path of [...(await pageAddresses(world)), `/jobs/${hostile.job_id}`]) {
        const res = await get(path)
        expect(res.status, path).to.equal(200)
        expect(res.headers['content-type'], path).to.match(/^text\/html; charset=utf-8/)
        expect(res.headers['content-security-policy'], path).to.contain("script-src 'self'")
        const body = res.text
        expect(body, path).to.match(/^<!doctype html>\s*<html lang="en">/)
        expect(body, path).to.contain(
          '<meta name="viewport" content="width=device-width, initial-scale=1" />',
        )
        for (const landmark of ['<header', '<nav aria-label="Site"', '<main id="main"', '<footer'])
          expect(body, `${path} ${landmark}`).to.contain(landmark)
        expect(body.match(/<h1\b/g), `${path} has one h1`).to.have.length(1)
        expect(body, path).to.contain('/assets/pages.css?v=')
        for (const tag of scriptTags(body)) expect(tag, `${path}: ${tag}`).to.match(/ src="\/assets\//)
        for (const input of body.match(/<(input|select)\b[^>]*>/g) ?? []) {
          const id = /id="([^"]+)"/.exec(input)?.[1]
          expect(id, `${path}: ${input} has an id`).to.be.a('string')
          expect(body, `${path}: #${id} is labelled`).to.contain(`<label for="${id}">`)
        }
      }
    })

    it('marks the current section in the navigation', async () => {
      const res = await get('/agents').expect(200)
      expect(res.text).to.match(/<a\s+href="\/agents"\s+aria-current="page"/)
      expect(res.text).not.to.match(/<a\s+href="\/jobs"\s+aria-current="page"/)
    })
  })

  describe('/', () => {
    it('points to every page and to the API docs', async () => {
      const res = await get('/').expect(200)
      for (const href of ['/jobs', '/agents', '/dashboard', '/settlements', '/docs', '/v1/openapi.json'])
        expect(res.text, href).to.contain(`href="${href}"`)
      expect(res.text).to.contain(world.jobs.open.title)
    })
  })

  describe('/jobs', () => {
    it('lists public jobs newest first, never a cancelled one', async () => {
      const res = await get('/jobs').expect(200)
      const { completed, open, cancelled } = world.jobs
      const positions = [hostile, open, completed].map((job) => res.text.indexOf(`/jobs/${job.job_id}"`))
      expect(positions.every((position) => position > 0)).to.equal(true)
      expect(positions).to.deep.equal([...positions].sort((a, b) => a - b))
      expect(res.text).not.to.contain(cancelled.job_id)
    })

    it('filters by status, tag and text like GET /v1/jobs', async () => {
      const byStatus = await get('/jobs?status=completed').expect(200)
      expect(byStatus.text).to.contain(world.jobs.completed.title)
      expect(byStatus.text).not.to.contain(world.jobs.open.title)
      const byTag = await get('/jobs?tags=translation').expect(200)
      expect(byTag.text).to.contain(world.jobs.open.title)
      expect(byTag.text).not.to.contain(world.jobs.completed.title)
      const byText = await get('/jobs?search=reentrancy&status=').expect(200)
      expect(byText.text).to.contain(world.jobs.completed.title)
      expect(byText.text).not.to.contain(world.jobs.open.title)
      expect(byText.text).to.contain('value="reentrancy"')
    })

    it('answers a bad filter with a 400 page naming it', async () => {
      const res = await get('/jobs?status=bogus').expect(400)
      expect(res.headers['content-type']).to.match(/^text\/html/)
      expect(res.text).to.contain('Bad request').and.to.contain('status')
      await get('/jobs?offset=-1').expect(400)
    })
  })

  describe('/jobs/{job_id}', () => {
    it('shows what GET /v1/jobs/{job_id} shows anyone: budget, status, bids, creator, accepted bid', async () => {
      const { completed } = world.jobs
      const res = await get(`/jobs/${completed.job_id}`).expect(200)
      const api = (await get(`/v1/jobs/${completed.job_id}`).expect(200)).body
      expect(res.text).to.contain(`<h1>${completed.title}</h1>`)
      expect(res.text).to.contain('25 USDC')
      expect(res.text).to.contain('badge-completed')
      expect(res.text).to.contain(`${api.bid_count} bids`)
      expect(res.text).to.contain('<p>Review the escrow release path')
      expect(res.text).to.contain('A Markdown report listing every finding')
      expect(res.text).to.contain(`href="/agents/${world.agents.creator.agent.handle}"`)
      expect(res.text).to.contain(`href="/agents/${world.agents.worker.agent.handle}"`)
      expect(res.text).to.contain(`${world.publicValues.acceptedAmount} USDC`)
    })

    it('shows a title with markup as text', async () => {
      const res = await get(`/jobs/${hostile.job_id}`).expect(200)
      expect(res.text).to.contain('&lt;script&gt;alert(&quot;pages&quot;)&lt;/script&gt;')
      expect(res.text).not.to.contain('<script>alert')
      expect(res.text).to.contain('&lt;b&gt;numbers&lt;/b&gt;')
    })

    it('is a 404 page for an unknown job, a cancelled one and a malformed id; a bad escape is a 400 page', async () => {
      for (const path of [
        `/jobs/${randomUUID()}`,
        `/jobs/${world.jobs.cancelled.job_id}`,
        '/jobs/not-a-job',
        '/jobs/%00',
      ]) {
        const res = await get(path)
        expect(res.status, path).to.equal(404)
        expect(res.headers['content-type'], path).to.match(/^text\/html/)
        expect(res.text, path).to.contain('<h1>Not found</h1>')
      }
      const res = await get('/jobs/%E0%A4%A').expect(400)
      expect(res.text).to.contain('<h1>Bad request</h1>')
    })
  })

  describe('/agents', () => {
    it('lists the directory with reputation and earnings, sorted as asked', async () => {
      const res = await get('/agents?sort_by=earned').expect(200)
      const { worker, creator } = world.agents
      expect(res.text).to.contain(`href="/agents/${worker.agent.handle}"`)
      expect(res.text.indexOf(`/agents/${worker.agent.handle}"`)).to.be.lessThan(
        res.text.indexOf(`/agents/${creator.agent.handle}"`),
      )
      expect(res.text).to.contain('Earned (USDC)')
      expect(res.text).not.to.contain('platform_resolver')
    })

    it('searches by handle and filters by tag', async () => {
      const bySearch = await get('/agents?search=quill').expect(200)
      expect(bySearch.text).to.contain(world.agents.worker.agent.handle)
      expect(bySearch.text).not.to.contain(`/agents/${world.agents.rival.agent.handle}"`)
      const byTag = await get('/agents?tag=translation').expect(200)
      expect(byTag.text).to.contain(world.agents.bidder.agent.handle)
      expect(byTag.text).not.to.contain(`/agents/${world.agents.worker.agent.handle}"`)
      await get('/agents?sort_by=wealth').expect(400)
    })
  })

  describe('/agents/{handle}', () => {
    it('shows the public profile GET /v1/agents/{handle} shows, and the public jobs of the agent', async () => {
      const { worker } = world.agents
      const res = await get(`/agents/${worker.agent.handle}`).expect(200)
      const profile = (await get(`/v1/agents/${worker.agent.handle}`).expect(200)).body
      expect(res.text).to.contain(`<h1>${worker.agent.handle}`)
      expect(res.text).to.contain(`${profile.total_earned} USDC`)
      expect(res.text).to.contain(`(${profile.reputation_score}/100)`)
      expect(res.text).to.contain(profile.wallet_address)
      expect(res.text).to.contain('security_audit')
      expect(res.text).to.contain(world.jobs.completed.title)
    })

    it('redirects an id, or a handle in capitals, to the handle', async () => {
      const { creator } = world.agents
      const byId = await get(`/agents/${creator.agent.id}`).expect(301)
      expect(byId.headers.location).to.equal(`/agents/${creator.agent.handle}`)
      const byCase = await get(`/agents/${creator.agent.handle.toUpperCase()}`).expect(301)
      expect(byCase.headers.location).to.equal(`/agents/${creator.agent.handle}`)
    })

    it('is a 404 page for an unknown agent and for what cannot be a handle or an id', async () => {
      for (const path of [
        '/agents/nobody_here',
        `/agents/${randomUUID()}`,
        '/agents/a',
        '/agents/%3Cscript%3E',
        `/agents/${'x'.repeat(300)}`,
      ]) {
        const res = await get(path)
        expect(res.status, path).to.equal(404)
        expect(res.text, path).to.contain('<h1>Not found</h1>')
        expect(res.text, path).not.to.contain('<script>')
      }
    })
  })

  describe('/dashboard', () => {
    it('shows the market figures, the leaderboard and the live feed wired to the public stream', async () => {
      const res = await get('/dashboard').expect(200)
      const figure = (label: string) =>
        new RegExp(
          `<span class="stat-value">([^<]*)</span>\\s*<span class="stat-label">${label}</span>`,
        ).exec(res.text)?.[1]
      expect(figure('Open jobs')).to.equal('2') // the translation and the hostile one
      expect(figure('Agents')).to.equal('4')
      expect(figure('Completed jobs')).to.equal('1')
      const earned = (await get(`/v1/agents/${world.agents.worker.agent.handle}`).expect(200)).body
        .total_earned
      expect(figure('Settled volume')).to.equal(`${earned} USDC`)
      expect(res.text).to.contain('id="leaderboard-heading"')
      expect(res.text.indexOf(`/agents/${world.agents.worker.agent.handle}"`)).to.be.greaterThan(0)
      expect(res.text).to.match(/<ol\s+id="feed"[^>]*data-stream="\/dashboard\/events"/)
      expect(res.text).to.match(/data-replay-from="\d+"/)
      expect(res.text).to.match(/<script src="\/assets\/dashboard\.js\?v=[\w-]+" defer><\/script>/)
    })
  })

  describe('/settlements', () => {
    it('lists the settled batches with their transactions, op counts and totals, each linking its ops', async () => {
      const api = (await get('/v1/settlements?limit=50').expect(200)).body.settlements as {
        batch_number: number
        tx_hash: string
        op_count: number
      }[]
      expect(api.length).to.be.greaterThan(0)
      const res = await get('/settlements').expect(200)
      for (const batch of api) {
        expect(res.text).to.contain(`href="/settlements/${batch.batch_number}"`)
        expect(res.text).to.contain(`href="/settlements/${batch.batch_number}#ops">${batch.op_count}</a>`)
        expect(res.text).to.contain(`title="${batch.tx_hash}"`)
      }
      // The accepted bid's 18.5 USDC locked, then released less the 1% fee.
      expect(res.text).to.contain('18.5 USDC escrow locked')
      expect(res.text).to.contain('18.315 USDC paid to workers')
    })

    it('shows one batch with every op, its signers and its transaction', async () => {
      const batch = (await get('/v1/settlements/1').expect(200)).body
      const res = await get('/settlements/1').expect(200)
      expect(res.text).to.contain('<h1>Batch 1</h1>')
      expect(res.text).to.contain(batch.tx_hash)
      expect(res.text).to.contain(batch.ops_root)
      for (const op of batch.ops as { kind: string }[])
        expect(res.text).to.contain(op.kind.replace(/_/g, ' '))
      expect(res.text).to.contain('payer')
    })

    it('is a 404 page for a batch not settled or a number that is none; a bad position is a 400 page', async () => {
      for (const path of [
        '/settlements/999',
        '/settlements/0',
        '/settlements/abc',
        '/settlements/99999999999999999999',
      ]) {
        const res = await get(path)
        expect(res.status, path).to.equal(404)
        expect(res.text, path).to.contain('<h1>Not found</h1>')
      }
      await get('/settlements?after=-1').expect(400)
      const late = await get('/settlements?after=900').expect(200)
      expect(late.text).to.contain('No later batches.')
    })
  })

  describe('/docs', () => {
    it('loads Swagger UI from the coordinator (the pinned swagger-ui-dist), pointed at /v1/openapi.json', async () => {
      const res = await get('/docs').expect(200)
      const { version } = viewerManifest
      const bundle = `/assets/swagger-ui/${version}/swagger-ui-bundle.js`
      expect(res.text).to.contain(`<script src="${bundle}" defer></script>`)
      expect(res.text).to.contain(`href="/assets/swagger-ui/${version}/swagger-ui.css"`)
      expect(res.text).to.contain('data-url="/v1/openapi.json"')
      expect(res.text).not.to.match(/https?:\/\/[^"]*(unpkg|jsdelivr|cdnjs)/)
      const script = await get(bundle).expect(200)
      expect(script.headers['content-type']).to.match(/^text\/javascript/)
      expect(script.headers['cache-control']).to.contain('immutable')
      await get(`/assets/swagger-ui/0.0.0/swagger-ui-bundle.js`).expect(404)
    })
  })

  describe('assets', () => {
    it('serves the stylesheet and scripts with a validator, and 404s what is not an asset', async () => {
      const css = await get('/assets/pages.css').expect(200)
      expect(css.headers['content-type']).to.match(/^text\/css/)
      await get('/assets/pages.css').set('If-None-Match', css.headers.etag!).expect(304)
      await get('/assets/dashboard.js')
        .expect(200)
        .expect('content-type', /javascript/)
      await get('/assets/docs.js').expect(200)
      const missing = await get('/assets/package.json').expect(404)
      expect(missing.body.error.code).to.equal('not_found')
    })
  })
})
