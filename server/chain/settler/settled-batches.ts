import type { Queryable } from '../../db/pool'
import {
  selectPublicBatches,
  selectPublicBatchOps,
  type PublicBatchOpRow,
  type PublicBatchRow,
} from './chain-ops-queries'

export type { PublicBatchOpRow, PublicBatchRow }

/**
 * The settler's record of the batches it signed, for the public settlement records: a page of
 * batches numbered above `after` (or the one `batchNumber`), with the totals of their indexed
 * `BatchSettled` logs.
 */
export async function findSettledBatches(
  db: Queryable,
  chainId: number,
  page: { after: bigint; limit: number } | { batchNumber: bigint },
): Promise<PublicBatchRow[]> {
  return selectPublicBatches(db, chainId, page)
}

/** The ops of batches `batchNumbers`, each batch's in batch order (the order its ops root commits to). */
export async function findSettledBatchOps(
  db: Queryable,
  chainId: number,
  batchNumbers: readonly bigint[],
): Promise<PublicBatchOpRow[]> {
  return selectPublicBatchOps(db, chainId, batchNumbers)
}
