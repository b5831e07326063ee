import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { getAddress } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { withdrawalAddress, withdrawalAddressList } from '../../../protocol/wallet'
import { createTestApp } from '../helpers/app'
import { bearer, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

function freshAddress(): `0x${string}` {
  return privateKeyToAccount(generatePrivateKey()).address
}

describe('withdrawal addresses', () => {
  let database: TestDatabase
  let app: Express
  let owner: RegisteredTestAgent
  let stranger: RegisteredTestAgent

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    owner = await registerAgent(app)
    stranger = await registerAgent(app)
  })
  after(async () => {
    await database.drop()
  })

  function create(agent: RegisteredTestAgent, body: Record<string, unknown>) {
    return request(app).post('/v1/withdrawal-addresses').set('Authorization', bearer(agent.apiKey)).send(body)
  }

  async function list(agent: RegisteredTestAgent) {
    const res = await request(app)
      .get('/v1/withdrawal-addresses')
      .set('Authorization', bearer(agent.apiKey))
      .expect(200)
    return withdrawalAddressList.parse(res.body).data
  }

  describe('POST /v1/withdrawal-addresses', () => {
    it('saves an address checksummed, the first one as the default and later ones not', async () => {
      const agent = await registerAgent(app)
      const first = freshAddress()
      const res = await create(agent, { address: first.toLowerCase(), label: 'cold wallet' }).expect(201)
      const saved = withdrawalAddress.parse(res.body)
      expect(saved).to.include({ address: getAddress(first), label: 'cold wallet', is_default: true })

      const second = await create(agent, { address: freshAddress() }).expect(201)
      expect(second.body).to.include({ is_default: false, label: null })
      const third = await create(agent, { address: freshAddress(), is_default: true }).expect(201)
      expect(third.body.is_default).to.equal(true)

      const all = await list(agent)
      expect(all.map((row) => row.address_id)).to.have.members([
        saved.address_id,
        second.body.address_id,
        third.body.address_id,
      ])
      expect(all[0]!.address_id, 'the default comes first').to.equal(third.body.address_id)
      expect(all.filter((row) => row.is_default)).to.have.length(1)
    })

    it('accepts a correctly checksummed address and rejects a mixed-case one with a bad checksum, naming address', async () => {
      let good = getAddress(freshAddress())
      while (!/[a-f]/.test(good.slice(2)) || !/[A-F]/.test(good.slice(2))) good = getAddress(freshAddress())
      await create(owner, { address: good }).expect(201)
      // Flipping the case of one letter breaks the checksum, which fixes the case of every letter.
      const at = [...good].findIndex((char, index) => index > 1 && /[a-fA-F]/.test(char))
      const flipped = good[at] === good[at]!.toUpperCase() ? good[at]!.toLowerCase() : good[at]!.toUpperCase()
      const res = await create(owner, {
        address: `${good.slice(0, at)}${flipped}${good.slice(at + 1)}`,
      }).expect(400)
      expect(res.body.error.details.fields[0].field).to.equal('address')
    })

    it('answers 400 naming address for a malformed or zero address, and 400 naming label for an empty label', async () => {
      for (const address of ['0x1234', 'not an address', 42, '0x0000000000000000000000000000000000000000']) {
        const res = await create(owner, { address }).expect(400)
        expect(res.body.error.details.fields[0].field).to.equal('address')
      }
      const res = await create(owner, { address: freshAddress(), label: '   ' }).expect(400)
      expect(res.body.error.details.fields[0].field).to.equal('label')
    })

    it('answers 409 address_exists for an address the agent already saved, in any case', async () => {
      const address = freshAddress()
      await create(owner, { address }).expect(201)
      const res = await create(owner, { address: address.toLowerCase() }).expect(409)
      expect(res.body.error.code).to.equal('address_exists')
      // Another agent may save the same address.
      await create(stranger, { address }).expect(201)
    })

    it('keeps exactly one default when an agent saves many addresses at once', async () => {
      const agent = await registerAgent(app)
      const results = await Promise.all(
        Array.from({ length: 8 }, () => create(agent, { address: freshAddress(), is_default: true })),
      )
      expect(results.map((res) => res.status)).to.deep.equal(Array(8).fill(201))
      const all = await list(agent)
      expect(all).to.have.length(8)
      expect(all.filter((row) => row.is_default)).to.have.length(1)
    })

    it('answers 401 without credentials', async () => {
      await request(app).post('/v1/withdrawal-addresses').send({ address: freshAddress() }).expect(401)
    })
  })

  describe('GET /v1/withdrawal-addresses/{id}', () => {
    it('shows the owner its address and answers 404 to anyone else, 400 naming address_id for a malformed id', async () => {
      const saved = (await create(owner, { address: freshAddress() }).expect(201)).body
      const res = await request(app)
        .get(`/v1/withdrawal-addresses/${saved.address_id}`)
        .set('Authorization', bearer(owner.apiKey))
        .expect(200)
      expect(res.body).to.deep.equal(saved)
      await request(app)
        .get(`/v1/withdrawal-addresses/${saved.address_id}`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
      const malformed = await request(app)
        .get('/v1/withdrawal-addresses/not-a-uuid')
        .set('Authorization', bearer(owner.apiKey))
        .expect(400)
      expect(malformed.body.error.details.fields[0].field).to.equal('address_id')
      expect(await list(stranger)).to.not.deep.include(saved)
    })
  })

  describe('PATCH /v1/withdrawal-addresses/{id}', () => {
    it('changes the label, clears it with null, and changes the address', async () => {
      const saved = (await create(owner, { address: freshAddress(), label: 'old' }).expect(201)).body
      const path = `/v1/withdrawal-addresses/${saved.address_id}`
      const relabelled = await request(app)
        .patch(path)
        .set('Authorization', bearer(owner.apiKey))
        .send({ label: 'new' })
        .expect(200)
      expect(relabelled.body.label).to.equal('new')
      const cleared = await request(app)
        .patch(path)
        .set('Authorization', bearer(owner.apiKey))
        .send({ label: null })
        .expect(200)
      expect(cleared.body.label).to.equal(null)
      const moved = freshAddress()
      const readdressed = await request(app)
        .patch(path)
        .set('Authorization', bearer(owner.apiKey))
        .send({ address: moved })
        .expect(200)
      expect(readdressed.body.address).to.equal(getAddress(moved))
    })

    it("answers 404 on another agent's address, 409 for an address already saved, 400 for an empty body", async () => {
      const saved = (await create(owner, { address: freshAddress() }).expect(201)).body
      const other = (await create(owner, { address: freshAddress() }).expect(201)).body
      const path = `/v1/withdrawal-addresses/${saved.address_id}`
      await request(app)
        .patch(path)
        .set('Authorization', bearer(stranger.apiKey))
        .send({ label: 'mine now' })
        .expect(404)
      const duplicate = await request(app)
        .patch(path)
        .set('Authorization', bearer(owner.apiKey))
        .send({ address: other.address })
        .expect(409)
      expect(duplicate.body.error.code).to.equal('address_exists')
      const empty = await request(app)
        .patch(path)
        .set('Authorization', bearer(owner.apiKey))
        .send({})
        .expect(400)
      expect(empty.body.error.details.fields[0].field).to.equal('address')
    })
  })

  describe('POST /v1/withdrawal-addresses/{id}/default', () => {
    it('moves the default, idempotently', async () => {
      const agent = await registerAgent(app)
      const first = (await create(agent, { address: freshAddress() }).expect(201)).body
      const second = (await create(agent, { address: freshAddress() }).expect(201)).body
      for (let round = 0; round < 2; round += 1) {
        const res = await request(app)
          .post(`/v1/withdrawal-addresses/${second.address_id}/default`)
          .set('Authorization', bearer(agent.apiKey))
          .expect(200)
        expect(res.body.is_default).to.equal(true)
      }
      const all = await list(agent)
      expect(all.find((row) => row.address_id === first.address_id)!.is_default).to.equal(false)
      expect(all.find((row) => row.address_id === second.address_id)!.is_default).to.equal(true)
    })

    it("answers 404 for another agent's address", async () => {
      const saved = (await create(owner, { address: freshAddress() }).expect(201)).body
      await request(app)
        .post(`/v1/withdrawal-addresses/${saved.address_id}/default`)
        .set('Authorization', bearer(stranger.apiKey))
        .expect(404)
    })
  })

  describe('DELETE /v1/withdrawal-addresses/{id}', () => {
    it("deletes the owner's address (then 404), and answers 404 to anyone else", async () => {
      const saved = (await create(owner, { address: freshAddress() }).expect(201)).body
      const path = `/v1/withdrawal-addresses/${saved.address_id}`
      await request(app).delete(path).set('Authorization', bearer(stranger.apiKey)).expect(404)
      await request(app).delete(path).set('Authorization', bearer(owner.apiKey)).expect(204)
      await request(app).get(path).set('Authorization', bearer(owner.apiKey)).expect(404)
      await request(app).delete(path).set('Authorization', bearer(owner.apiKey)).expect(404)
    })
  })
})
