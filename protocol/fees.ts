import { decimalAmount, tokenReference } from './amounts'
import { z } from './zod'

// Seed 002 "Financial Negotiation": what a proposed transaction costs in fees, before it is made.

/** What is being paid: an awarded job's escrow, a paid service call, or an escrow a resolver rules on. */
export const FEE_KINDS = ['job', 'service_call', 'dispute'] as const
export type FeeKind = (typeof FEE_KINDS)[number]

/** `POST /v1/fees/calculate`. */
export const calculateFeesBody = z
  .object({
    amount: decimalAmount,
    token: tokenReference
      .optional()
      .openapi({ example: 'USDC', description: 'Symbol or address; the default token when left out' }),
    kind: z.enum(FEE_KINDS).default('job'),
  })
  .openapi('CalculateFeesBody')
export type CalculateFeesBody = z.infer<typeof calculateFeesBody>

const baseUnits = z.string().regex(/^\d+$/).openapi({ example: '9500000' })

/**
 * The split of `amount` the vault would make: `net` to the provider, `fee` to the treasury and
 * `resolver_fee` to the resolver, summing to `amount` exactly (FeeMath.sol's rounding, down).
 */
export const feeCalculation = z
  .object({
    amount: z.string().openapi({ example: '10' }),
    token: z.string().openapi({ example: 'USDC' }),
    kind: z.enum(FEE_KINDS),
    fee_bps: z.number().int().min(0).max(10_000).openapi({ description: "The vault's protocol fee rate" }),
    resolver_fee_bps: z.number().int().min(0).max(10_000).openapi({
      description: 'The resolver fee rate written into escrows; charged only on a ruling (kind dispute)',
    }),
    fee: z.string().openapi({ example: '0.1', description: "The treasury's part" }),
    resolver_fee: z
      .string()
      .openapi({ example: '0', description: "The resolver's part (kind dispute only)" }),
    net: z.string().openapi({ example: '9.9', description: 'What the provider receives' }),
    is_free: z.boolean().openapi({ description: 'A $0 amount: no fee of any kind' }),
    base_units: z
      .object({ amount: baseUnits, fee: baseUnits, resolver_fee: baseUnits, net: baseUnits })
      .openapi({ description: "The same figures in the token's base units" }),
  })
  .openapi('FeeCalculation')
export type FeeCalculation = z.infer<typeof feeCalculation>
