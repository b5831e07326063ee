import type { Express } from 'express'
import pino from 'pino'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { Address } from 'viem'
import type { JobResponse } from '../../../protocol/jobs'
import { EventHub } from '../../../server/events/event-bus'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createChainTestApp, type ChainTestApp } from '../helpers/chain-app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import {
  postAccept,
  postAssignmentMessage,
  postAward,
  postBid,
  postJob,
  postJobMessage,
  postRequestChanges,
  postSubmit,
} from '../helpers/jobs'

const USDC = 1_000_000n

/** A market the public pages can show: a job paid and settled on-chain, open work, a cancelled job. */
export interface PagesWorld {
  database: TestDatabase
  chain: ChainTestApp
  app: Express
  hub: EventHub
  agents: {
    creator: RegisteredTestAgent
    worker: RegisteredTestAgent
    rival: RegisteredTestAgent
    bidder: RegisteredTestAgent
  }
  jobs: {
    /** Awarded to `worker`, reviewed, accepted and settled. */
    completed: JobResponse
    /** Open, with a pending bid. */
    open: JobResponse
    /** Cancelled by its creator: nobody else may see it any more (seed 004 "Job Visibility"). */
    cancelled: JobResponse
  }
  /** What the API keeps from the public, planted in the world: no page and no feed event may show any. */
  privateValues: Record<string, string>
  /** Public, shown: the accepted bid's amount, the creator's public update. */
  publicValues: { acceptedAmount: string; publicMessage: string }
  stop(): Promise<void>
}

/** A fresh address nobody else uses. */
function freshAddress(): Address {
  return privateKeyToAccount(generatePrivateKey()).address
}

/**
 * Builds the world over a real vault on Hardhat's chain, with an event hub so the public feed
 * (`GET /dashboard/events`) streams. Every private value is planted through the API the way an
 * agent would write it, so the pages are checked against the real flows, not fixtures.
 */
export async function buildPagesWorld(): Promise<PagesWorld> {
  const database = await createTestDatabase()
  const hub = new EventHub(database.pool, pino({ level: 'silent' }), { pollMs: 100 })
  await hub.start()
  const chain = await createChainTestApp(database, { contextOverrides: { events: hub } })
  const app = chain.app

  const privateValues = {
    winningProposal: 'PLANTED-WINNING-PROPOSAL-4b1f',
    losingProposal: 'PLANTED-LOSING-PROPOSAL-93c0',
    losingAmount: '3.1337',
    pendingProposal: 'PLANTED-PENDING-PROPOSAL-2d7e',
    pendingAmount: '4.2424',
    deliverable: 'https://planted.example/deliverable-6a02.md',
    privateMessage: 'PLANTED-PRIVATE-MESSAGE-c55e',
    feedback: 'PLANTED-CHANGES-FEEDBACK-0f9b',
    verifiableClaim: 'PLANTED-SELF-ASSERTED-CLAIM-71aa',
    withdrawalLabel: 'PLANTED-WITHDRAWAL-LABEL-e3d4',
    withdrawalAddress: freshAddress(),
    cancelledTitle: 'Rename the staging buckets after the migration',
  }

  const creator = await registerAgent(app, {
    handle: 'atlas_labs',
    tags: ['research', 'security'],
    capabilities: { skills: ['code_review', 'threat_modeling'], languages: ['rust', 'solidity'] },
    verifiableClaim: { note: privateValues.verifiableClaim },
  })
  const worker = await registerAgent(app, {
    handle: 'quill_audits',
    tags: ['security', 'rust'],
    capabilities: { skills: ['security_audit'] },
  })
  const rival = await registerAgent(app, { handle: 'nimbus_dev', tags: ['developer'] })
  const bidder = await registerAgent(app, { handle: 'lumen_translate', tags: ['translation'] })
  await chain.fund(creator.agent.wallet_address as Address, 200n * USDC)

  await request(app)
    .post('/v1/withdrawal-addresses')
    .set('Authorization', bearer(worker.apiKey))
    .send({ address: privateValues.withdrawalAddress, label: privateValues.withdrawalLabel })
    .expect(201)

  // A job through its whole life: bids, award, a private exchange, a review, acceptance.
  const completed = await postJob(app, creator.apiKey, {
    title: 'Audit the escrow module for reentrancy',
    description:
      'Review the escrow release path of our Rust service for reentrancy and ordering bugs.\n\nDeliver a Markdown report with findings ranked by severity.',
    tags: ['security', 'rust', 'audit'],
    budget_amount: '25',
    acceptance_criteria: [{ id: 'report', description: 'A Markdown report listing every finding' }],
  })
  const winning = await postBid(app, worker.apiKey, completed.job_id, {
    amount: '18.5',
    proposal: privateValues.winningProposal,
  })
  await postBid(app, rival.apiKey, completed.job_id, {
    amount: privateValues.losingAmount,
    proposal: privateValues.losingProposal,
  })
  await postAward(app, creator.apiKey, completed.job_id, winning.bid_id)
  const submitted = await postSubmit(app, worker.apiKey, completed.job_id, privateValues.deliverable)
  await postAssignmentMessage(app, worker.apiKey, submitted.assignment_id, privateValues.privateMessage)
  await postRequestChanges(app, creator.apiKey, completed.job_id, privateValues.feedback)
  await postSubmit(app, worker.apiKey, completed.job_id, privateValues.deliverable)
  const publicMessage = 'Reviewing the second version of the report today.'
  await postJobMessage(app, creator.apiKey, completed.job_id, publicMessage)
  await postAccept(app, creator.apiKey, completed.job_id)

  const open = await postJob(app, creator.apiKey, {
    title: 'Translate the onboarding guide into German',
    description: 'About 4,000 words of Markdown; keep the code blocks and links as they are. Native fluency.',
    tags: ['translation', 'docs'],
    budget_amount: '12',
  })
  await postBid(app, bidder.apiKey, open.job_id, {
    amount: privateValues.pendingAmount,
    proposal: privateValues.pendingProposal,
  })
  const cancelled = await postJob(app, creator.apiKey, {
    title: privateValues.cancelledTitle,
    description: 'Rename every staging bucket to the new naming scheme and update the references in CI.',
    tags: ['devops'],
    budget_amount: '6',
  })
  await request(app)
    .post(`/v1/jobs/${cancelled.job_id}/cancel`)
    .set('Authorization', bearer(creator.apiKey))
    .send({})
    .expect(200)

  // The escrow lock and its release go on-chain in settlement batches.
  await chain.settle()

  return {
    database,
    chain,
    app,
    hub,
    agents: { creator, worker, rival, bidder },
    jobs: { completed, open, cancelled },
    privateValues,
    publicValues: { acceptedAmount: '18.5', publicMessage },
    async stop() {
      await hub.stop()
      await chain.stop()
      await database.drop()
    },
  }
}

/** Every public page of the world, by address: what the privacy test reads and the browser loads. */
export async function pageAddresses(world: PagesWorld): Promise<string[]> {
  const settlements = await request(world.app).get('/v1/settlements?limit=50').expect(200)
  const batches = (settlements.body.settlements as { batch_number: number }[]).map(
    (batch) => `/settlements/${batch.batch_number}`,
  )
  return [
    '/',
    '/jobs',
    '/jobs?status=completed',
    '/jobs?status=open',
    `/jobs/${world.jobs.completed.job_id}`,
    `/jobs/${world.jobs.open.job_id}`,
    '/agents',
    '/agents?sort_by=earned',
    ...Object.values(world.agents).map((agent) => `/agents/${agent.agent.handle}`),
    '/dashboard',
    '/settlements',
    ...batches,
    '/docs',
  ]
}
