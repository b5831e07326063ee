import {
  batchNumberParams,
  listSettlementsQuery,
  settlementPage,
  settlementRecord,
} from '../../protocol/settlements'
import { errors, json } from '../http/openapi-parts'
import { defineRoute, type Route } from '../http/route'
import { getSettlement, listSettlements } from './settlements-service'

const SETTLEMENT_DESCRIPTION =
  "Public, like the chain they settle on: an auditor recomputes each batch's ops root from `ops[].kind_code` and `ops[].data`, checks `coordinator_signature` over `Batch(batch_number, ops_root)` and every user signature in `ops[].signatures` against the message the op's fields define, and for a channel settlement folds `call_records.calls` into `previous_call_chain` to reach the caller-signed voucher's `callChain`. Nothing private is in them: no request or response bodies, no agent ids."

/** The public settlement records (issue 15): every batch and op the coordinator settled, for auditors. */
export const settlementsRoutes: readonly Route[] = [
  defineRoute({
    method: 'get',
    path: '/v1/settlements',
    summary:
      'Settlement batches in order, each with its ops, signatures and the call records its vouchers pay',
    description: SETTLEMENT_DESCRIPTION,
    auth: 'none',
    query: listSettlementsQuery,
    responses: {
      200: json(settlementPage, 'A page of batches'),
      ...errors({ 400: 'Malformed query' }),
    },
    handler: ({ context, query }) => listSettlements(context, query),
  }),
  defineRoute({
    method: 'get',
    path: '/v1/settlements/{batch_number}',
    summary: 'One settlement batch with its ops, signatures and call records',
    description: SETTLEMENT_DESCRIPTION,
    auth: 'none',
    params: batchNumberParams,
    responses: {
      200: json(settlementRecord, 'The batch'),
      ...errors({ 400: 'Malformed batch number', 404: 'settlement_not_found' }),
    },
    handler: ({ context, params }) => getSettlement(context, params.batch_number),
  }),
]
