import type { Address } from 'viem'
import type { Queryable } from '../db/pool'
import { refundEscrow } from '../ledger/ledger-service'

// A competition's prize pool in the ledger: locked from the creator when the competition is
// created, paid out as prizes or refunded. Beneath the jobs room, which creates competitions.

/** The ledger reference of a competition's prize pool lock, made when the competition is created. */
export function competitionPoolReference(jobId: string): string {
  return `competition-pool:${jobId}`
}

/** Returns a competition's whole prize pool to its creator (cancelled, or no entries by the deadline). */
export async function refundCompetitionPool(
  db: Queryable,
  job: { id: string; creator_agent_id: string; token_address: Address; budget_amount: string | null },
): Promise<void> {
  await refundEscrow(db, {
    payerId: job.creator_agent_id,
    token: job.token_address,
    amount: BigInt(job.budget_amount!),
    reference: `competition-refund:${job.id}`,
  })
}
