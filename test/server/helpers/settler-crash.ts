import type { SettlerRoundHooks } from '../../../server/chain/settler/settler'

/** Thrown by `crashAfterSend` where a real coordinator process would have died. */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash'
}

/**
 * Round hooks that stop a settler right after it sent a batch and before it recorded the
 * transaction: the chain has the batch, the database does not know it was sent.
 */
export const crashAfterSend: SettlerRoundHooks = {
  afterSendBeforeRecord({ batchNumber }) {
    throw new SimulatedCrash(`crashed after sending batch ${batchNumber}`)
  },
}
