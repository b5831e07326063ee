import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { agentProfile, myAgentResponse, verifiableClaimMessage } from '../../../protocol/agents'
import { isVerifiedClaim } from '../../../server/agents/verifiable-claims'
import { createTestApp } from '../helpers/app'
import { bearer, fundAgent, registerAgent, uniqueHandle, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { expectFieldError, postBid, postJob } from '../helpers/jobs'
import { signClaim } from './signed-claims'

describe('verifiable claims', () => {
  let database: TestDatabase
  let app: Express
  let requester: RegisteredTestAgent
  const issuer = privateKeyToAccount(generatePrivateKey())
  const stranger = privateKeyToAccount(generatePrivateKey())

  before(async () => {
    database = await createTestDatabase()
    // The configuration lists issuers lowercase; claims carry them checksummed, as viem signs them.
    ;({ app } = await createTestApp(database, null, {
      verifiableClaimIssuers: [issuer.address.toLowerCase() as `0x${string}`],
    }))
    requester = await registerAgent(app)
    await fundAgent(app, requester.apiKey, '100.00')
  })
  after(async () => {
    await database.drop()
  })

  const verifiedJob = () => postJob(app, requester.apiKey, { requires_verifiable: true })
  const bid = (agent: RegisteredTestAgent, jobId: string) =>
    request(app)
      .post(`/v1/jobs/${jobId}/bids`)
      .set('Authorization', bearer(agent.apiKey))
      .send({ amount: '1', eta_seconds: 3600 })
  const expectRefused = async (agent: RegisteredTestAgent, jobId: string) => {
    const res = await bid(agent, jobId)
    expect(res.status, JSON.stringify(res.body)).to.equal(403)
    expect(res.body.error.code).to.equal('verifiable_claim_required')
  }
  const isVerified = async (agent: RegisteredTestAgent, on = app) => {
    const res = await request(on).get(`/v1/agents/${agent.agent.id}`).expect(200)
    return agentProfile.parse(res.body).is_verified
  }
  /** A self-custody agent whose wallet is `account`, registered with `claim`. */
  const registerWith = async (
    claim: Record<string, unknown> | ((wallet: string) => Promise<Record<string, unknown>>),
  ) => {
    const account = privateKeyToAccount(generatePrivateKey())
    const verifiableClaim = typeof claim === 'function' ? await claim(account.address) : claim
    return registerAgent(app, { account, verifiableClaim })
  }
  /** Registration with a self-custody wallet and `verifiable_claim`, answered as it is. */
  const register = async (
    claim: (wallet: string) => Promise<Record<string, unknown>> | Record<string, unknown>,
  ) => {
    const account = privateKeyToAccount(generatePrivateKey())
    const challenge = await request(app)
      .post('/v1/agents/challenge')
      .send({ wallet_address: account.address })
      .expect(201)
    return request(app)
      .post('/v1/agents/register')
      .send({
        handle: uniqueHandle('claim'),
        wallet_address: account.address,
        challenge: challenge.body.challenge,
        signature: await account.signMessage({ message: challenge.body.challenge }),
        verifiable_claim: await claim(account.address),
      })
  }

  describe('requires_verifiable', () => {
    it('attack: an empty self-asserted claim `{}` passes requires_verifiable -> refused', async () => {
      const job = await verifiedJob()
      const empty = await registerAgent(app, { verifiableClaim: {} })
      await expectRefused(empty, job.job_id)
      const asserted = await registerAgent(app, { verifiableClaim: { issuer: 'example', subject: 'me' } })
      await expectRefused(asserted, job.job_id)
      expect(await isVerified(empty)).to.equal(false)
      expect(await isVerified(asserted)).to.equal(false)
    })

    it('attack: an agent signs its own claim as the issuer -> refused', async () => {
      const job = await verifiedJob()
      const account = privateKeyToAccount(generatePrivateKey())
      const self = await registerAgent(app, {
        account,
        verifiableClaim: await signClaim(account, { subject: account.address }),
      })
      expect(await isVerified(self)).to.equal(false)
      await expectRefused(self, job.job_id)
    })

    it('takes a bid from an agent whose claim a configured issuer signed, and shows it verified everywhere', async () => {
      const job = await verifiedJob()
      const verified = await registerWith((wallet) => signClaim(issuer, { subject: wallet }))
      expect(await isVerified(verified)).to.equal(true)
      const me = myAgentResponse.parse(
        (await request(app).get('/v1/agents/me').set('Authorization', bearer(verified.apiKey)).expect(200))
          .body,
      )
      expect(me.is_verified).to.equal(true)
      expect(me.verifiable_claim).to.include({ issuer: issuer.address })
      const listed = (await request(app).get('/v1/agents?limit=100').expect(200)).body as {
        agent_id: string
        is_verified: boolean
      }[]
      expect(listed.find((row) => row.agent_id === verified.agent.id)!.is_verified).to.equal(true)
      expect(listed.find((row) => row.agent_id === requester.agent.id)!.is_verified).to.equal(false)
      await postBid(app, verified.apiKey, job.job_id, { amount: '1' })
    })

    it('keeps a claim signed by a key it does not trust for display, but refuses its bid', async () => {
      const job = await verifiedJob()
      const unknown = await registerWith((wallet) => signClaim(stranger, { subject: wallet }))
      expect(await isVerified(unknown)).to.equal(false)
      await expectRefused(unknown, job.job_id)
    })

    it("attack: an agent copies another agent's verified claim -> refused", async () => {
      const job = await verifiedJob()
      const owner = await registerWith((wallet) => signClaim(issuer, { subject: wallet }))
      const copier = await registerAgent(app)
      await database.pool.query(
        'UPDATE agents SET verifiable_claim = (SELECT o.verifiable_claim FROM agents AS o WHERE o.id = $1) WHERE id = $2',
        [owner.agent.id, copier.agent.id],
      )
      expect(await isVerified(copier)).to.equal(false)
      await expectRefused(copier, job.job_id)
    })

    it('stops counting a claim when its issuer is no longer trusted, and trusts no issuer by default', async () => {
      const job = await verifiedJob()
      const verified = await registerWith((wallet) => signClaim(issuer, { subject: wallet }))
      const { app: untrusting } = await createTestApp(database, null, { verifiableClaimIssuers: [] })
      const { app: unconfigured } = await createTestApp(database)
      for (const other of [untrusting, unconfigured]) {
        expect(await isVerified(verified, other)).to.equal(false)
        const res = await request(other)
          .post(`/v1/jobs/${job.job_id}/bids`)
          .set('Authorization', bearer(verified.apiKey))
          .send({ amount: '1', eta_seconds: 3600 })
        expect(res.status).to.equal(403)
        expect(res.body.error.code).to.equal('verifiable_claim_required')
      }
      expect(await isVerified(verified)).to.equal(true)
    })
  })

  describe('registration', () => {
    it('still accepts and shows an unsigned claim, unverified', async () => {
      const agent = await registerAgent(app, { verifiableClaim: { github: 'alice' } })
      const me = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(me.body).to.include({ is_verified: false })
      expect(me.body.verifiable_claim).to.deep.equal({ github: 'alice' })
    })

    it('stores a signed claim exactly as given (checksummed addresses too), so anyone can check it', async () => {
      const account = privateKeyToAccount(generatePrivateKey())
      const signed = await signClaim(issuer, {
        subject: account.address,
        claims: { z: 1, a: { y: [true, null], b: 'ü' } },
      })
      const agent = await registerAgent(app, { account, verifiableClaim: signed })
      const me = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(agent.apiKey))
        .expect(200)
      expect(me.body.verifiable_claim).to.deep.equal(signed)
      expect(me.body.verifiable_claim.subject).to.equal(account.address)
      expect(
        await issuer.signMessage({ message: verifiableClaimMessage(me.body.verifiable_claim) }),
      ).to.equal(signed.signature)
    })

    it('refuses a claim for another wallet, one its issuer did not sign, or one that expired (400 naming the field)', async () => {
      const other = privateKeyToAccount(generatePrivateKey()).address
      const cases: [string, (wallet: string) => Promise<Record<string, unknown>>][] = [
        ['verifiable_claim.subject', () => signClaim(issuer, { subject: other })],
        [
          'verifiable_claim.signature',
          (wallet) => signClaim(stranger, { subject: wallet, claimedIssuer: issuer.address }),
        ],
        [
          'verifiable_claim.signature',
          async (wallet) => ({
            ...(await signClaim(issuer, { subject: wallet })),
            claims: { kyc: 'forged' },
          }),
        ],
        [
          'verifiable_claim.expires_at',
          (wallet) =>
            signClaim(issuer, { subject: wallet, expiresAt: new Date(Date.now() - 1000).toISOString() }),
        ],
      ]
      for (const [field, claim] of cases) {
        const res = await register(claim)
        expectFieldError(res, field)
        expect(res.body.error.code).to.equal('invalid_verifiable_claim')
      }
      // A managed wallet's address exists only once registered, so no claim can name it yet.
      const managed = await request(app)
        .post('/v1/agents/register')
        .send({ verifiable_claim: await signClaim(issuer, { subject: other }) })
      expectFieldError(managed, 'verifiable_claim.subject')
    })

    it('refuses a malformed signed claim with 400 naming the field', async () => {
      const cases: [string, (wallet: string) => Promise<Record<string, unknown>>][] = [
        [
          'verifiable_claim.issuer',
          async (wallet) => ({ ...(await signClaim(issuer, { subject: wallet })), issuer: undefined }),
        ],
        [
          'verifiable_claim.issuer',
          async (wallet) => ({ ...(await signClaim(issuer, { subject: wallet })), issuer: 'example' }),
        ],
        [
          'verifiable_claim.claims',
          async (wallet) => ({ ...(await signClaim(issuer, { subject: wallet })), claims: 'kyc' }),
        ],
        [
          'verifiable_claim.issued_at',
          async (wallet) => ({ ...(await signClaim(issuer, { subject: wallet })), issued_at: 'today' }),
        ],
        [
          'verifiable_claim.signature',
          async (wallet) => ({ ...(await signClaim(issuer, { subject: wallet })), signature: '0x12' }),
        ],
        [
          'verifiable_claim',
          async (wallet) => ({ ...(await signClaim(issuer, { subject: wallet })), extra: 1 }),
        ],
      ]
      for (const [field, claim] of cases) expectFieldError(await register(claim), field)
    })
  })

  describe('isVerifiedClaim', () => {
    it('counts a claim only while unexpired, for its subject, by a trusted issuer', async () => {
      const wallet = privateKeyToAccount(generatePrivateKey()).address
      const expiresAt = '2030-01-01T00:00:00.000Z'
      const claim = await signClaim(issuer, { subject: wallet, expiresAt })
      const trusted = [issuer.address.toLowerCase() as `0x${string}`]
      expect(
        isVerifiedClaim(claim, wallet.toLowerCase(), trusted, new Date('2029-12-31T23:59:59Z')),
      ).to.equal(true)
      expect(isVerifiedClaim(claim, wallet, trusted, new Date(expiresAt))).to.equal(false)
      expect(isVerifiedClaim(claim, stranger.address, trusted, new Date('2029-01-01Z'))).to.equal(false)
      expect(isVerifiedClaim(claim, wallet, undefined, new Date('2029-01-01Z'))).to.equal(false)
      expect(isVerifiedClaim({}, wallet, trusted)).to.equal(false)
      expect(isVerifiedClaim(null, wallet, trusted)).to.equal(false)
    })
  })
})
