import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi'
import { Router, type Request, type RequestHandler, type Response } from 'express'
import { ERROR_CODES } from '../../protocol/errors'
import { z } from '../../protocol/zod'
import type { AppContext } from '../app-context'
import { NotFoundError } from '../errors'
import {
  currentAgent,
  currentCredential,
  maybeAgent,
  optionalAgent,
  requireAgent,
  type EnvelopeSigning,
} from './auth'
import type { Actor, Credential } from '../auth/actor'
import { idempotent } from './idempotency'
import { AGENT_AUTH, idempotencyKeyHeaders, OPTIONAL_AGENT_AUTH } from './openapi-parts'
import { parseInput } from './validate'

/** Every route's path starts with it; the routes of a room are served by one router mounted there. */
export const API_PREFIX = '/v1'

export type RouteMethod = 'get' | 'post' | 'patch' | 'put' | 'delete'

/**
 * Who may call a route. `none` reads no credentials. `optional` authenticates credentials when
 * they are given (wrong ones are still a 401) and gives the handler the agent or null. `agent`
 * requires them: 401 without.
 */
export type RouteAuth = 'none' | 'optional' | 'agent'

/** A path, query or header schema as zod-to-openapi takes it: an object, or an object piped into a transform. */
export type RouteParameterSchema = NonNullable<NonNullable<RouteConfig['request']>['params']>

/** Which credentials the OpenAPI document lists for an operation. */
export type SecurityRequirements = Record<string, string[]>[]

type AgentOf<A extends RouteAuth> = A extends 'agent' ? Actor : A extends 'optional' ? Actor | null : null

type Parsed<S> = S extends z.ZodType ? z.output<S> : undefined

/** What a handler is given: the request's parsed input, and the caller where the route authenticates. */
export interface RouteInput<P, Q, B, A extends RouteAuth, R> {
  context: AppContext
  params: Parsed<P>
  query: Parsed<Q>
  body: Parsed<B>
  agent: AgentOf<A>
  /** How the agent proved who it is; null unless `auth` is `agent`. */
  credential: A extends 'agent' ? Credential : null
  /** Answers one of the declared statuses with its body, where the handler picks the status. */
  reply<S extends keyof R & number>(status: S, body: BodyOf<R[S]>): Reply
}

type SuccessStatus = 200 | 201 | 202 | 204
type BodyOf<C> = C extends { content: { 'application/json': { schema: infer S extends z.ZodType } } }
  ? z.output<S>
  : void
/** What a handler may return: the body of a declared success status (typed by its schema), or a `reply()`. */
type HandlerResult<R> =
  | {
      [S in keyof R]: S extends SuccessStatus ? BodyOf<R[S]> : never
    }[keyof R]
  | Reply

/** One route, declared once: Express serves it and the OpenAPI document describes it from this. */
export interface RouteDefinition<
  P extends RouteParameterSchema | undefined,
  Q extends RouteParameterSchema | undefined,
  B extends z.ZodType | undefined,
  A extends RouteAuth,
  R extends Record<number, ResponseConfig> = Record<number, ResponseConfig>,
> {
  method: RouteMethod
  /** As the document spells it, `/v1/jobs/{job_id}`; Express is given `/jobs/:job_id` under `/v1`. */
  path: `${typeof API_PREFIX}/${string}`
  summary: string
  description?: string
  auth: A
  /**
   * The credentials the document lists, where the service accepts fewer than `auth` lets through
   * (it refuses the others with a 403 of its own); by default those of `auth`.
   */
  openApiSecurity?: SecurityRequirements
  /**
   * Express's names for path parameters the document spells otherwise (document name → Express
   * name). The params schema uses the Express names: they are what a 400 and the metrics' route
   * label say.
   */
  expressParamNames?: Record<string, string>
  /**
   * A limiter mounted after authentication (which spends a signed request's id, so a request
   * answered 429 cannot be replayed elsewhere) and before idempotency. Routes served by one
   * router that name the same factory share its counters.
   */
  rateLimit?: (context: AppContext) => RequestHandler
  /** Honours `Idempotency-Key` (see server/http/idempotency.ts); needs `auth: 'agent'`. */
  isIdempotent?: boolean
  /**
   * What a seed 003 body envelope signs on this route (`action:` and `product:` lines), where the
   * seed names them (`job_reserve` and the job id); by default `METHOD path` and the query.
   */
  envelopeSigning?: EnvelopeSigning
  /** False where the route does not exist: a 404 before anything else runs. */
  isServed?: (context: AppContext) => boolean
  params?: P
  query?: Q
  body?: B
  /** A request without a JSON body is parsed as `{}` (every field of the body is optional). */
  isBodyOptional?: boolean
  /** Sent with every success: responses that carry a secret say `no-store`. */
  cacheControl?: 'no-store'
  /** Every status the route answers, errors included. A single 2xx is the status of what the handler returns. */
  responses: R
  /**
   * Returns the success body (nothing for a 204), or `reply(status, body)` where the route has
   * several success statuses or answers a non-2xx without an error.
   */
  handler: (input: RouteInput<P, Q, B, A, R>) => HandlerResult<R> | Promise<HandlerResult<R>>
}

/** A route as `buildRouter` and `registerRoutes` take it. */
export interface Route extends Omit<
  RouteDefinition<
    RouteParameterSchema | undefined,
    RouteParameterSchema | undefined,
    z.ZodType | undefined,
    RouteAuth
  >,
  'handler'
> {
  /** The status of a plain return value; null when the handler must `reply()`. */
  successStatus: number | null
  /** Parses the request (params, then query, then body) and runs the handler. */
  handle(context: AppContext, req: Request, res: Response): Promise<unknown>
}

/** A response whose status the handler chose. */
class Reply {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {}
}

/** Declares a route; throws at load time for a declaration no request could be served by. */
export function defineRoute<
  P extends RouteParameterSchema | undefined = undefined,
  Q extends RouteParameterSchema | undefined = undefined,
  B extends z.ZodType | undefined = undefined,
  A extends RouteAuth = 'none',
  R extends Record<number, ResponseConfig> = Record<number, ResponseConfig>,
>(definition: RouteDefinition<P, Q, B, A, R>): Route {
  const { handler, ...declaration } = definition
  const name = `${definition.method.toUpperCase()} ${definition.path}`
  if (definition.isIdempotent && definition.auth !== 'agent') {
    throw new Error(`${name}: Idempotency-Key records belong to an agent, so the route needs auth 'agent'`)
  }
  const successStatuses = Object.keys(definition.responses)
    .map(Number)
    .filter((status) => status >= 200 && status < 300)
  if (successStatuses.length === 0) throw new Error(`${name}: no 2xx response is declared`)
  return {
    ...declaration,
    successStatus: successStatuses.length === 1 ? successStatuses[0]! : null,
    async handle(context, req, res) {
      const params = definition.params && parseInput(definition.params, req.params, 'params')
      const query = definition.query && parseInput(definition.query, req.query, 'query')
      const body =
        definition.body &&
        parseInput(definition.body, definition.isBodyOptional ? (req.body ?? {}) : req.body, 'body')
      const agent =
        definition.auth === 'agent'
          ? currentAgent(res)
          : definition.auth === 'optional'
            ? maybeAgent(res)
            : null
      const credential = definition.auth === 'agent' ? currentCredential(res) : null
      const reply = (status: number, body: unknown) => new Reply(status, body)
      return handler({ context, params, query, body, agent, credential, reply } as RouteInput<P, Q, B, A, R>)
    },
  }
}

/** The Express path under `API_PREFIX`: `/v1/jobs/{job_id}` is `/jobs/:job_id`. */
export function expressPath(route: Pick<Route, 'path' | 'expressParamNames'>): string {
  return route.path
    .slice(API_PREFIX.length)
    .replace(/\{(\w+)\}/g, (_match, name: string) => `:${route.expressParamNames?.[name] ?? name}`)
}

/**
 * The router serving `routes` under `API_PREFIX`, each with its middleware in one order:
 * availability, authentication, rate limit, idempotency, then the handler. Routes are matched in
 * the order given, so a literal segment (`/agents/me`) goes before a parameter (`/agents/{id}`).
 */
export function buildRouter(context: AppContext, routes: readonly Route[]): Router {
  const router = Router()
  const authentication: Record<RouteAuth, RequestHandler | null> = {
    none: null,
    optional: optionalAgent(context),
    agent: requireAgent(context),
  }
  const limiters = new Map<(context: AppContext) => RequestHandler, RequestHandler>()
  for (const route of routes) {
    const chain: RequestHandler[] = []
    const { isServed } = route
    if (isServed) {
      chain.push((_req, _res, next) => {
        if (isServed(context)) return next()
        next(
          new NotFoundError(ERROR_CODES.notFound, `no route for ${route.method.toUpperCase()} ${route.path}`),
        )
      })
    }
    const authenticate = authentication[route.auth]
    const { envelopeSigning } = route
    if (authenticate && envelopeSigning) {
      chain.push((_req, res, next) => {
        res.locals.envelopeSigning = envelopeSigning
        next()
      })
    }
    if (authenticate) chain.push(authenticate)
    if (route.rateLimit) {
      const limiter = limiters.get(route.rateLimit) ?? route.rateLimit(context)
      limiters.set(route.rateLimit, limiter)
      chain.push(limiter)
    }
    if (route.isIdempotent) chain.push(idempotent(context))
    chain.push(async (req, res) => send(res, route, await route.handle(context, req, res)))
    router[route.method](expressPath(route), ...chain)
  }
  return router
}

function send(res: Response, route: Route, result: unknown): void {
  let status = route.successStatus
  let body = result
  if (result instanceof Reply) ({ status, body } = result)
  if (status === null) {
    throw new Error(
      `${route.method.toUpperCase()} ${route.path} has several success statuses: reply() with one`,
    )
  }
  if (route.cacheControl) res.setHeader('Cache-Control', route.cacheControl)
  if (status === 204) res.status(204).end()
  else res.status(status).json(body)
}

const SECURITY: Record<RouteAuth, SecurityRequirements | undefined> = {
  none: undefined,
  optional: OPTIONAL_AGENT_AUTH,
  agent: AGENT_AUTH,
}

/** Adds `routes` to the OpenAPI document. */
export function registerRoutes(registry: OpenAPIRegistry, routes: readonly Route[]): void {
  for (const route of routes) {
    const request: NonNullable<RouteConfig['request']> = {}
    if (route.params) request.params = documentedParams(route.params, route.expressParamNames)
    if (route.query) request.query = route.query
    if (route.isIdempotent) request.headers = idempotencyKeyHeaders
    if (route.body) request.body = { content: { 'application/json': { schema: route.body } } }
    const security = route.openApiSecurity ?? SECURITY[route.auth]
    registry.registerPath({
      method: route.method,
      path: route.path,
      summary: route.summary,
      ...(route.description === undefined ? {} : { description: route.description }),
      ...(security ? { security } : {}),
      ...(Object.keys(request).length > 0 ? { request } : {}),
      responses: route.responses,
    })
  }
}

/** The params schema with the document's parameter names. */
function documentedParams(
  params: RouteParameterSchema,
  expressParamNames: Record<string, string> | undefined,
): RouteParameterSchema {
  if (!expressParamNames) return params
  if (!(params instanceof z.ZodObject)) throw new Error('renamed path parameters need an object schema')
  const documentName = new Map(
    Object.entries(expressParamNames).map(([document, express]) => [express, document]),
  )
  return z.object(
    Object.fromEntries(
      Object.entries(params.shape).map(([name, schema]) => [documentName.get(name) ?? name, schema]),
    ),
  )
}
