import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi'
import { errorResponse } from '../../protocol/errors'
import { registerRoutes, type Route } from './route'

/**
 * The document served at `/v1/openapi.json`, built from the same route declarations and zod
 * schemas that serve and validate the traffic.
 */
export function createOpenApiRegistry(routeGroups: readonly (readonly Route[])[]): OpenAPIRegistry {
  const registry = new OpenAPIRegistry()
  registry.register('Error', errorResponse)
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'API key: Authorization: Bearer sk_live_…',
  })
  registry.registerComponent('securitySchemes', 'apiKeyHeader', {
    type: 'apiKey',
    in: 'header',
    name: 'X-API-Key',
    description:
      'The same API key as X-API-Key: sk_live_… (seed 001); accepted wherever Authorization: Bearer is.',
  })
  registry.registerComponent('securitySchemes', 'walletSignature', {
    type: 'apiKey',
    in: 'header',
    name: 'X-Clearhouse-Signature',
    description:
      'Wallet-signed request: X-Clearhouse-Signature with X-Clearhouse-Wallet, X-Clearhouse-Session, ' +
      'X-Clearhouse-Request-Id and X-Clearhouse-Timestamp (see POST /v1/auth/session). Accepted wherever an API key is.',
  })
  for (const routes of routeGroups) registerRoutes(registry, routes)
  return registry
}

export function generateOpenApiDocument(registry: OpenAPIRegistry, version: string): object {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Clearhouse coordinator API', version },
    servers: [{ url: '/' }],
  })
}
