import { randomUUID } from 'node:crypto'
import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { agentListPage, agentProfile } from '../../../protocol/agents'
import { reputationStars } from '../../../server/agents/agents-service'
import { withTransaction } from '../../../server/db/pool'
import { creditDeposit, lockEscrow, releaseEscrow } from '../../../server/ledger/ledger-service'
import { TEST_USDC, createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, uniqueHandle, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

describe('agent directory', () => {
  let database: TestDatabase
  let app: Express
  // Registered in this order, so created_at ascending is [a, b, c, d].
  let agents: RegisteredTestAgent[]

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    agents = []
    for (const [handle, tags] of [
      ['dir_alpha', ['rust', 'security']],
      ['dir_bravo', ['rust']],
      ['dir_charlie', ['design']],
      ['dir_delta', []],
    ] as const) {
      agents.push(await registerAgent(app, { handle, tags: [...tags] }))
    }
    await fundAgent(app, agents[1]!.apiKey, '30')
    await fundAgent(app, agents[2]!.apiKey, '10.5')
    await fundAgent(app, agents[3]!.apiKey, '20')
  })
  after(async () => {
    await database.drop()
  })

  const handles = (body: { handle: string }[]) => body.map((agent) => agent.handle)

  describe('GET /v1/agents', () => {
    it('lists every agent newest first as a bare array by default', async () => {
      const res = await request(app).get('/v1/agents').expect(200)
      expect(res.body).to.be.an('array')
      for (const row of res.body) agentProfile.parse(row)
      expect(handles(res.body)).to.deep.equal(['dir_delta', 'dir_charlie', 'dir_bravo', 'dir_alpha'])
    })

    it('is public, and also accepts a valid API key', async () => {
      await request(app).get('/v1/agents').set('Authorization', bearer(agents[0]!.apiKey)).expect(200)
    })

    it('answers 401 to invalid credentials even though it is public', async () => {
      await request(app).get('/v1/agents').set('Authorization', 'Bearer sk_live_nope').expect(401)
    })

    it('never shows private fields', async () => {
      const res = await request(app).get('/v1/agents').expect(200)
      for (const row of res.body) {
        expect(row).to.not.have.any.keys(
          'verifiable_claim',
          'is_managed_wallet',
          'api_key',
          'api_key_rotated_at',
        )
      }
    })

    it('filters by tag', async () => {
      const res = await request(app).get('/v1/agents?tag=rust').expect(200)
      expect(handles(res.body)).to.deep.equal(['dir_bravo', 'dir_alpha'])
    })

    it('searches handles case-insensitively and wallet addresses, treating % and _ literally', async () => {
      expect(handles((await request(app).get('/v1/agents?search=CHAR').expect(200)).body)).to.deep.equal([
        'dir_charlie',
      ])
      const wallet = agents[2]!.agent.wallet_address
      expect(
        handles(
          (
            await request(app)
              .get(`/v1/agents?search=${wallet.slice(0, 12)}`)
              .expect(200)
          ).body,
        ),
      ).to.include('dir_charlie')
      expect((await request(app).get('/v1/agents?search=%25').expect(200)).body).to.deep.equal([])
      expect(handles((await request(app).get('/v1/agents?search=d_r').expect(200)).body)).to.deep.equal([])
    })

    it('takes seed 004 clients’ query (as search) and category (agents offering an enabled service in it)', async () => {
      const byQuery = await request(app).get('/v1/agents').query({ query: 'DIR_B' }).expect(200)
      expect(handles(byQuery.body)).to.deep.equal(['dir_bravo'])
      const offer = (agent: RegisteredTestAgent, category: string, enabled = true) =>
        request(app)
          .post('/v1/agents/me/services')
          .set('Authorization', bearer(agent.apiKey))
          .send({ name: `A ${category} service`, category, pricing_model: 'custom', enabled })
          .expect(201)
      await offer(agents[0]!, 'dir-auditing')
      await offer(agents[2]!, 'dir-auditing')
      await offer(agents[2]!, 'dir-auditing')
      await offer(agents[3]!, 'dir-auditing', false)
      await offer(agents[1]!, 'dir-design')
      const byCategory = await request(app).get('/v1/agents').query({ category: 'dir-auditing' }).expect(200)
      expect(handles(byCategory.body)).to.deep.equal(['dir_charlie', 'dir_alpha'])
      const both = await request(app)
        .get('/v1/agents')
        .query({ category: 'dir-auditing', query: 'alpha', tag: 'rust' })
        .expect(200)
      expect(handles(both.body)).to.deep.equal(['dir_alpha'])
      const none = await request(app).get('/v1/agents').query({ category: 'dir-nothing' }).expect(200)
      expect(none.body).to.deep.equal([])
    })

    it('sorts by deposited, either direction, breaking ties by id', async () => {
      const desc = await request(app).get('/v1/agents?sort_by=deposited').expect(200)
      expect(handles(desc.body)).to.deep.equal(['dir_bravo', 'dir_delta', 'dir_charlie', 'dir_alpha'])
      expect(desc.body[0].total_deposited).to.equal('30')
      const asc = await request(app).get('/v1/agents?sort_by=deposited&sort_dir=asc').expect(200)
      expect(handles(asc.body)).to.deep.equal(['dir_alpha', 'dir_charlie', 'dir_delta', 'dir_bravo'])
    })

    it('pages with limit and offset', async () => {
      const res = await request(app).get('/v1/agents?limit=2&offset=1').expect(200)
      expect(handles(res.body)).to.deep.equal(['dir_charlie', 'dir_bravo'])
    })

    it('walks every agent once with cursor pagination, in the same order as offset pagination', async () => {
      const seen: string[] = []
      let cursor = ''
      for (let page = 0; page < 10; page += 1) {
        const res = await request(app).get(`/v1/agents?limit=3&cursor=${cursor}`).expect(200)
        const body = agentListPage.parse(res.body)
        seen.push(...handles(body.data))
        if (!body.has_more) {
          expect(body.next_cursor).to.equal(null)
          break
        }
        cursor = body.next_cursor!
      }
      expect(seen).to.deep.equal(['dir_delta', 'dir_charlie', 'dir_bravo', 'dir_alpha'])
    })

    it('walks ascending with a cursor too, and defaults the cursor page size to 20', async () => {
      const first = await request(app).get('/v1/agents?sort_dir=asc&cursor=&limit=2').expect(200)
      expect(handles(first.body.data)).to.deep.equal(['dir_alpha', 'dir_bravo'])
      const second = await request(app)
        .get(`/v1/agents?sort_dir=asc&limit=2&cursor=${first.body.next_cursor}`)
        .expect(200)
      expect(handles(second.body.data)).to.deep.equal(['dir_charlie', 'dir_delta'])
      expect(second.body.has_more).to.equal(false)
      const all = await request(app).get('/v1/agents?cursor=').expect(200)
      expect(all.body.data).to.have.length(4)
    })

    it('keeps a cursor stable when agents register after the first page', async () => {
      const first = await request(app).get('/v1/agents?limit=2&cursor=').expect(200)
      await registerAgent(app, { handle: uniqueHandle('late') })
      const second = await request(app)
        .get(`/v1/agents?limit=10&cursor=${first.body.next_cursor}`)
        .expect(200)
      expect(handles(second.body.data)).to.deep.equal(['dir_bravo', 'dir_alpha'])
    })

    for (const [query, field] of [
      ['limit=0', 'limit'],
      ['limit=101', 'limit'],
      ['limit=ten', 'limit'],
      ['offset=10001', 'offset'],
      ['offset=-1', 'offset'],
      ['sort_by=karma', 'sort_by'],
      ['sort_dir=up', 'sort_dir'],
      ['tag=Not%20A%20Tag', 'tag'],
      ['category=Not%20A%20Category', 'category'],
      ['query=alpha&search=bravo', 'query'],
      ['cursor=&sort_by=earned', 'cursor'],
      ['cursor=&offset=5', 'offset'],
      ['cursor=not-a-cursor', 'cursor'],
      [`cursor=${Buffer.from('{"t":"x","i":"y"}').toString('base64url')}`, 'cursor'],
    ] as const) {
      it(`answers 400 naming ${field} for ?${query}`, async () => {
        const res = await request(app).get(`/v1/agents?${query}`).expect(400)
        expect(res.body.error.details.fields[0].field).to.equal(field)
      })
    }
  })

  describe('GET /v1/agents/{id_or_handle}', () => {
    it('finds an agent by UUID and by handle, with the same profile', async () => {
      const byId = await request(app).get(`/v1/agents/${agents[1]!.agent.id}`).expect(200)
      const byHandle = await request(app).get('/v1/agents/dir_bravo').expect(200)
      expect(byId.body).to.deep.equal(byHandle.body)
      expect(agentProfile.parse(byId.body)).to.include({ handle: 'dir_bravo', total_deposited: '30' })
    })

    it('answers 404 agent_not_found for an unknown handle or UUID', async () => {
      expect((await request(app).get('/v1/agents/nobody_here').expect(404)).body.error.code).to.equal(
        'agent_not_found',
      )
      await request(app).get(`/v1/agents/${randomUUID()}`).expect(404)
    })

    it('answers 400 for an identifier that is far too long', async () => {
      await request(app)
        .get(`/v1/agents/${'a'.repeat(65)}`)
        .expect(400)
    })

    it('answers 401 to invalid credentials, and shows the owner no private field on its public profile', async () => {
      await request(app).get('/v1/agents/dir_alpha').set('Authorization', 'Bearer sk_live_nope').expect(401)
      const own = await request(app)
        .get('/v1/agents/dir_alpha')
        .set('Authorization', bearer(agents[0]!.apiKey))
        .expect(200)
      expect(own.body).to.not.have.any.keys(
        'verifiable_claim',
        'is_managed_wallet',
        'api_key',
        'api_key_rotated_at',
      )
    })
  })
})

describe('agent reputation', () => {
  let database: TestDatabase
  let app: Express

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    // The jobs, bids and disputes modules feed agent_activity; here a table stands in for them.
    await database.pool.query(`
      CREATE TABLE test_activity (agent_id uuid PRIMARY KEY, jobs_posted bigint, jobs_completed bigint,
                                  bids_placed bigint, disputes_lost bigint);
      CREATE OR REPLACE VIEW agent_activity AS
        SELECT a.id AS agent_id, coalesce(t.jobs_posted, 0)::bigint AS jobs_posted,
               coalesce(t.jobs_completed, 0)::bigint AS jobs_completed,
               coalesce(t.bids_placed, 0)::bigint AS bids_placed,
               coalesce(t.disputes_lost, 0)::bigint AS disputes_lost
        FROM agents AS a LEFT JOIN test_activity AS t ON t.agent_id = a.id`)
  })
  after(async () => {
    await database.drop()
  })

  async function agentWith(activity: {
    posted: number
    completed: number
    bids: number
    lost: number
    earned: bigint
  }): Promise<RegisteredTestAgent> {
    const agent = await registerAgent(app)
    const payer = await registerAgent(app)
    await database.pool.query('INSERT INTO test_activity VALUES ($1, $2, $3, $4, $5)', [
      agent.agent.id,
      activity.posted,
      activity.completed,
      activity.bids,
      activity.lost,
    ])
    if (activity.earned > 0n) {
      await withTransaction(database.pool, async (db) => {
        const token = TEST_USDC.address
        await creditDeposit(db, {
          agentId: payer.agent.id,
          token,
          amount: activity.earned,
          reference: randomUUID(),
        })
        await lockEscrow(db, {
          payerId: payer.agent.id,
          token,
          amount: activity.earned,
          reference: randomUUID(),
        })
        await releaseEscrow(db, {
          payerId: payer.agent.id,
          payeeId: agent.agent.id,
          token,
          amount: activity.earned,
          feeBps: 0,
          reference: randomUUID(),
        })
      })
    }
    return agent
  }

  for (const [name, activity, score, stars] of [
    ['a new agent', { posted: 0, completed: 0, bids: 0, lost: 0, earned: 0n }, 0, 0],
    // 40 success + 30 volume + 12.5 earnings + 6 participation = 88.5 → 89
    ['a busy clean worker', { posted: 3, completed: 8, bids: 15, lost: 0, earned: 12_500_000n }, 89, 4.5],
    // 40·6/7 = 34.29 + 30 + 20 (capped) + 10 (capped) − 10 = 84.29 → 84
    [
      'a worker who lost one dispute',
      { posted: 9, completed: 6, bids: 2, lost: 1, earned: 50_000_000n },
      84,
      4,
    ],
    // 20 + 5 + 0 + 0 − 10 = 15
    ['one win one loss', { posted: 0, completed: 1, bids: 1, lost: 1, earned: 0n }, 15, 1],
    // 0 + 0 + 0 + 2 − 50 → clamped to 0
    ['a serial dispute loser', { posted: 1, completed: 0, bids: 0, lost: 5, earned: 0n }, 0, 0],
  ] as const) {
    it(`scores ${name} ${score} (${stars} stars) by the seed formula`, async () => {
      const agent = await agentWith(activity)
      const res = await request(app).get(`/v1/agents/${agent.agent.id}`).expect(200)
      expect(res.body).to.include({
        reputation_score: score,
        reputation_stars: stars,
        jobs_completed: activity.completed,
        jobs_posted: activity.posted,
        bids_placed: activity.bids,
        disputes_lost: activity.lost,
      })
    })
  }

  it('reports total_earned from escrow releases in token units', async () => {
    const agent = await agentWith({ posted: 0, completed: 1, bids: 1, lost: 0, earned: 2_250_000n })
    const res = await request(app).get(`/v1/agents/${agent.agent.handle}`).expect(200)
    expect(res.body.total_earned).to.equal('2.25')
  })

  it('sorts the directory by reputation and by earnings', async () => {
    const byReputation = (await request(app).get('/v1/agents?sort_by=reputation&limit=100').expect(200)).body
    const scores = byReputation.map((row: { reputation_score: number }) => row.reputation_score)
    expect(scores).to.deep.equal([...scores].sort((a, b) => b - a))
    const byEarned = (await request(app).get('/v1/agents?sort_by=earned&limit=100').expect(200)).body
    const earned = byEarned.map((row: { total_earned: string }) => Number(row.total_earned))
    expect(earned).to.deep.equal([...earned].sort((a, b) => b - a))
    expect(earned[0]).to.equal(50)
  })

  it('turns a score into half stars as the seed says (72 → 3.5)', () => {
    expect([0, 4, 5, 15, 72, 89, 95, 100].map(reputationStars)).to.deep.equal([0, 0, 0.5, 1, 3.5, 4.5, 5, 5])
  })
})
