import {
  balanceResponse,
  walletSummaryResponse,
  exportKeyResponse,
  faucetBody,
  walletDepositBody,
  walletDepositResponse,
  faucetResponse,
  keyExportState,
  listTransactionsQuery,
  transactionsPage,
} from '../../protocol/wallet'
import { API_KEY_AUTH, errors, json } from '../http/openapi-parts'
import { authRateLimit, chainWriteRateLimit } from '../http/rate-limit'
import { defineRoute, type Route } from '../http/route'
import {
  cancelWalletKeyExport,
  exportWalletKey,
  depositFromManagedWallet,
  faucet,
  getWalletBalance,
  getWalletSummary,
  listWalletTransactions,
} from './wallet-service'

/** Balances, ledger history, managed-key export and (dev chain only) the faucet. */
export const walletRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/wallet',
    summary:
      "The caller's available balance of the default token as one figure (seed 001's wallet), with every token's balances",
    description:
      "`balance` is what `GET /v1/wallet/balance` shows as `available` for the default token (USDC), a decimal string; `balances` is that route's list.",
    auth: 'agent',
    responses: {
      200: json(walletSummaryResponse, 'Balance'),
      ...errors({ 401: 'Not authenticated' }),
    },
    handler: ({ context, agent }) => getWalletSummary(context, agent),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/wallet/balance',
    summary:
      'Available, escrowed, pending, withdrawing, debt and on-chain (vault) balance per allowlisted token',
    auth: 'agent',
    responses: { 200: json(balanceResponse, 'Balances'), ...errors({ 401: 'Not authenticated' }) },
    handler: ({ context, agent }) => getWalletBalance(context, agent),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/wallet/transactions',
    summary: "The caller's ledger entries, newest first (cursor pagination)",
    auth: 'agent',
    query: listTransactionsQuery,
    responses: {
      200: json(transactionsPage, 'Entries'),
      ...errors({ 400: 'Malformed query', 401: 'Not authenticated' }),
    },
    handler: ({ context, agent, query }) => listWalletTransactions(context, agent, query),
  }),
  // Deliberately not idempotent: a replay store would keep a copy of the private key.
  defineRoute({
    method: 'post',
    path: '/v1/wallet/export-key',
    summary: "Export the managed wallet's private key, once, after a delay",
    description:
      'The first call starts the export and answers 202 with available_at (KEY_EXPORT_DELAY_SECONDS later; with 0 the key comes at once); a call from available_at on answers 200 with the key, exactly once. GET /v1/agents/me shows the export meanwhile; DELETE this route or rotating the API key cancels it. API key only.',
    auth: 'agent',
    openApiSecurity: API_KEY_AUTH,
    rateLimit: authRateLimit,
    cacheControl: 'no-store',
    responses: {
      200: json(exportKeyResponse, 'The key; it is never shown again'),
      202: json(keyExportState, 'Export started: POST again from available_at'),
      ...errors({
        401: 'Not authenticated',
        403: 'api_key_required: a wallet-signed request',
        409: 'wallet_not_managed, key_already_exported, or key_export_pending (details.available_at)',
        429: 'Rate limited',
      }),
    },
    handler: async ({ context, agent, credential, reply }) => {
      const exported = await exportWalletKey(context, agent.id, credential)
      if (exported.status === 'pending') {
        return reply(202, {
          status: 'pending',
          requested_at: exported.requestedAt.toISOString(),
          available_at: exported.availableAt.toISOString(),
        })
      }
      return reply(200, {
        wallet_address: exported.address,
        private_key: exported.privateKey,
        exported_at: exported.exportedAt.toISOString(),
      })
    },
  }),
  defineRoute({
    method: 'delete',
    path: '/v1/wallet/export-key',
    summary: 'Cancel a pending export of the managed wallet key',
    auth: 'agent',
    responses: {
      204: { description: 'Cancelled' },
      ...errors({
        401: 'Not authenticated',
        409: 'wallet_not_managed, key_already_exported or key_export_not_pending',
      }),
    },
    handler: ({ context, agent }) => cancelWalletKeyExport(context, agent.id),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/wallet/deposit',
    summary: "Move tokens the caller's managed wallet holds on-chain into the vault, credited by the indexer",
    description:
      'The coordinator signs an EIP-2612 permit with the managed key and submits depositWithPermit, paying the gas. A self-custody wallet deposits itself: 409 wallet_not_managed says how (GET /v1/wallet/deposit_address).',
    auth: 'agent',
    rateLimit: chainWriteRateLimit,
    isIdempotent: true,
    body: walletDepositBody,
    responses: {
      200: json(walletDepositResponse, 'Deposited (success: credited; processing: not yet credited)'),
      ...errors({
        400: 'Malformed',
        401: 'Not authenticated',
        409: 'wallet_not_managed (deposit yourself), insufficient_wallet_balance, token_not_allowed, chain_unavailable, deposit_failed',
        429: 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent',
      }),
    },
    handler: ({ context, agent, body }) => depositFromManagedWallet(context, agent, body),
  }),
  defineRoute({
    method: 'post',
    path: '/v1/dev/faucet',
    summary:
      'Dev chain only: mint and deposit test tokens for the caller on-chain, credited by the indexer (404 elsewhere)',
    auth: 'agent',
    // Outside the dev chain the route does not exist at all, before any authentication.
    isServed: (context) => context.isDevChain,
    rateLimit: chainWriteRateLimit,
    isIdempotent: true,
    body: faucetBody,
    responses: {
      200: json(faucetResponse, 'Credited'),
      ...errors({
        400: 'Malformed',
        401: 'Not authenticated',
        404: 'Not a dev chain',
        409: 'Idempotency-Key conflict, or faucet_unavailable (no coordinator key)',
        429: 'rate_limited: CHAIN_WRITE_RATE_LIMIT_PER_MINUTE for this agent',
      }),
    },
    handler: ({ context, agent, body }) => faucet(context, agent, body),
  }),
]
