import { calculateFeesBody, feeCalculation } from '../../protocol/fees'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { calculateFees } from './fees-service'

/** Fee arithmetic before a deal is made (seed 002 "Financial Negotiation"). */
export const feesRoutes: readonly Route[] = [
  defineRoute({
    method: 'post',
    path: '/v1/fees/calculate',
    summary: "The fee, resolver fee and net of a proposed payment, from the vault's configuration",
    description:
      "Seed 002's fee calculator, authenticated like the rest of its financial API. `kind` job or service_call: the provider nets `amount − fee`, `fee = amount × fee_bps / 10000` rounded down, as the vault releases an escrow or settles a call. `kind` dispute: a ruling wholly for the provider, the resolver fee off the top first. A channel settled in several vouchers rounds each settlement's fee down separately. A $0 amount has no fee.",
    auth: 'agent',
    body: calculateFeesBody,
    responses: {
      200: json(feeCalculation, 'The split'),
      ...errors({
        400: 'Malformed input, too many decimal places for the token, or unknown_token',
        401: 'Not authenticated',
      }),
    },
    handler: ({ context, body }) => calculateFees(context, body),
  }),
]
