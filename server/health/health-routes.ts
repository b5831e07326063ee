import { Router } from 'express'
import type { AppContext } from '../app-context'
import type { HealthResponse } from '../../protocol/health'

/** `GET /v1/health`: 200 when the database and the chain answer, 503 (same shape) when one does not. */
export function healthRoutes(context: AppContext): Router {
  const router = Router()
  router.get('/health', async (_req, res) => {
    const [database, chain] = await Promise.allSettled([
      context.pool.query('SELECT 1'),
      context.chain ? context.chain.client.getBlockNumber() : Promise.reject(new Error('no chain')),
    ])
    const body: HealthResponse = {
      status: database.status === 'fulfilled' && chain.status === 'fulfilled' ? 'ok' : 'degraded',
      version: context.version,
      chain_id: context.chain?.deployment.chainId ?? null,
      block_number: chain.status === 'fulfilled' ? Number(chain.value) : null,
      database: context.databaseKind,
      contracts: context.chain?.deployment.contracts ?? {},
    }
    res.status(body.status === 'ok' ? 200 : 503).json(body)
  })
  return router
}
