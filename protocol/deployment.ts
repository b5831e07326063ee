import { z } from './zod'

const address = z
  .string()
  .regex(
    /^0x[0-9a-fA-F]{40}$/,
    'must be a 0x-prefixed 20-byte address',
  ) as unknown as z.ZodType<`0x${string}`>

/** `deployments/<chainId>.json`: where the contracts of one deployment live and which tokens it allows. */
export const deploymentSchema = z.object({
  chainId: z.number().int().positive(),
  deployedAt: z.string(),
  deploymentBlock: z.number().int().nonnegative(),
  contracts: z.record(z.string(), address),
  tokens: z.array(
    z.object({ symbol: z.string().min(1), address, decimals: z.number().int().min(0).max(36) }),
  ),
})

export type Deployment = z.infer<typeof deploymentSchema>
