import { verbatimAddress, type Address } from './address'
import { z } from './zod'

/** Deployment files name contracts checksummed, as tools print them; kept as written. */
const address = verbatimAddress as unknown as z.ZodType<Address>

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
