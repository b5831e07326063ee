import { formatAmount } from '../../protocol/amounts'
import type { AppContext } from '../app-context'
import { defaultToken } from '../ledger/tokens'
import { feedWindow as eventsFeedWindow } from '../events/event-bus'
import { selectMarketStats } from './pages-queries'

/** How many recent feed events the dashboard opens with. */
export const FEED_HISTORY_SIZE = 30

/** The market's public figures, as the dashboard shows them. */
export interface MarketStats {
  openJobs: number
  completedJobs: number
  agents: number
  /** Paid to workers for accepted work, in the default token: `12.5 USDC`, or null without a token. */
  settledVolume: string | null
}

/** The dashboard's market figures (public aggregates only). */
export async function getMarketStats(context: Pick<AppContext, 'pool' | 'tokens'>): Promise<MarketStats> {
  const token = defaultToken(context)
  const row = await selectMarketStats(context.pool, token?.address ?? '')
  return {
    openJobs: row.openJobs,
    completedJobs: row.completedJobs,
    agents: row.agents,
    settledVolume: token ? `${formatAmount(row.settledVolume, token.decimals)} ${token.symbol}` : null,
  }
}

/** Where the dashboard's stream resumes (so it replays the newest feed events), and the newest one now. */
export async function feedWindow(
  context: Pick<AppContext, 'pool'>,
): Promise<{ replayFrom: string; newest: string }> {
  return eventsFeedWindow(context.pool, FEED_HISTORY_SIZE)
}
