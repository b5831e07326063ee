import { decimalAmount } from './amounts'
import { z } from './zod'

const tokenBalance = z.object({
  token: z.string().openapi({ example: 'USDC' }),
  token_address: z.string(),
  decimals: z.number().int(),
  available: decimalAmount,
  escrowed: decimalAmount,
  pending: decimalAmount.openapi({ description: 'Deposits seen on-chain but not yet confirmed' }),
})

/** `GET /v1/wallet/balance`: one row per allowlisted token. */
export const balanceResponse = z.object({
  agent_id: z.string().uuid(),
  wallet_address: z.string(),
  balances: z.array(tokenBalance),
})
export type BalanceResponse = z.infer<typeof balanceResponse>

/** `GET /v1/wallet/transactions`: the caller's ledger entries, newest first. */
export const listTransactionsQuery = z.object({
  token: z.string().min(1).max(42).optional(),
  limit: z
    .string()
    .regex(/^\d{1,3}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .optional(),
  cursor: z.string().max(200).optional(),
})
export type ListTransactionsQuery = z.infer<typeof listTransactionsQuery>

export const walletTransaction = z.object({
  entry_id: z.string(),
  transaction_id: z.string().uuid(),
  kind: z.enum([
    'deposit',
    'withdrawal',
    'escrow_lock',
    'escrow_release',
    'escrow_refund',
    'deposit_reversal',
    'withdrawal_refund',
    'withdrawal_reversal',
    'debt_repayment',
  ]),
  account: z.enum(['available', 'escrow', 'debt']).openapi({
    description: 'debt: what the agent owes after the chain took back money it had spent (negative balance)',
  }),
  token: z.string(),
  token_address: z.string(),
  amount: z
    .string()
    .openapi({ description: 'Signed decimal: negative when the account was debited', example: '-5.25' }),
  balance_after: decimalAmount.nullable().openapi({ description: 'Null on the debt account' }),
  reference: z.string(),
  created_at: z.string(),
})
export type WalletTransaction = z.infer<typeof walletTransaction>

export const transactionsPage = z.object({
  data: z.array(walletTransaction),
  has_more: z.boolean(),
  next_cursor: z.string().nullable(),
})
export type TransactionsPage = z.infer<typeof transactionsPage>

/** `POST /v1/dev/faucet` (embedded dev chain only): credit test tokens to the caller. */
export const faucetBody = z.object({
  amount: decimalAmount,
  token: z
    .string()
    .min(1)
    .max(42)
    .optional()
    .openapi({ description: 'Symbol or address; default the first allowlisted token' }),
})
export type FaucetBody = z.infer<typeof faucetBody>

export const faucetResponse = z.object({
  transaction_id: z.string().uuid(),
  token: z.string(),
  token_address: z.string(),
  amount: decimalAmount,
  available: decimalAmount,
  escrowed: decimalAmount,
})
export type FaucetResponse = z.infer<typeof faucetResponse>

/** `POST /v1/wallet/export-key`: the managed wallet's private key, returned exactly once. */
export const exportKeyResponse = z.object({
  wallet_address: z.string(),
  private_key: z.string(),
  exported_at: z.string(),
})
export type ExportKeyResponse = z.infer<typeof exportKeyResponse>
