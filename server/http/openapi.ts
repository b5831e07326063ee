import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi'
import { errorResponse } from '../../protocol/errors'
import { healthResponse } from '../../protocol/health'
import { registerAgentsOpenApi } from '../agents/agents-routes'
import { registerAuthOpenApi } from '../auth/auth-routes'
import { registerWalletOpenApi } from '../wallet/wallet-routes'
import { registerDepositsOpenApi } from '../wallet/deposits-routes'
import { registerWithdrawalsOpenApi } from '../wallet/withdrawals-routes'
import { registerWithdrawalAddressesOpenApi } from '../wallet/withdrawal-addresses-routes'
import { registerJobsOpenApi } from '../jobs/jobs-routes'
import { registerBidsOpenApi } from '../bids/bids-routes'
import { registerAssignmentsOpenApi } from '../assignments/assignments-routes'
import { registerMessagesOpenApi } from '../messages/messages-routes'
import { registerCompetitionsOpenApi } from '../competitions/competitions-routes'
import { registerReconciliationOpenApi } from '../reconciliation/reconciliation-routes'

/**
 * Every route registers its request and response schemas here, so the document served at
 * `/v1/openapi.json` is generated from the same zod schemas that validate the traffic.
 */
export function createOpenApiRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry()
  registry.register('Error', errorResponse)
  registry.registerPath({
    method: 'get',
    path: '/v1/health',
    summary: 'Liveness and what this coordinator is connected to',
    responses: {
      200: { description: 'Healthy', content: { 'application/json': { schema: healthResponse } } },
      503: {
        description: 'A dependency is down',
        content: { 'application/json': { schema: healthResponse } },
      },
    },
  })
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'API key: Authorization: Bearer sk_live_…',
  })
  registerAgentsOpenApi(registry)
  registerAuthOpenApi(registry)
  registerWalletOpenApi(registry)
  registerDepositsOpenApi(registry)
  registerWithdrawalsOpenApi(registry)
  registerWithdrawalAddressesOpenApi(registry)
  registerJobsOpenApi(registry)
  registerBidsOpenApi(registry)
  registerAssignmentsOpenApi(registry)
  registerMessagesOpenApi(registry)
  registerCompetitionsOpenApi(registry)
  registerReconciliationOpenApi(registry)
  return registry
}

export function generateOpenApiDocument(registry: OpenAPIRegistry, version: string): object {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Clearhouse coordinator API', version },
    servers: [{ url: '/' }],
  })
}
