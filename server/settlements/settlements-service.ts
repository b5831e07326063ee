import type { Hex } from 'viem'
import {
  decodeSettlementOp,
  type ListSettlementsQuery,
  type SettlementOpRecord,
  type SettlementPage,
  type SettlementRecord,
} from '../../protocol/settlements'
import { OpKind } from '../../protocol/typed-data'
import type { AppContext } from '../app-context'
import {
  findSettledBatches,
  findSettledBatchOps,
  type PublicBatchOpRow,
  type PublicBatchRow,
} from '../chain/settler/settled-batches'
import { settledCallRecordsOf } from '../channels/channels-service'
import type { Queryable } from '../db/pool'
import { NotFoundError } from '../errors'
import { escrowDomain } from '../escrow/escrow-ops'

/** Ops whose voucher pays calls: their records go with them, so the call chain can be recomputed. */
const CALL_PAYING_KINDS = new Set<number>([OpKind.ChannelSettle, OpKind.ChannelClose])

function opStatus(batch: PublicBatchRow, op: PublicBatchOpRow): SettlementOpRecord['status'] {
  if (op.status === 'failed') return 'skipped'
  return batch.status === 'confirmed' ? 'applied' : 'pending'
}

/** The public records of `batches`: each with every op decoded, its signatures, and the calls a voucher pays. */
async function toSettlementRecords(
  db: Queryable,
  context: Pick<AppContext, 'chain'>,
  batches: readonly PublicBatchRow[],
): Promise<SettlementRecord[]> {
  const domain = escrowDomain(context)
  const ops = await findSettledBatchOps(
    db,
    domain.chainId,
    batches.map((batch) => batch.batchNumber),
  )
  const calls = await settledCallRecordsOf(
    db,
    ops.filter((op) => CALL_PAYING_KINDS.has(op.kind)).map((op) => op.id),
  )
  return batches.map((batch) => {
    const own = ops.filter((op) => op.batchNumber === batch.batchNumber)
    return {
      chain_id: domain.chainId,
      vault_address: domain.verifyingContract,
      batch_number: Number(batch.batchNumber),
      ops_root: batch.opsRoot,
      op_count: batch.opCount,
      coordinator_signature: batch.coordinatorSignature,
      status: batch.status,
      tx_hash: batch.txHash,
      block_number: batch.blockNumber === null ? null : Number(batch.blockNumber),
      totals: batch.totals,
      created_at: batch.createdAt.toISOString(),
      confirmed_at: batch.confirmedAt?.toISOString() ?? null,
      ops: own.map((op, index) => {
        const decoded = decodeSettlementOp(domain, op.kind, op.data as Hex)
        return {
          index,
          kind: decoded.kind,
          kind_code: op.kind,
          data: op.data,
          status: opStatus(batch, op),
          skip_reason: op.status === 'failed' ? op.failureReason : null,
          fields: decoded.fields,
          signatures: decoded.signedMessages.map((message) => ({
            role: message.role,
            signer: message.signer.toLowerCase(),
            signature: message.signature,
          })),
          escrow_id: decoded.escrowId,
          channel_id: decoded.channelId,
          call_records: CALL_PAYING_KINDS.has(op.kind) ? (calls.get(op.id) ?? null) : null,
        }
      }),
    }
  })
}

/** `GET /v1/settlements`: public, no key; batches in order after `after`. */
export async function listSettlements(
  context: Pick<AppContext, 'pool' | 'chain'>,
  query: ListSettlementsQuery,
): Promise<SettlementPage> {
  const chainId = escrowDomain(context).chainId
  const batches = await findSettledBatches(context.pool, chainId, {
    after: BigInt(query.after),
    limit: query.limit,
  })
  const settlements = await toSettlementRecords(context.pool, context, batches)
  return {
    settlements,
    next_after: batches.length === query.limit ? Number(batches[batches.length - 1]!.batchNumber) : null,
  }
}

/** `GET /v1/settlements/{batch_number}`: public, no key. */
export async function getSettlement(
  context: Pick<AppContext, 'pool' | 'chain'>,
  batchNumber: number,
): Promise<SettlementRecord> {
  const chainId = escrowDomain(context).chainId
  const batches = await findSettledBatches(context.pool, chainId, { batchNumber: BigInt(batchNumber) })
  if (!batches.length) throw new NotFoundError('settlement_not_found', `batch ${batchNumber} not found`)
  return (await toSettlementRecords(context.pool, context, batches))[0]!
}
