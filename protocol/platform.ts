import { z } from './zod'

/** One token's line of `GET /v1/platform/reconciliation`. */
export const tokenReconciliation = z.object({
  token: z.string(),
  token_address: z.string(),
  on_chain: z.string().openapi({ description: "The vault contract's token balance at block_number" }),
  ledger: z.string().openapi({ description: 'What the ledger says the vault owes (balances, escrow, fees)' }),
  in_flight: z.string().openapi({
    description: 'Fast withdrawals paid out in the ledger that the indexer has not yet seen leave',
  }),
  difference: z.string().openapi({ description: 'on_chain − ledger − in_flight; zero when reconciled' }),
  difference_base_units: z.string(),
  is_balanced: z.boolean(),
  debt: z.string().openapi({
    description:
      'What agents owe after the chain took back money they had spent (reorged deposits, slow exits past their balance): inside the ledger total, reported apart so a loss cannot hide behind a balanced total',
  }),
  unsettled: z.string().openapi({
    description:
      'Payments booked to agents that the vault has not yet carried out (accepted jobs whose escrow release has not landed): not spendable, reported apart for the same reason',
  }),
})

/** `GET /v1/platform/reconciliation`. */
export const reconciliationResponse = z.object({
  checked_at: z.string(),
  block_number: z
    .number()
    .int()
    .nullable()
    .openapi({ description: 'The block the indexer has reached; the chain is read there' }),
  tokens: z.array(tokenReconciliation),
})

export type ReconciliationResponse = z.infer<typeof reconciliationResponse>
