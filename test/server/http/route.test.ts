import { OpenApiGeneratorV31, OpenAPIRegistry } from '@asteasolutions/zod-to-openapi'
import { expect } from 'chai'
import express, { type Express } from 'express'
import pino from 'pino'
import request from 'supertest'
import { z } from '../../../protocol/zod'
import type { AppContext } from '../../../server/app-context'
import { errorHandler } from '../../../server/http/errors-middleware'
import { errors, json } from '../../../server/http/openapi-parts'
import { API_PREFIX, buildRouter, defineRoute, registerRoutes, type Route } from '../../../server/http/route'

const thing = z.object({ thing_id: z.string(), size: z.number() })

/** An app serving `routes` alone; routes without authentication need nothing else of a context. */
function serve(routes: readonly Route[], overrides: Partial<AppContext> = {}): Express {
  const logger = pino({ level: 'silent' })
  const context = { logger, isDevChain: false, ...overrides } as AppContext
  const app = express()
  app.use(express.json())
  app.use(API_PREFIX, buildRouter(context, routes))
  app.use(errorHandler(logger))
  return app
}

interface Operation {
  summary: string
  security?: unknown
  parameters: { in: string; name: string }[]
  responses: Record<string, unknown>
}

/** The OpenAPI document of `routes`, as JSON would carry it. */
function document(routes: readonly Route[]): { paths: Record<string, Record<string, Operation>> } {
  const registry = new OpenAPIRegistry()
  registerRoutes(registry, routes)
  const generated = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'test', version: '0' },
  })
  return JSON.parse(JSON.stringify(generated))
}

describe('route declarations', () => {
  const getThing = defineRoute({
    method: 'get',
    path: '/v1/things/{thing_id}',
    summary: 'A thing',
    auth: 'none',
    params: z.object({ thing_id: z.string().max(8) }),
    query: z.object({ size: z.coerce.number().int() }),
    responses: { 200: json(thing, 'The thing'), ...errors({ 400: 'Malformed' }) },
    handler: ({ params, query }) => ({ thing_id: params.thing_id, size: query.size }),
  })

  it('serves a route with its parsed params and query, under the document path in Express form', async () => {
    const res = await request(serve([getThing]))
      .get('/v1/things/abc?size=3')
      .expect(200)
    expect(res.body).to.deep.equal({ thing_id: 'abc', size: 3 })
  })

  it('answers 400 in the error shape naming the field, as parseInput does', async () => {
    const res = await request(serve([getThing]))
      .get('/v1/things/abc?size=x')
      .expect(400)
    expect(res.body.error.code).to.equal('validation_failed')
    expect(res.body.error.details.where).to.equal('query')
    expect(res.body.error.details.fields[0].field).to.equal('size')
  })

  it('documents the same route: path, parameters, responses, and no security without auth', () => {
    const operation = document([getThing]).paths['/v1/things/{thing_id}']!.get!
    expect(operation.summary).to.equal('A thing')
    expect(operation.parameters.map((p) => `${p.in}:${p.name}`)).to.deep.equal([
      'path:thing_id',
      'query:size',
    ])
    expect(Object.keys(operation.responses)).to.deep.equal(['200', '400'])
    expect(operation).to.not.have.property('security')
  })

  it('documents agent routes with both credentials and idempotent routes with the Idempotency-Key header', () => {
    const route = defineRoute({
      method: 'post',
      path: '/v1/things',
      summary: 'Make a thing',
      auth: 'agent',
      isIdempotent: true,
      responses: { 201: json(thing, 'Made') },
      handler: () => ({ thing_id: 'a', size: 1 }),
    })
    const operation = document([route]).paths['/v1/things']!.post!
    expect(operation.security).to.deep.equal([
      { bearerAuth: [] },
      { apiKeyHeader: [] },
      { walletSignature: [] },
    ])
    expect(operation.parameters[0]).to.deep.include({ in: 'header', name: 'Idempotency-Key' })
  })

  it('keeps the Express name of a path parameter the document spells otherwise', async () => {
    const route = defineRoute({
      method: 'get',
      path: '/v1/shelves/{shelf_ref}',
      summary: 'A shelf',
      auth: 'none',
      expressParamNames: { shelf_ref: 'shelfRef' },
      params: z.object({ shelfRef: z.string().max(3) }),
      responses: { 200: json(z.object({ ref: z.string() }), 'The shelf') },
      handler: ({ params }) => ({ ref: params.shelfRef }),
    })
    const app = serve([route])
    expect((await request(app).get('/v1/shelves/abc').expect(200)).body).to.deep.equal({ ref: 'abc' })
    const refused = await request(app).get('/v1/shelves/abcd').expect(400)
    expect(refused.body.error.details.fields[0].field).to.equal('shelfRef')
    const operation = document([route]).paths['/v1/shelves/{shelf_ref}']!.get!
    expect(operation.parameters[0]).to.deep.include({ in: 'path', name: 'shelf_ref' })
  })

  it('answers the status the handler replies with where several are declared, and 204 with no body', async () => {
    const upsert = defineRoute({
      method: 'put',
      path: '/v1/things/{thing_id}',
      summary: 'Put a thing',
      auth: 'none',
      params: z.object({ thing_id: z.string() }),
      cacheControl: 'no-store',
      responses: { 200: json(thing, 'Replaced'), 201: json(thing, 'Created') },
      handler: ({ params, reply }) => reply(params.thing_id === 'new' ? 201 : 200, { ...params, size: 1 }),
    })
    const remove = defineRoute({
      method: 'delete',
      path: '/v1/things/{thing_id}',
      summary: 'Delete a thing',
      auth: 'none',
      responses: { 204: { description: 'Deleted' } },
      handler: () => undefined,
    })
    const app = serve([upsert, remove])
    const created = await request(app).put('/v1/things/new').expect(201)
    expect(created.headers['cache-control']).to.equal('no-store')
    await request(app).put('/v1/things/old').expect(200)
    const deleted = await request(app).delete('/v1/things/old').expect(204)
    expect(deleted.text).to.equal('')
  })

  it('answers 404 before anything else runs where the route is not served', async () => {
    const route = defineRoute({
      method: 'post',
      path: '/v1/dev/thing',
      summary: 'Dev only',
      auth: 'agent',
      isServed: (context) => context.isDevChain,
      responses: { 200: json(thing, 'Made') },
      handler: () => ({ thing_id: 'a', size: 1 }),
    })
    const res = await request(serve([route]))
      .post('/v1/dev/thing')
      .expect(404)
    expect(res.body.error).to.deep.include({ code: 'not_found', message: 'no route for POST /v1/dev/thing' })
  })

  it('refuses declarations no request could be served by', () => {
    expect(() =>
      defineRoute({
        method: 'post',
        path: '/v1/things',
        summary: 'Idempotent without an agent',
        auth: 'optional',
        isIdempotent: true,
        responses: { 200: json(thing, 'Made') },
        handler: () => ({ thing_id: 'a', size: 1 }),
      }),
    ).to.throw(/needs auth 'agent'/)
    expect(() =>
      defineRoute({
        method: 'get',
        path: '/v1/things',
        summary: 'No success',
        auth: 'none',
        responses: errors({ 404: 'Never found' }),
        handler: () => undefined as never,
      }),
    ).to.throw(/no 2xx response/)
  })
})
