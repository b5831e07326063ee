import { expect } from 'chai'
import pino from 'pino'
import { keccak256, toHex } from 'viem'
import { escrowSetTree } from '../../../protocol/escrow-sets'
import type { IndexedEvent } from '../../../server/chain/indexer/indexed-event'
import { escrowSetHandlers, locateEscrow } from '../../../server/escrow/escrow-sets-service'
import { allocateVaultNonce, COORDINATOR_NONCE_BASE } from '../../../server/wallet/wallet-service'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const CHAIN_ID = 31337
const ids = ['a', 'b', 'c'].map((label) => keccak256(toHex(`escrow:${label}`)))

/** The logs one lock transaction leaves for set `setId`: its EscrowLocked logs, then EscrowSetCommitted. */
function setLogs(setId: bigint, escrowIds: `0x${string}`[], root = escrowSetTree(escrowIds).root) {
  const txHash = keccak256(toHex(`tx:${setId}`))
  const event = (logIndex: number, eventName: string, args: Record<string, unknown>): IndexedEvent => ({
    chainId: CHAIN_ID,
    txHash,
    logIndex,
    blockNumber: 10n,
    blockHash: keccak256(toHex('block')),
    contract: '0x00000000000000000000000000000000000000aa',
    eventName,
    args,
  })
  return [
    ...escrowIds.map((escrowId, index) =>
      event(index, 'EscrowLocked', { escrowId, setId: String(setId), index: String(index) }),
    ),
    event(escrowIds.length, 'EscrowSetCommitted', {
      setId: String(setId),
      root,
      count: String(escrowIds.length),
    }),
  ]
}

describe('escrow sets', () => {
  let database: TestDatabase

  beforeEach(async () => {
    database = await createTestDatabase()
  })
  afterEach(async () => {
    await database.drop()
  })

  function handlers(committed: Array<`0x${string}`[]>) {
    const list = escrowSetHandlers(pino({ level: 'silent' }), async (_db, _chainId, escrowIds) => {
      committed.push(escrowIds)
    })
    return new Map(list.map((handler) => [handler.eventName, handler]))
  }

  it('locates an escrow with the proof of its committed set, and hands the set to waiting ops once', async () => {
    const committed: Array<`0x${string}`[]> = []
    const byName = handlers(committed)
    const logs = setLogs(7n, ids)
    for (const log of logs.slice(0, 3)) await byName.get(log.eventName)!.apply(database.pool, log)
    // Locked but the set not yet committed: no proof can be trusted yet.
    expect(await locateEscrow(database.pool, CHAIN_ID, ids[1]!)).to.equal(null)
    await byName.get('EscrowSetCommitted')!.apply(database.pool, logs[3]!)
    expect(committed).to.deep.equal([ids])

    const located = await locateEscrow(database.pool, CHAIN_ID, ids[1]!)
    expect(located!.position).to.deep.equal({ setId: 7n, index: 1n })
    const tree = escrowSetTree(ids)
    expect(located!.proof).to.deep.equal(tree.getProof(1))
    expect(await locateEscrow(database.pool, CHAIN_ID, keccak256(toHex('unknown')))).to.equal(null)
  })

  it('queues nothing against a committed root its indexed leaves do not rebuild', async () => {
    const committed: Array<`0x${string}`[]> = []
    const byName = handlers(committed)
    for (const log of setLogs(8n, ids, keccak256(toHex('another root')))) {
      await byName.get(log.eventName)!.apply(database.pool, log)
    }
    expect(committed).to.deep.equal([])
    expect(await locateEscrow(database.pool, CHAIN_ID, ids[0]!)).to.equal(null)
  })

  it('forgets a set whose logs a reorg drops, and records it again when they return', async () => {
    const committed: Array<`0x${string}`[]> = []
    const byName = handlers(committed)
    const logs = setLogs(9n, ids)
    for (const log of logs) await byName.get(log.eventName)!.apply(database.pool, log)
    for (const log of [...logs].reverse()) await byName.get(log.eventName)!.undo(database.pool, log)
    expect(await locateEscrow(database.pool, CHAIN_ID, ids[2]!)).to.equal(null)
    // Applying the same logs twice records them once.
    for (const log of [...logs, ...logs]) await byName.get(log.eventName)!.apply(database.pool, log)
    expect((await locateEscrow(database.pool, CHAIN_ID, ids[2]!))!.position).to.deep.equal({
      setId: 9n,
      index: 2n,
    })
  })

  it("hands out each account's vault nonces consecutively from 2^192, even to concurrent callers", async () => {
    const account = '0x00000000000000000000000000000000000000Ab'
    const nonces = await Promise.all(
      Array.from({ length: 12 }, () => allocateVaultNonce(database.pool, account)),
    )
    const sorted = [...nonces].sort((a, b) => (a < b ? -1 : 1))
    expect(sorted).to.deep.equal(Array.from({ length: 12 }, (_, i) => COORDINATOR_NONCE_BASE + BigInt(i)))
    expect(await allocateVaultNonce(database.pool, '0x00000000000000000000000000000000000000cd')).to.equal(
      COORDINATOR_NONCE_BASE,
    )
  })
})
