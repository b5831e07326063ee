import { address } from './address'
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
  accounts_checked: z.number().int().openapi({
    description: 'Vault accounts compared one by one (agent wallets, the treasury, the unclaimed rest)',
  }),
  accounts_mismatched: z.number().int().openapi({
    description:
      'Of those, how many disagree with the ledger: a balanced total can hide two accounts wrong in opposite directions',
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

/** One vault account's line of `GET /v1/platform/reconciliation/accounts`. */
export const accountReconciliation = z.object({
  account: z.string().nullable().openapi({
    description:
      'The vault account (a wallet address); null on the unclaimed line, which sums every other address',
  }),
  holder: z.enum(['agent', 'treasury', 'unclaimed']).openapi({
    description:
      "Whose it is in the ledger: an agent's wallet, the platform's fee treasury, or wallets no agent holds (deposits waiting for a registration)",
  }),
  token: z.string(),
  token_address: z.string(),
  on_chain: z.string().openapi({
    description:
      "The vault's internal balance of the account at block_number, kept by the indexer from the vault's logs",
  }),
  ledger: z.string().openapi({
    description:
      'What the ledger says the account holds in the vault: available − debt + escrow not yet locked on-chain + withdrawals not yet out, and the like',
  }),
  difference: z.string().openapi({ description: 'on_chain − ledger; zero when the account reconciles' }),
  difference_base_units: z.string(),
  is_balanced: z.boolean(),
})

/** `GET /v1/platform/reconciliation/accounts`. */
export const accountsReconciliationResponse = z.object({
  checked_at: z.string(),
  block_number: z.number().int().nullable(),
  accounts: z.array(accountReconciliation),
})

export type AccountReconciliation = z.infer<typeof accountReconciliation>
export type AccountsReconciliationResponse = z.infer<typeof accountsReconciliationResponse>

/** Query of `GET /v1/platform/reconciliation/accounts`. */
export const accountsReconciliationQuery = z
  .object({
    account: address
      .optional()
      .openapi({ description: 'Only this account (every line of it, balanced or not)' }),
    mismatched: z
      .enum(['true', 'false'])
      .optional()
      .openapi({ description: 'true (the default without `account`): only accounts that disagree' }),
  })
  .strict()
