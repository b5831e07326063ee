import type { Queryable } from '../db/pool'

// The public pages' own SQL: aggregates no room's service offers, each a count or a sum anyone
// could add up from the public API (nothing per agent, nothing private).

/** The dashboard's market figures, in base units of the stats token for the volume. */
export interface MarketStatsRow {
  openJobs: number
  completedJobs: number
  agents: number
  /** What workers were paid for accepted work, in the stats token's base units. */
  settledVolume: bigint
}

/**
 * Counts of open (taking bids: `open` or `filling`) and completed jobs, of marketplace agents (the
 * directory's: not the platform's own), and the sum of every agent's public `total_earned` in the
 * stats token, read from the ledger's published `agent_ledger_totals` view as the profiles are.
 */
export async function selectMarketStats(db: Queryable, statsToken: string): Promise<MarketStatsRow> {
  const { rows } = await db.query(
    `SELECT
       (SELECT count(*) FROM jobs AS j WHERE j.status IN ('open', 'filling'))::int AS open_jobs,
       (SELECT count(*) FROM jobs AS j WHERE j.status = 'completed')::int AS completed_jobs,
       (SELECT count(*) FROM agents AS a WHERE a.platform_role IS NULL)::int AS agents,
       (SELECT coalesce(sum(t.earned), 0) FROM agent_ledger_totals AS t WHERE t.token = $1)::text AS settled_volume`,
    [statsToken.toLowerCase()],
  )
  const row = rows[0]
  return {
    openJobs: row.open_jobs,
    completedJobs: row.completed_jobs,
    agents: row.agents,
    settledVolume: BigInt(row.settled_volume),
  }
}
