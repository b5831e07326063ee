import { address } from './address'
import { z } from './zod'

// x402 (https://x402.org): HTTP 402 payments, as the published `@x402/fetch` + `@x402/evm` clients
// speak them. A Clearhouse service answers an x402 caller 402 with what to pay (`PAYMENT-REQUIRED`);
// the caller retries with an EIP-3009 `TransferWithAuthorization` to the vault (`PAYMENT-SIGNATURE`,
// or v1's `X-PAYMENT`), and the answer carries the settlement (`PAYMENT-RESPONSE`). Every header is
// standard base64 (not base64url) of UTF-8 JSON: the client refuses anything else.

/** The x402 headers, as Node spells incoming header names (lower case). */
export const X402_HEADERS = {
  paymentRequired: 'payment-required',
  paymentSignature: 'payment-signature',
  paymentResponse: 'payment-response',
  /** v1's payment header and its answer. */
  v1Payment: 'x-payment',
  v1PaymentResponse: 'x-payment-response',
} as const

/** The x402 extension a client uses to make a paid request idempotent (`@x402/extensions`). */
export const PAYMENT_IDENTIFIER_EXTENSION = 'payment-identifier'

/** A payment identifier as the extension's schema allows it. */
export const paymentIdentifier = z.string().regex(/^[A-Za-z0-9_-]{16,128}$/)

/** What the server declares under `extensions` so a client may send a payment identifier. */
export const paymentIdentifierDeclaration = {
  info: { required: false },
  schema: {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    properties: {
      required: { type: 'boolean' },
      id: { type: 'string', minLength: 16, maxLength: 128, pattern: '^[a-zA-Z0-9_-]+$' },
    },
    required: ['required'],
  },
} as const

const integerString = z.string().regex(/^\d{1,78}$/, 'an integer string')
const bytes32 = z.string().regex(/^0x[0-9a-fA-F]{64}$/, '32 bytes of hex')

/** One way to pay (v2 `PaymentRequirements`): scheme `exact` of an EIP-3009 token on an EVM chain. */
export const x402PaymentRequirements = z.object({
  scheme: z.string(),
  network: z.string(),
  asset: z.string(),
  /** Base units, an integer string. */
  amount: integerString,
  payTo: z.string(),
  maxTimeoutSeconds: z.number().int().positive(),
  /** The token's EIP-712 domain name and version: the client signs under them. */
  extra: z.record(z.string(), z.unknown()),
})
export type X402PaymentRequirements = z.infer<typeof x402PaymentRequirements>

export const x402Resource = z.object({
  url: z.string(),
  description: z.string().optional(),
  mimeType: z.string().optional(),
})

/** The `PAYMENT-REQUIRED` header of a 402 (v2). */
export interface X402PaymentRequired {
  x402Version: 2
  error?: string
  resource: z.infer<typeof x402Resource>
  accepts: X402PaymentRequirements[]
  extensions?: Record<string, unknown>
}

/** The EIP-3009 authorization the `exact` scheme signs, numbers as decimal strings. */
export const x402Authorization = z.object({
  from: address,
  to: address,
  value: integerString,
  validAfter: integerString,
  validBefore: integerString,
  nonce: bytes32,
})

const exactPayload = z.object({
  authorization: x402Authorization,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'a 65-byte signature'),
})

/** `PAYMENT-SIGNATURE` (v2): the signed authorization and the requirement it accepted. */
export const x402PaymentPayloadV2 = z.object({
  x402Version: z.literal(2),
  payload: exactPayload,
  accepted: x402PaymentRequirements,
  resource: x402Resource.optional(),
  extensions: z.record(z.string(), z.unknown()).optional(),
})

/** `X-PAYMENT` (v1): the same authorization, with the scheme and network beside it. */
export const x402PaymentPayloadV1 = z.object({
  x402Version: z.literal(1),
  scheme: z.string(),
  network: z.string(),
  payload: exactPayload,
})

export type X402PaymentPayload = z.infer<typeof x402PaymentPayloadV2> | z.infer<typeof x402PaymentPayloadV1>

/** `PAYMENT-RESPONSE` (`X-PAYMENT-RESPONSE` in v1): how settling the payment went. */
export interface X402SettleResponse {
  success: boolean
  errorReason?: string
  payer?: string
  transaction: string
  network: string
}

/**
 * Why a payment was refused: `@x402/evm`'s exact scheme's reason codes where it has one (a client
 * that knows them reads ours the same way), ours where it has none.
 */
export const X402_REFUSALS = {
  invalidPayload: 'invalid_payload',
  scheme: 'invalid_exact_evm_scheme',
  network: 'invalid_exact_evm_network_mismatch',
  requirementsMismatch: 'invalid_exact_evm_requirements_mismatch',
  recipient: 'invalid_exact_evm_recipient_mismatch',
  value: 'invalid_exact_evm_payload_authorization_value_mismatch',
  validAfter: 'invalid_exact_evm_payload_authorization_valid_after',
  validBefore: 'invalid_exact_evm_payload_authorization_valid_before',
  signature: 'invalid_exact_evm_signature',
  nonceUsed: 'invalid_exact_evm_nonce_already_used',
  insufficientBalance: 'invalid_exact_evm_insufficient_balance',
  transactionFailed: 'invalid_exact_evm_transaction_failed',
} as const
export type X402Refusal = (typeof X402_REFUSALS)[keyof typeof X402_REFUSALS]

/** EIP-712 `TransferWithAuthorization` (EIP-3009), signed under the token's own domain. */
export const transferWithAuthorizationTypes = {
  TransferWithAuthorization: [
    { name: 'from', type: 'address' },
    { name: 'to', type: 'address' },
    { name: 'value', type: 'uint256' },
    { name: 'validAfter', type: 'uint256' },
    { name: 'validBefore', type: 'uint256' },
    { name: 'nonce', type: 'bytes32' },
  ],
} as const

/** An x402 header's value: base64 of the JSON. */
export function encodeX402Header(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64')
}

/** An x402 header's JSON, or null when it is not base64 of JSON. */
export function decodeX402Header(header: string): unknown {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(header)) return null
  try {
    return JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as unknown
  } catch {
    return null
  }
}

/** An x402 call's answer: the provider's output, what it cost, and the transaction that paid it. */
export const x402CallResponse = z
  .object({
    output: z.unknown(),
    result: z.unknown().openapi({ description: 'Alias of output' }),
    cost: z.string(),
    payment_id: z.string().nullable(),
    tx_hash: z.string().nullable(),
  })
  .openapi('X402CallResponse')
export type X402CallResponse = z.infer<typeof x402CallResponse>

/** A call paid with x402, as its provider's call log shows it. */
export const x402Payment = z
  .object({
    payment_id: z.string(),
    service_id: z.string(),
    payer: z.string(),
    token: z.string(),
    amount: z.string().openapi({ description: 'What the payer paid, decimal' }),
    fee: z.string().nullable().openapi({ description: 'The protocol fee on it, once the vault logged it' }),
    status: z.enum(['calling', 'settling', 'paid', 'failed']),
    failure_reason: z.string().nullable(),
    tx_hash: z.string().nullable(),
    response_hash: z.string().nullable(),
    upstream_status: z.number().int().nullable(),
    duration_ms: z.number().int().nullable(),
    created_at: z.string(),
  })
  .openapi('X402Payment')
export type X402Payment = z.infer<typeof x402Payment>

export const x402PaymentsPage = z
  .object({ payments: z.array(x402Payment), next_cursor: z.string().nullable() })
  .openapi('X402PaymentsPage')
export type X402PaymentsPage = z.infer<typeof x402PaymentsPage>

/** A settled x402 payment as anyone may check it against the vault's `PaidWithAuthorization` log. */
export const x402Receipt = z
  .object({
    payment_id: z.string(),
    service_id: z.string(),
    tx_hash: z.string(),
    payer: z.string(),
    payee: z.string(),
    token: z.string(),
    nonce: z.string(),
    amount_base_units: z.string(),
  })
  .openapi('X402Receipt')
export type X402Receipt = z.infer<typeof x402Receipt>

export const x402ReceiptsPage = z
  .object({ receipts: z.array(x402Receipt), next_cursor: z.string().nullable() })
  .openapi('X402ReceiptsPage')
export type X402ReceiptsPage = z.infer<typeof x402ReceiptsPage>

/** What a service agent's managed wallet signed to pay its x402 endpoint for one call (direction 2). */
export const x402EndpointPayment = z
  .object({
    endpoint_payment_id: z.string(),
    service_id: z.string(),
    payer: z
      .string()
      .openapi({ description: "The agent's managed wallet, which the authorization spends from" }),
    pay_to: z.string(),
    token: z.string().openapi({ description: "The token's address" }),
    amount: z.string().openapi({ description: 'What the authorization allows, decimal' }),
    nonce: z.string(),
    valid_before: z
      .string()
      .openapi({ description: 'Unix seconds: until then the endpoint can spend it, whatever it answered' }),
    outcome: z.enum(['answered', 'refused', 'failed', 'unanswered']).openapi({
      description:
        '`answered` (a 2xx to the paid call), `refused` (402 again), `failed` (another error status), `unanswered` (no answer)',
    }),
    upstream_status: z.number().int().nullable(),
    tx_hash: z
      .string()
      .nullable()
      .openapi({ description: "The transaction the endpoint's PAYMENT-RESPONSE named" }),
    created_at: z.string(),
  })
  .openapi('X402EndpointPayment')
export type X402EndpointPayment = z.infer<typeof x402EndpointPayment>

export const x402EndpointPaymentsPage = z
  .object({ endpoint_payments: z.array(x402EndpointPayment), next_cursor: z.string().nullable() })
  .openapi('X402EndpointPaymentsPage')
export type X402EndpointPaymentsPage = z.infer<typeof x402EndpointPaymentsPage>

/** A page of an x402 list: newest first for the call log, oldest first for receipts. */
export const x402ListQuery = z.object({
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
})
export type X402ListQuery = z.infer<typeof x402ListQuery>
