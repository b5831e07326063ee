import { payoutAddress, type Hex } from './address'
import { decimalAmount, tokenReference } from './amounts'
import { z } from './zod'

const tokenBalance = z.object({
  token: z.string().openapi({ example: 'USDC' }),
  token_address: z.string(),
  decimals: z.number().int(),
  available: decimalAmount,
  escrowed: decimalAmount,
  unsettled: decimalAmount.openapi({
    description:
      'Payments booked to the agent (an accepted job) that the vault has not yet carried out; available once they land on-chain',
  }),
  pending: decimalAmount.openapi({
    description:
      'Money on its way in: deposits seen on-chain but not yet confirmed, and failed fast withdrawals whose refund is not yet booked',
  }),
  withdrawing: decimalAmount.openapi({
    description:
      'Fast withdrawals debited and queued for on-chain settlement, not yet seen on-chain (a failed one counts as pending)',
  }),
  debt: decimalAmount.openapi({
    description:
      'What the agent owes after the chain took back money it had spent; repaid from its next credit',
  }),
  on_chain: decimalAmount.nullable().openapi({
    description: "The wallet's balance inside the vault contract (balanceOf), null without a chain",
  }),
})

/** `GET /v1/wallet/balance`: one row per allowlisted token. */
export const balanceResponse = z.object({
  agent_id: z.string().uuid(),
  wallet_address: z.string(),
  balances: z.array(tokenBalance),
})
export type BalanceResponse = z.infer<typeof balanceResponse>

/**
 * `GET /v1/wallet` (seed 001 "Check your current credit balance"): one number for clients that
 * expect one, `balance`, the available balance of the default token, and every token's figures
 * as `GET /v1/wallet/balance` gives them.
 */
export const walletSummaryResponse = z
  .object({
    agent_id: z.string().uuid(),
    balance: decimalAmount.openapi({
      description: 'Available (spendable) balance of the default token, `token`; escrowed money not counted',
    }),
    token: z.string().nullable().openapi({
      example: 'USDC',
      description: 'The default token; null on a coordinator with no token configured',
    }),
    balances: z.array(tokenBalance),
  })
  .openapi('WalletSummary')
export type WalletSummaryResponse = z.infer<typeof walletSummaryResponse>

/** `GET /v1/wallet/transactions`: the caller's ledger entries, newest first. */
export const listTransactionsQuery = z.object({
  token: tokenReference.optional(),
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
    'escrow_settlement',
    'escrow_settlement_reversal',
    'escrow_release_reversal',
    'escrow_ruling',
    'reorg_reversal',
    'channel_funding',
    'channel_funding_return',
    'channel_settlement',
    'channel_refund',
    'escrow_partial_release',
    'x402_payment',
  ]),
  account: z.enum(['available', 'escrow', 'unsettled', 'debt', 'channel']).openapi({
    description:
      'unsettled: booked payments not yet carried out by the vault; debt: what the agent owes after the chain took back money it had spent (negative balance); channel: money in its payment channels',
  }),
  token: z.string(),
  token_address: z.string(),
  amount: z
    .string()
    .openapi({ description: 'Signed decimal: negative when the account was debited', example: '-5.25' }),
  balance_after: decimalAmount.nullable().openapi({ description: 'Null on the debt and channel accounts' }),
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
  token: tokenReference
    .optional()
    .openapi({ description: 'Symbol or address; default the first allowlisted token' }),
})
export type FaucetBody = z.infer<typeof faucetBody>

export const faucetResponse = z.object({
  transaction_id: z.string().uuid().nullable(),
  token: z.string(),
  token_address: z.string(),
  amount: decimalAmount,
  available: decimalAmount,
  escrowed: decimalAmount,
  status: z.enum(['success', 'processing']).openapi({
    description: 'success: credited; processing: deposited on-chain, not yet credited by the indexer',
  }),
  tx_hash: z
    .string()
    .nullable()
    .openapi({ description: 'The on-chain deposit; null for a ledger-only credit' }),
  deposit_id: z.string().uuid().nullable(),
})
export type FaucetResponse = z.infer<typeof faucetResponse>

/**
 * `POST /v1/wallet/deposit` (seed 004): moves tokens a managed wallet holds on-chain into the
 * vault for it; answered as the faucet is (credited, or deposited and not yet credited).
 */
export const walletDepositBody = faucetBody
export const walletDepositResponse = faucetResponse

/** `POST /v1/wallet/export-key`: the managed wallet's private key, returned exactly once. */
export const exportKeyResponse = z.object({
  wallet_address: z.string(),
  private_key: z.string(),
  exported_at: z.string(),
})
export type ExportKeyResponse = z.infer<typeof exportKeyResponse>

/**
 * A managed wallet's key export that was asked for and is neither collected nor cancelled:
 * `pending` until `available_at`, `ready` from then (POST /v1/wallet/export-key hands the key out).
 */
export const keyExportState = z
  .object({
    status: z.enum(['pending', 'ready']),
    requested_at: z.string(),
    available_at: z.string().openapi({
      description: 'From this time on, POST /v1/wallet/export-key again returns the key (once)',
    }),
  })
  .openapi('KeyExportState')
export type KeyExportState = z.infer<typeof keyExportState>

const pageLimit = z.coerce.number().int().min(1).max(100)
const pageOffset = z.coerce.number().int().min(0).max(10_000)

// ---------------------------------------------------------------- deposits

export const DEPOSIT_STATUSES = ['pending_deposit', 'processing', 'success', 'failed'] as const
export type DepositStatus = (typeof DEPOSIT_STATUSES)[number]

/** `GET /v1/wallet/deposit_address`: where and how to deposit so the caller is credited. */
export const depositAddressResponse = z.object({
  chain_id: z.number().int(),
  vault_address: z.string().openapi({ description: 'The vault contract (EIP-55)' }),
  account: z.string().openapi({
    description: "The vault account credited: the caller's wallet address. Deposit for this address.",
  }),
  tokens: z.array(
    z.object({
      symbol: z.string(),
      address: z.string(),
      decimals: z.number().int(),
      allowed: z.boolean().openapi({
        description:
          'Whether the vault takes deposits of it now: false once its owner took it off the allowlist (withdrawals still work)',
      }),
    }),
  ),
  methods: z.array(
    z.object({
      method: z.enum([
        'approve_and_deposit',
        'deposit_for',
        'deposit_with_permit',
        'deposit_with_authorization',
      ]),
      description: z.string(),
      calls: z.array(z.string()),
    }),
  ),
  credited_after: z.string().openapi({ description: 'When the ledger credits a deposit' }),
})
export type DepositAddressResponse = z.infer<typeof depositAddressResponse>

/** One `Deposited` log of the vault for the caller's wallet. */
export const deposit = z.object({
  deposit_id: z.string().uuid(),
  status: z.enum(DEPOSIT_STATUSES).openapi({
    description:
      'pending_deposit: seen, not yet confirmed; processing: confirmed, not yet credited; success: credited; failed: removed by a chain reorganisation and un-credited',
  }),
  chain_id: z.number().int(),
  tx_hash: z.string(),
  log_index: z.number().int(),
  block_number: z.number().int(),
  token: z.string(),
  token_address: z.string(),
  amount: decimalAmount,
  from: z.string().openapi({ description: 'Who paid the tokens in (EIP-55)' }),
  account: z.string().openapi({ description: 'The vault account credited (EIP-55)' }),
  credit_transaction_id: z.string().uuid().nullable(),
  failure_reason: z.string().nullable(),
  created_at: z.string(),
  credited_at: z.string().nullable(),
  updated_at: z.string(),
})
export type Deposit = z.infer<typeof deposit>

/** The query of a wallet history list: by status and token (symbol or address), newest first, paged. */
function historyQuery<const Statuses extends readonly [string, ...string[]]>(statuses: Statuses) {
  return z.object({
    status: z.enum(statuses).optional(),
    token: tokenReference.optional(),
    limit: pageLimit.optional(),
    offset: pageOffset.default(0),
    cursor: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'Keyset paging: the previous page’s next_cursor (instead of offset), opaque' }),
  })
}

export const listDepositsQuery = historyQuery(DEPOSIT_STATUSES)
export type ListDepositsQuery = z.infer<typeof listDepositsQuery>

/** A page of a wallet history list; `next_cursor` is null on the last page. */
function historyPage<Item extends z.ZodType>(item: Item) {
  return z.object({ data: z.array(item), has_more: z.boolean(), next_cursor: z.string().nullable() })
}

export const depositsPage = historyPage(deposit)
export type DepositsPage = z.infer<typeof depositsPage>

export const depositIdParams = z.object({ deposit_id: z.uuid('must be a UUID') })

// ---------------------------------------------------------------- withdrawals

export const WITHDRAWAL_STATUSES = [
  'awaiting_signature',
  'pending',
  'processing',
  'success',
  'failed',
] as const
export type WithdrawalStatus = (typeof WITHDRAWAL_STATUSES)[number]

/**
 * `POST /v1/wallet/withdraw`. The destination is `to`, else the saved address `address_id`, else
 * the default saved address, else the caller's own wallet.
 */
export const withdrawBody = z
  .object({
    amount: decimalAmount,
    token: tokenReference
      .optional()
      .openapi({ description: 'Symbol or address; default the first allowlisted token' }),
    to: payoutAddress.optional(),
    to_account_id: payoutAddress
      .optional()
      .openapi({ description: 'Seed 004’s name for `to`, accepted for clients written against it' }),
    address_id: z.uuid('must be a UUID').optional(),
  })
  .superRefine((body, ctx) => {
    const destinations = [body.to, body.to_account_id, body.address_id].filter((value) => value !== undefined)
    if (destinations.length > 1) {
      ctx.addIssue({
        code: 'custom',
        path: [body.address_id !== undefined ? 'address_id' : 'to_account_id'],
        message: 'give one of to, to_account_id or address_id',
      })
    }
  })
  .transform(({ to_account_id: toAccountId, ...body }) => ({ ...body, to: body.to ?? toAccountId }))
export type WithdrawBody = z.output<typeof withdrawBody>

/** The EIP-712 `Withdrawal` a self-custody wallet signs; uint256 values are decimal strings. */
export const withdrawalTypedData = z.object({
  domain: z.object({
    name: z.string(),
    version: z.string(),
    chainId: z.number().int(),
    verifyingContract: z.string(),
  }),
  types: z.record(z.string(), z.array(z.object({ name: z.string(), type: z.string() }))),
  primaryType: z.literal('Withdrawal'),
  message: z.object({
    account: z.string(),
    token: z.string(),
    amount: z.string(),
    to: z.string(),
    nonce: z.string(),
    deadline: z.string(),
  }),
})
export type WithdrawalTypedData = z.infer<typeof withdrawalTypedData>

export const withdrawal = z.object({
  withdrawal_id: z.string().uuid(),
  path: z.enum(['fast', 'slow']).openapi({
    description:
      'fast: through the API and the settler; slow: requestWithdrawal → executeWithdrawal on-chain, seen by the indexer',
  }),
  status: z.enum(WITHDRAWAL_STATUSES).openapi({
    description:
      'awaiting_signature: sign typed_data and POST it to /v1/withdrawals/{id}/signature; pending: debited, queued for the settler; processing: in a batch sent on-chain; success: seen on-chain; failed: will not happen (never signed in time, or its op failed); a debited amount is refunded, and shows as the balance’s pending until the refund is booked (completed_at is set then)',
  }),
  chain_id: z.number().int(),
  account: z.string().openapi({ description: 'The vault account paying (EIP-55)' }),
  token: z.string(),
  token_address: z.string(),
  amount: decimalAmount,
  to: z.string().openapi({ description: 'Who receives the tokens (EIP-55)' }),
  withdrawal_address_id: z.string().uuid().nullable(),
  nonce: z.string().nullable(),
  deadline: z.string().nullable().openapi({ description: 'ISO time after which the signature is void' }),
  tx_hash: z.string().nullable(),
  failure_reason: z.string().nullable(),
  typed_data: withdrawalTypedData.nullable(),
  created_at: z.string(),
  updated_at: z.string(),
  completed_at: z.string().nullable(),
})
export type Withdrawal = z.infer<typeof withdrawal>

export const withdrawalSignatureBody = z.object({
  signature: z
    .string()
    .regex(/^0x[0-9a-fA-F]{130}$/, 'must be a 65-byte 0x-prefixed hex signature')
    .transform((value) => value.toLowerCase() as Hex),
})
export type WithdrawalSignatureBody = z.infer<typeof withdrawalSignatureBody>

export const listWithdrawalsQuery = historyQuery(WITHDRAWAL_STATUSES)
export type ListWithdrawalsQuery = z.infer<typeof listWithdrawalsQuery>

export const withdrawalsPage = historyPage(withdrawal)
export type WithdrawalsPage = z.infer<typeof withdrawalsPage>

export const withdrawalIdParams = z.object({ withdrawal_id: z.uuid('must be a UUID') })

// ---------------------------------------------------------------- withdrawal addresses (seed 002)

export const withdrawalAddressLabel = z.string().trim().min(1).max(100)

export const createWithdrawalAddressBody = z.object({
  address: payoutAddress,
  label: withdrawalAddressLabel.optional(),
  is_default: z.boolean().optional().openapi({ description: "Default: true for the agent's first address" }),
})
export type CreateWithdrawalAddressBody = z.infer<typeof createWithdrawalAddressBody>

export const updateWithdrawalAddressBody = z
  .object({
    address: payoutAddress.optional(),
    label: withdrawalAddressLabel.nullable().optional(),
  })
  .refine((body) => body.address !== undefined || body.label !== undefined, {
    message: 'give address or label',
    path: ['address'],
  })
export type UpdateWithdrawalAddressBody = z.infer<typeof updateWithdrawalAddressBody>

export const withdrawalAddress = z.object({
  address_id: z.string().uuid(),
  address: z.string().openapi({ description: 'EIP-55 checksummed' }),
  label: z.string().nullable(),
  is_default: z.boolean(),
  created_at: z.string(),
  updated_at: z.string(),
})
export type WithdrawalAddress = z.infer<typeof withdrawalAddress>

export const withdrawalAddressList = z.object({ data: z.array(withdrawalAddress) })
export type WithdrawalAddressList = z.infer<typeof withdrawalAddressList>

export const withdrawalAddressIdParams = z.object({ address_id: z.uuid('must be a UUID') })
