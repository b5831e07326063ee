import { normalizeAddress } from '../../../protocol/address'
import { bigintsToDecimalStrings } from '../../../protocol/amounts'
import type pg from 'pg'
import type { Logger } from 'pino'
import { decodeEventLog, type Log, type PublicClient, type Address, type Hex } from 'viem'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { withTransaction, type Queryable } from '../../db/pool'
import type { Metrics } from '../../metrics'
import type { ChainEventHandler, IndexedEvent } from './indexed-event'
import {
  deleteAbove,
  insertEvents,
  listBlocksDescending,
  listEventsAbove,
  lockCursor,
  readCursor,
  saveBlocks,
  saveCursor,
  type ChainCursor,
} from './indexer-queries'

/** How far the indexer has applied the vault's logs (in the caller's snapshot), or null before its first round. */
export async function readIndexedCursor(
  db: Queryable,
  chainId: number,
  vault: string,
): Promise<ChainCursor | null> {
  return readCursor(db, chainId, vault.toLowerCase())
}

// Any constant shared by every replica; one indexer per database writes at a time.
const INDEXER_LOCK_KEY = 0x636c7269647872n

export interface VaultIndexerParameters {
  pool: pg.Pool
  client: PublicClient
  chainId: number
  vault: Address
  /** The block the vault was deployed in; a first run backfills from there. */
  deploymentBlock: bigint
  /** Logs are read only up to `head − confirmations`. */
  confirmations: number
  /** Largest block range one `getLogs` call asks for; RPC providers cap it. */
  maxBlockRange?: bigint
  handlers?: ChainEventHandler[]
  logger: Logger
  /** Where the indexer reports its lag; tests that do not read it leave it out. */
  metrics?: Pick<Metrics, 'indexerLag'>
}

export interface SyncResult {
  /** Block range read this round, or null when already at the safe head. */
  range: { from: bigint; to: bigint } | null
  newEvents: number
  /** The common ancestor a reorg rewound to, if one was found. */
  rewoundTo: bigint | null
  /** Another replica moved the cursor first; this round's reads were discarded. */
  lostRace: boolean
  /** Logs past the safe head shown to `observeUnconfirmed` handlers this round. */
  unconfirmedEvents: number
}

/**
 * Follows the vault's logs into `chain_events` with Ponder's rules: read bounded ranges with
 * `getLogs` (never filters, which some load balancers drop), only to `head − confirmations`,
 * each log once by `(chain_id, tx_hash, log_index)`, and on a reorg rewind to the common ancestor,
 * undoing what the dropped blocks did. Once at the safe head, handlers may preview the logs still
 * waiting for their confirmations (`observeUnconfirmed`). RPC reads happen outside any database
 * transaction; the write transaction re-checks the cursor under an advisory lock, so replicas never
 * double-apply.
 */
export class VaultIndexer {
  private readonly parameters: Required<Omit<VaultIndexerParameters, 'metrics'>>
  /** Per event name, every handler of it in registration order; undo runs them in reverse. */
  private readonly handlers: Map<string, ChainEventHandler[]>
  private readonly lag: Metrics['indexerLag'] | null
  private timer: NodeJS.Timeout | null = null
  /** The next range, read while the last one was written. */
  private prefetched: { from: bigint; read: Promise<RangeRead | null> } | null = null
  private running: Promise<void> | null = null

  constructor(parameters: VaultIndexerParameters) {
    this.parameters = { maxBlockRange: 2000n, handlers: [], ...parameters }
    this.parameters.vault = normalizeAddress(parameters.vault)
    this.handlers = new Map()
    for (const handler of this.parameters.handlers) {
      this.handlers.set(handler.eventName, [...(this.handlers.get(handler.eventName) ?? []), handler])
    }
    this.lag = parameters.metrics?.indexerLag ?? null
  }

  /** Reads one bounded range (or rewinds one reorg) and commits it. */
  async syncOnce(): Promise<SyncResult> {
    const { pool, client, chainId, vault, confirmations, maxBlockRange, deploymentBlock } = this.parameters
    const cursor = await readCursor(pool, chainId, vault)

    if (cursor && !(await this.isOnChain(cursor))) {
      const ancestor = await this.findCommonAncestor(cursor)
      const rewound = await this.rewind(cursor, ancestor)
      return {
        range: null,
        newEvents: 0,
        rewoundTo: rewound ? ancestor.blockNumber : null,
        lostRace: !rewound,
        unconfirmedEvents: 0,
      }
    }

    const head = await client.getBlockNumber({ cacheTime: 0 })
    const safeHead = head - BigInt(confirmations)
    this.lag?.set(Number(head - (cursor?.blockNumber ?? deploymentBlock - 1n)))
    const from = cursor ? cursor.blockNumber + 1n : deploymentBlock
    if (from > safeHead) return this.observeUnconfirmed(cursor, from, head)
    const to = from + maxBlockRange - 1n < safeHead ? from + maxBlockRange - 1n : safeHead

    // A backfill reads the next range while this one is written: reading is RPC, writing is SQL.
    const prefetched = await this.takePrefetched(from)
    // (A reorg to a shorter chain can leave a range read ahead past today's safe head.)
    const read = prefetched && prefetched.to <= safeHead ? prefetched : await this.readRange(from, to)
    if (!read) return { range: null, newEvents: 0, rewoundTo: null, lostRace: true, unconfirmedEvents: 0 }
    const { events, toBlock, parents } = read
    if (read.to < safeHead) {
      const next = read.to + 1n
      const nextTo = next + maxBlockRange - 1n < safeHead ? next + maxBlockRange - 1n : safeHead
      this.prefetched = { from: next, read: this.readRange(next, nextTo).catch(() => null) }
    }

    let newEvents = 0
    const committed = await withTransaction(pool, async (db) => {
      if (!(await this.tryLock(db))) return false
      const current = await lockCursor(db, chainId, vault)
      if ((current?.blockNumber ?? null) !== (cursor?.blockNumber ?? null)) return false
      const fresh = await insertEvents(db, events)
      newEvents = fresh.length
      for (const run of runsOfOneName(fresh)) await this.applyRun(db, run)
      await saveBlocks(db, chainId, [
        ...parents,
        { number: read.to, hash: toBlock.hash, parentHash: toBlock.parentHash },
      ])
      await saveCursor(db, chainId, vault, { blockNumber: read.to, blockHash: toBlock.hash })
      return true
    })
    if (committed) this.lag?.set(Number(head - read.to))
    else this.prefetched = null
    return {
      range: committed ? { from, to: read.to } : null,
      newEvents,
      rewoundTo: null,
      lostRace: !committed,
      unconfirmedEvents: 0,
    }
  }

  /**
   * At the safe head: shows the logs of blocks `from`..`head` to the handlers that preview
   * unconfirmed events, under the same lock and cursor check as every other write, so a replica
   * that moved the cursor meanwhile wins and this round's view is dropped.
   */
  private async observeUnconfirmed(
    cursor: ChainCursor | null,
    from: bigint,
    head: bigint,
  ): Promise<SyncResult> {
    const { pool, client, chainId, vault, confirmations } = this.parameters
    const observers = [...this.handlers.values()].flat().filter((handler) => handler.observeUnconfirmed)
    const idle = { range: null, newEvents: 0, rewoundTo: null, lostRace: false, unconfirmedEvents: 0 }
    if (confirmations === 0 || observers.length === 0) return idle
    // After a reorg to a shorter chain the window can be empty; observing nothing still tells
    // the handlers that what they saw before is gone.
    const logs = from > head ? [] : await client.getLogs({ address: vault, fromBlock: from, toBlock: head })
    const events = logs
      .map((log) => this.decode(log))
      .filter((event): event is IndexedEvent => event !== null)
    const committed = await withTransaction(pool, async (db) => {
      if (!(await this.tryLock(db))) return false
      const current = await lockCursor(db, chainId, vault)
      if ((current?.blockNumber ?? null) !== (cursor?.blockNumber ?? null)) return false
      for (const handler of observers) {
        const own = events.filter((event) => event.eventName === handler.eventName)
        await handler.observeUnconfirmed!(db, own, { chainId, fromBlock: from, toBlock: head })
      }
      return true
    })
    return { ...idle, lostRace: !committed, unconfirmedEvents: committed ? events.length : 0 }
  }

  /** Syncs until the safe head is reached (or `maxRounds`), e.g. after downtime. */
  async catchUp(maxRounds = 10_000): Promise<void> {
    for (let round = 0; round < maxRounds; round += 1) {
      const result = await this.syncOnce()
      if (!result.range && result.rewoundTo === null && !result.lostRace) return
    }
  }

  /** Polls every `intervalMs` until `stop()`; a failed round is logged and retried next tick. */
  start(intervalMs: number): void {
    const tick = async () => {
      try {
        await this.catchUp(100)
      } catch (error) {
        this.parameters.logger.warn({ err: error }, 'indexer round failed; retrying')
      }
      if (this.timer) this.timer = setTimeout(() => (this.running = tick()), intervalMs)
    }
    this.timer = setTimeout(() => (this.running = tick()), 0)
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    await this.running
  }

  /**
   * The decoded logs of blocks `from`..`to`, `to`'s header, and the parent hash of every block
   * with logs (a reorg check needs each stored block's parent), all read before any transaction so
   * no RPC round trip holds the lock; null when the chain moved under the read.
   */
  private async readRange(from: bigint, to: bigint): Promise<RangeRead | null> {
    const { client, vault } = this.parameters
    const [logs, toBlock] = await Promise.all([
      client.getLogs({ address: vault, fromBlock: from, toBlock: to }),
      client.getBlock({ blockNumber: to }),
    ])
    const events = logs
      .map((log) => this.decode(log))
      .filter((event): event is IndexedEvent => event !== null)
    // A log whose block is no longer the one at `to`'s ancestry means the chain moved under us;
    // the next round's reorg check sorts it out, so commit nothing now.
    if (events.some((event) => event.blockNumber === to && event.blockHash !== toBlock.hash)) return null

    const blocksWithEvents = new Map<bigint, Hex>()
    for (const event of events)
      if (event.blockNumber !== to) blocksWithEvents.set(event.blockNumber, event.blockHash)
    const parents: RangeRead['parents'] = []
    // A block whose predecessor also has logs in the range has that block's hash for its parent:
    // only the first block of each run of consecutive ones is read (a backfill of busy blocks
    // otherwise reads every block once more).
    const pendingBlocks: Array<[bigint, Hex]> = []
    for (const [number, hash] of blocksWithEvents) {
      const parentHash = blocksWithEvents.get(number - 1n)
      if (parentHash) parents.push({ number, hash, parentHash })
      else pendingBlocks.push([number, hash])
    }
    // A few requests at a time: a range may hold thousands of blocks with logs.
    for (let i = 0; i < pendingBlocks.length; i += 16) {
      const chunk = pendingBlocks.slice(i, i + 16)
      parents.push(
        ...(await Promise.all(
          chunk.map(async ([number, hash]) => ({
            number,
            hash,
            parentHash: (await client.getBlock({ blockHash: hash })).parentHash,
          })),
        )),
      )
    }
    return { to, events, toBlock: { hash: toBlock.hash, parentHash: toBlock.parentHash }, parents }
  }

  /**
   * The range read ahead for `from`, if the last round started one (and it succeeded). A read is
   * only ever ahead of the cursor, so a reorg under it is caught as under any other read: by the
   * next round's check of the cursor's block.
   */
  private async takePrefetched(from: bigint): Promise<RangeRead | null> {
    const prefetched = this.prefetched
    this.prefetched = null
    if (!prefetched || prefetched.from !== from) return null
    return prefetched.read
  }

  /**
   * Applies consecutive logs of one event: through each handler's `applyMany` when all of the
   * event's handlers have one, else log by log with every handler in turn.
   */
  private async applyRun(db: pg.PoolClient, run: IndexedEvent[]): Promise<void> {
    const handlers = this.handlers.get(run[0]!.eventName) ?? []
    if (run.length > 1 && handlers.every((handler) => handler.applyMany)) {
      for (const handler of handlers) await handler.applyMany!(db, run)
      return
    }
    for (const event of run) for (const handler of handlers) await handler.apply(db, event)
  }

  private async tryLock(db: pg.PoolClient): Promise<boolean> {
    const { rows } = await db.query('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [
      INDEXER_LOCK_KEY.toString(),
    ])
    return rows[0].locked === true
  }

  private async isOnChain(cursor: ChainCursor): Promise<boolean> {
    const block = await this.parameters.client.getBlock({ blockNumber: cursor.blockNumber }).catch(() => null)
    return block?.hash === cursor.blockHash
  }

  /** The newest stored block still on the chain, or the block before deployment if none is. */
  private async findCommonAncestor(cursor: ChainCursor): Promise<ChainCursor> {
    const { pool, client, chainId, deploymentBlock } = this.parameters
    const candidates = await listBlocksDescending(pool, chainId, cursor.blockNumber, 1000)
    for (const candidate of candidates) {
      const block = await client.getBlock({ blockNumber: candidate.blockNumber }).catch(() => null)
      if (block?.hash === candidate.blockHash)
        return { blockNumber: candidate.blockNumber, blockHash: block.hash }
    }
    const base = deploymentBlock > 0n ? deploymentBlock - 1n : 0n
    const block = await client.getBlock({ blockNumber: base })
    return { blockNumber: base, blockHash: block.hash }
  }

  private async rewind(cursor: ChainCursor, ancestor: ChainCursor): Promise<boolean> {
    const { pool, chainId, vault, logger } = this.parameters
    return withTransaction(pool, async (db) => {
      if (!(await this.tryLock(db))) return false
      const current = await lockCursor(db, chainId, vault)
      if (current?.blockHash !== cursor.blockHash) return false
      const dropped = await listEventsAbove(db, chainId, ancestor.blockNumber)
      for (const event of dropped) {
        for (const handler of [...(this.handlers.get(event.eventName) ?? [])].reverse()) {
          await handler.undo(db, event)
        }
      }
      await deleteAbove(db, chainId, ancestor.blockNumber)
      await saveCursor(db, chainId, vault, ancestor)
      logger.warn(
        { from: cursor.blockNumber.toString(), to: ancestor.blockNumber.toString(), undone: dropped.length },
        'chain reorganised: rewound indexer',
      )
      return true
    })
  }

  private decode(log: Log): IndexedEvent | null {
    try {
      const decoded = decodeEventLog({ abi: clearhouseVaultAbi, data: log.data, topics: log.topics })
      return {
        chainId: this.parameters.chainId,
        txHash: log.transactionHash!,
        logIndex: log.logIndex!,
        blockNumber: log.blockNumber!,
        blockHash: log.blockHash!,
        contract: log.address.toLowerCase(),
        eventName: decoded.eventName,
        args: bigintsToDecimalStrings(decoded.args) as Record<string, unknown>,
      }
    } catch (error) {
      this.parameters.logger.error(
        { err: error, txHash: log.transactionHash },
        'undecodable vault log skipped',
      )
      return null
    }
  }
}

/** One block range as read from the node, ready to write. */
interface RangeRead {
  to: bigint
  events: IndexedEvent[]
  toBlock: { hash: Hex; parentHash: Hex }
  parents: Array<{ number: bigint; hash: Hex; parentHash: Hex }>
}

/** `events` cut into runs of consecutive logs with the same event name, order kept. */
function runsOfOneName(events: IndexedEvent[]): IndexedEvent[][] {
  const runs: IndexedEvent[][] = []
  for (const event of events) {
    const last = runs.at(-1)
    if (last && last[0]!.eventName === event.eventName) last.push(event)
    else runs.push([event])
  }
  return runs
}
