import { expect } from 'chai'
import type { Express } from 'express'
import request from 'supertest'
import { bearer, fundAgent, registerAgent, type RegisteredTestAgent } from '../helpers/agents'
import { createTestApp } from '../helpers/app'
import { createTestDatabase, type TestDatabase } from '../helpers/database'
import { registerStubService, startUpstreamStub, type UpstreamStub } from '../helpers/upstream'

/**
 * The seeds' field names where ours differ (docs/seed-field-aliases.md): each alias is an extra
 * response field carrying the same value as ours, and the OpenAPI document says whose it is.
 */
describe('seed field aliases', () => {
  let database: TestDatabase
  let app: Express
  let upstream: UpstreamStub
  let provider: RegisteredTestAgent
  let caller: RegisteredTestAgent
  let serviceId: string

  before(async () => {
    database = await createTestDatabase()
    ;({ app } = await createTestApp(database))
    upstream = await startUpstreamStub()
    provider = await registerAgent(app)
    caller = await registerAgent(app)
    await fundAgent(app, caller.apiKey, '100')
    serviceId = await registerStubService(app, provider.apiKey, upstream, {
      price: '2.5',
      fields: { tags: ['text-translation'] },
    })
  })
  after(async () => {
    await upstream.close()
    await database.drop()
  })

  describe('agent profile: price_per_task (seed 001) is base_price', () => {
    it('on the public profile, the directory and the own profile, priced and unpriced', async () => {
      await request(app)
        .patch('/v1/agents/me')
        .set('Authorization', bearer(provider.apiKey))
        .send({ base_price: '12.5' })
        .expect(200)
      const priced = await request(app).get(`/v1/agents/${provider.agent.agent_id}`).expect(200)
      expect(priced.body).to.include({ base_price: '12.5', price_per_task: '12.5' })
      const listed = await request(app).get('/v1/agents').query({ search: provider.agent.handle }).expect(200)
      const row = (listed.body as { agent_id: string }[]).find((a) => a.agent_id === provider.agent.agent_id)
      expect(row).to.include({ base_price: '12.5', price_per_task: '12.5' })
      const own = await request(app)
        .get('/v1/agents/me')
        .set('Authorization', bearer(provider.apiKey))
        .expect(200)
      expect(own.body).to.include({ base_price: '12.5', price_per_task: '12.5' })

      const unpriced = await request(app).get(`/v1/agents/${caller.agent.agent_id}`).expect(200)
      expect(unpriced.body).to.include({ base_price: null, price_per_task: null })
    })
  })

  describe('tasks: id (seed 001) is task_id, result (seed 001) is output', () => {
    it('on POST /v1/tasks, GET /v1/tasks/{task_id} and GET /v1/tasks', async () => {
      const created = await request(app)
        .post('/v1/tasks')
        .set('Authorization', bearer(caller.apiKey))
        .send({ capability: 'text-translation', input: { text: 'Hello' }, max_price: '10' })
      expect(created.status, JSON.stringify(created.body)).to.equal(201)
      expect(created.body.status).to.equal('completed')
      expect(created.body.output).to.deep.equal({ echo: { text: 'Hello' } })
      expect(created.body.id).to.equal(created.body.task_id)
      expect(created.body.result).to.deep.equal(created.body.output)

      const fetched = await request(app)
        .get(`/v1/tasks/${created.body.id as string}`)
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      expect(fetched.body).to.include({ id: created.body.task_id, task_id: created.body.task_id })
      expect(fetched.body.result).to.deep.equal(fetched.body.output)

      const listed = await request(app)
        .get('/v1/tasks')
        .set('Authorization', bearer(caller.apiKey))
        .expect(200)
      for (const task of listed.body as { id: string; task_id: string; output: unknown; result: unknown }[]) {
        expect(task.id).to.equal(task.task_id)
        expect(task.result).to.deep.equal(task.output)
      }
    })

    it('result is null with output when the provider fails', async () => {
      await registerStubService(app, provider.apiKey, upstream, {
        path: '/declare-failure',
        price: '1',
        fields: { tags: ['klingon'] },
      })
      const failed = await request(app)
        .post('/v1/tasks')
        .set('Authorization', bearer(caller.apiKey))
        .send({ capability: 'klingon', input: 'Hello', max_price: '10' })
      expect(failed.status, JSON.stringify(failed.body)).to.equal(201)
      expect(failed.body).to.include({ status: 'failed', output: null, result: null })
    })
  })

  describe('proxied calls: result (seed 001 /api/execute) is output', () => {
    it('on POST /v1/execute and POST /v1/services/{service_id}/invoke', async () => {
      const executed = await request(app)
        .post('/v1/execute')
        .set('Authorization', bearer(caller.apiKey))
        .send({ agent_id: provider.agent.agent_id, service_id: serviceId, input: 'Write a haiku' })
      expect(executed.status, JSON.stringify(executed.body)).to.equal(200)
      expect(executed.body.output).to.deep.equal({ echo: 'Write a haiku' })
      expect(executed.body.result).to.deep.equal(executed.body.output)

      const invoked = await request(app)
        .post(`/v1/services/${serviceId}/invoke`)
        .set('Authorization', bearer(caller.apiKey))
        .send({ input: { query: 'weather' } })
      expect(invoked.status, JSON.stringify(invoked.body)).to.equal(200)
      expect(invoked.body.result).to.deep.equal(invoked.body.output)
      expect(invoked.body.output).to.deep.equal({ echo: { query: 'weather' } })
    })
  })

  describe('sessions: currency (seed 000) is token', () => {
    it('on POST /v1/sessions/{session_id}/settle', async () => {
      const hired = await request(app)
        .post('/v1/sessions')
        .set('Authorization', bearer(caller.apiKey))
        .send({ service_id: serviceId, message: 'Refactor the auth module', budget: '20' })
      expect(hired.status, JSON.stringify(hired.body)).to.equal(201)
      const settled = await request(app)
        .post(`/v1/sessions/${hired.body.session_id as string}/settle`)
        .set('Authorization', bearer(caller.apiKey))
        .send({ amount: '14' })
      expect(settled.status, JSON.stringify(settled.body)).to.equal(200)
      expect(settled.body).to.include({ amount_released: '14', token: 'USDC', currency: 'USDC' })
    })
  })

  describe('the OpenAPI document', () => {
    type Schema = { $ref?: string; properties?: Record<string, Schema>; items?: Schema; description?: string }

    it("describes every alias as one of ours under the seed's name", async () => {
      const res = await request(app).get('/v1/openapi.json').expect(200)
      const doc = res.body as {
        paths: Record<
          string,
          Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>
        >
        components: { schemas: Record<string, Schema> }
      }
      const resolve = (schema: Schema): Schema =>
        schema.$ref
          ? resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!)
          : schema
      const responseProperties = (path: string, method: string, status: string): Record<string, Schema> => {
        const response = doc.paths[path]?.[method]?.responses[status]
        expect(response, `${method} ${path} ${status}`).to.exist
        let schema = resolve(response!.content!['application/json']!.schema)
        if (schema.items) schema = resolve(schema.items)
        return schema.properties ?? {}
      }

      for (const [path, method, status, alias, ours, seed] of [
        ['/v1/agents/{id_or_handle}', 'get', '200', 'price_per_task', 'base_price', '001'],
        ['/v1/agents/me', 'get', '200', 'price_per_task', 'base_price', '001'],
        ['/v1/tasks', 'post', '201', 'id', 'task_id', '001'],
        ['/v1/tasks', 'post', '201', 'result', 'output', '001'],
        ['/v1/tasks/{task_id}', 'get', '200', 'id', 'task_id', '001'],
        ['/v1/tasks/{task_id}', 'get', '200', 'result', 'output', '001'],
        ['/v1/execute', 'post', '200', 'result', 'output', '001'],
        ['/v1/services/{service_id}/invoke', 'post', '200', 'result', 'output', '001'],
        ['/v1/sessions/{session_id}/settle', 'post', '200', 'currency', 'token', '000'],
      ] as const) {
        const properties = responseProperties(path, method, status)
        expect(properties, `${method} ${path}`).to.have.property(ours)
        expect(properties[alias]?.description, `${method} ${path} ${alias}`).to.match(
          new RegExp(`^Alias of ${ours} \\(seed ${seed}'s name`),
        )
      }
    })
  })
})
