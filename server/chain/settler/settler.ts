import { randomUUID } from 'node:crypto'
import { StandardMerkleTree } from '@openzeppelin/merkle-tree'
import type pg from 'pg'
import type { Logger } from 'pino'
import {
  BaseError,
  ContractFunctionRevertedError,
  decodeErrorResult,
  keccak256,
  type Account,
  type PublicClient,
  type WalletClient,
} from 'viem'
import {
  clearhouseDomain,
  clearhouseTypes,
  opsLeafEncoding,
  toCompactSignature,
  type OpKind,
} from '../../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { withTransaction } from '../../db/pool'
import { releaseLease, tryAcquireLease } from '../../workers/leader'
import {
  countPendingOps,
  dissolveBatch,
  findInFlightBatch,
  highestBatchNumber,
  insertBatch,
  markBatchConfirmed,
  markBatchSent,
  oldestPendingAgeMs,
  reopenBatch,
  selectDroppedBatches,
  selectBatchOps,
  selectPendingOps,
  type SettlementBatch,
} from './chain-ops-queries'

const SETTLER_LEASE = 'settler'

export interface SettlerParameters {
  pool: pg.Pool
  publicClient: PublicClient
  walletClient: WalletClient
  /** The coordinator key: signs batches and pays for their transactions. */
  account: Account
  chainId: number
  vault: `0x${string}`
  /** Send as soon as this many ops wait… */
  maxBatchSize?: number
  /** …or as soon as the oldest has waited this long. */
  maxBatchAgeMs?: number
  /**
   * Most gas one batch transaction may use. A batch estimated above it (or that the node cannot
   * estimate at all, e.g. past a chain's per-transaction gas cap) is split in half.
   */
  maxBatchGas?: bigint
  leaseTtlMs?: number
  logger: Logger
}

export type SettleResult =
  | { outcome: 'idle' | 'not-leader' | 'waiting' }
  | {
      outcome: 'confirmed'
      batchNumber: bigint
      opCount: number
      txHash: `0x${string}` | null
      recovered: boolean
    }
  | { outcome: 'op-failed'; batchNumber: bigint; opId: string; reason: string }
  | { outcome: 'split'; batchNumber: bigint; opCount: number; nextBatchSize: number; reason: string }

/** Recorded batches were lost from the chain and the next one cannot be re-sent in order. */
export class SettlementGapError extends Error {
  override name = 'SettlementGapError'
  constructor(
    readonly lastOnChain: bigint,
    readonly nextRecorded: bigint,
  ) {
    super(
      `the vault settled up to batch ${lastOnChain} but batch ${nextRecorded} is the next recorded one; settlement stopped for an operator`,
    )
  }
}

/** Raised to simulate a crash between sending a batch and recording it (tests only). */
export class SimulatedCrash extends Error {
  override name = 'SimulatedCrash'
}

/**
 * Turns queued chain ops into numbered, coordinator-signed `settleBatch` transactions.
 *
 * Crash safety: a batch is written (number, root, signature, its ops) before anything is sent; at
 * start of every round an unconfirmed batch is first looked up on-chain by `lastBatchNumber()`, so
 * a batch that landed before a crash is recorded, never re-sent, and one that did not land is sent
 * again under the same number (the contract accepts each number once, so a duplicate can only
 * revert). Before sending, the batch is simulated; an op that would fail is isolated by the
 * vault's `SettlementOpFailed(index, reason)`, marked failed, and the rest is batched again.
 */
export class Settler {
  private readonly parameters: Required<SettlerParameters>
  private readonly holder = randomUUID()
  /** Ops per batch learnt from batches too large to send; never above `maxBatchSize`. */
  private batchSizeCap: number | null = null
  /** Tests set this to stop right after the transaction is sent and before it is recorded. */
  crashAfterSend = false

  constructor(parameters: SettlerParameters) {
    this.parameters = {
      maxBatchSize: 100,
      maxBatchAgeMs: 2_000,
      maxBatchGas: DEFAULT_MAX_BATCH_GAS,
      leaseTtlMs: 60_000,
      ...parameters,
    }
  }

  /** One round: recover or send at most one batch. */
  async settleOnce(): Promise<SettleResult> {
    const { pool, leaseTtlMs } = this.parameters
    if (!(await tryAcquireLease(pool, SETTLER_LEASE, this.holder, leaseTtlMs)))
      return { outcome: 'not-leader' }
    // Read once per round: everything below decides against the same view of the vault.
    const lastOnChain = await this.lastBatchNumberOnChain()
    const reopened = await this.reopenDroppedBatch(lastOnChain)
    if (reopened) return this.finish(reopened, true, lastOnChain)
    const inFlight = await findInFlightBatch(pool, this.parameters.chainId)
    if (inFlight) return this.finish(inFlight, true, lastOnChain)
    const prepared = await this.prepareBatch(lastOnChain)
    if (!prepared) return { outcome: 'idle' }
    if (prepared === 'waiting') return { outcome: 'waiting' }
    return this.finish(prepared, false, lastOnChain)
  }

  /** Settles until nothing is pending (or `maxRounds`). */
  async drain(maxRounds = 1_000): Promise<SettleResult[]> {
    const results: SettleResult[] = []
    for (let round = 0; round < maxRounds; round += 1) {
      const result = await this.settleOnce()
      if (result.outcome === 'idle' || result.outcome === 'not-leader' || result.outcome === 'waiting') break
      results.push(result)
    }
    return results
  }

  async resign(): Promise<void> {
    await releaseLease(this.parameters.pool, SETTLER_LEASE, this.holder)
  }

  private async prepareBatch(onChain: bigint): Promise<SettlementBatch | 'waiting' | null> {
    const { pool, chainId, maxBatchAgeMs } = this.parameters
    const maxBatchSize = this.batchSize()
    const pending = await countPendingOps(pool, chainId)
    if (pending === 0) return null
    if (pending < maxBatchSize && ((await oldestPendingAgeMs(pool, chainId)) ?? 0) < maxBatchAgeMs)
      return 'waiting'
    return withTransaction(pool, async (db) => {
      const ops = await selectPendingOps(db, chainId, maxBatchSize)
      if (ops.length === 0) return null
      const recorded = await highestBatchNumber(db, chainId)
      const batchNumber = (recorded > onChain ? recorded : onChain) + 1n
      const opsRoot = computeOpsRoot(ops)
      const signature = await this.signBatch(batchNumber, opsRoot)
      await insertBatch(db, chainId, {
        batchNumber,
        opsRoot,
        coordinatorSignature: signature,
        opIds: ops.map((op) => op.id),
      })
      return {
        batchNumber,
        opsRoot,
        coordinatorSignature: signature,
        status: 'prepared' as const,
        txHash: null,
      }
    })
  }

  private async finish(
    batch: SettlementBatch,
    recovered: boolean,
    lastOnChain: bigint,
  ): Promise<SettleResult> {
    const { pool, chainId, publicClient, walletClient, account, vault, logger } = this.parameters
    const ops = await selectBatchOps(pool, chainId, batch.batchNumber)

    if (lastOnChain >= batch.batchNumber) {
      // It landed (perhaps before a crash): record it, never send it again.
      await withTransaction(pool, (db) => markBatchConfirmed(db, chainId, batch.batchNumber, batch.txHash))
      return {
        outcome: 'confirmed',
        batchNumber: batch.batchNumber,
        opCount: ops.length,
        txHash: batch.txHash,
        recovered,
      }
    }
    if (batch.txHash) {
      const receipt = await publicClient.getTransactionReceipt({ hash: batch.txHash }).catch(() => null)
      if (!receipt && (await this.hasPendingTransaction())) return { outcome: 'waiting' }
    }

    const args = [
      batch.batchNumber,
      ops.map((op) => ({ kind: op.kind, data: op.data })),
      toCompactSignature(batch.coordinatorSignature),
    ] as const
    try {
      await publicClient.simulateContract({
        address: vault,
        abi: clearhouseVaultAbi,
        functionName: 'settleBatch',
        args,
        account,
      })
    } catch (error) {
      const failure = decodeOpFailure(error)
      if (!failure) throw error
      const op = ops[failure.index]!
      await withTransaction(pool, (db) =>
        dissolveBatch(db, chainId, batch.batchNumber, { opId: op.id, reason: failure.reason }),
      )
      logger.warn(
        { batchNumber: batch.batchNumber.toString(), opId: op.id, reason: failure.reason },
        'settlement op failed',
      )
      return { outcome: 'op-failed', batchNumber: batch.batchNumber, opId: op.id, reason: failure.reason }
    }

    let gas: bigint
    try {
      gas = await publicClient.estimateContractGas({
        address: vault,
        abi: clearhouseVaultAbi,
        functionName: 'settleBatch',
        args,
        account,
      })
    } catch (error) {
      // The simulation passed, so the ops are sound: the batch is too big to send as one.
      if (ops.length === 1) throw error
      return this.split(batch, ops.length, `gas estimate failed: ${shortMessage(error)}`)
    }
    if (gas > this.parameters.maxBatchGas && ops.length > 1) {
      return this.split(batch, ops.length, `needs ${gas} gas, more than ${this.parameters.maxBatchGas}`)
    }

    const txHash = await walletClient.writeContract({
      address: vault,
      abi: clearhouseVaultAbi,
      functionName: 'settleBatch',
      args,
      account,
      chain: null,
      // Estimated once above; the headroom covers state that moves before the block.
      gas: gas + gas / 10n,
    })
    if (this.crashAfterSend) throw new SimulatedCrash(`crashed after sending batch ${batch.batchNumber}`)
    await withTransaction(pool, (db) => markBatchSent(db, chainId, batch.batchNumber, txHash))
    const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
    if (receipt.status !== 'success') {
      // The number may have been used by an earlier send of this same batch (a node that was
      // behind let it simulate): then it settled, and dissolving it would redo settled work.
      const settled = await this.lastBatchNumberOnChain(receipt.blockNumber)
      if (settled >= batch.batchNumber) {
        await withTransaction(pool, (db) => markBatchConfirmed(db, chainId, batch.batchNumber, null))
        return {
          outcome: 'confirmed',
          batchNumber: batch.batchNumber,
          opCount: ops.length,
          txHash,
          recovered,
        }
      }
      // Reverted although the simulation passed (state moved in between): the next round
      // re-simulates the same batch number and isolates the op.
      await withTransaction(pool, (db) => dissolveBatch(db, chainId, batch.batchNumber, null))
      return { outcome: 'waiting' }
    }
    await withTransaction(pool, (db) => markBatchConfirmed(db, chainId, batch.batchNumber, txHash))
    logger.info({ batchNumber: batch.batchNumber.toString(), ops: ops.length, txHash }, 'batch settled')
    return { outcome: 'confirmed', batchNumber: batch.batchNumber, opCount: ops.length, txHash, recovered }
  }

  private batchSize(): number {
    const { maxBatchSize } = this.parameters
    return this.batchSizeCap === null ? maxBatchSize : Math.min(maxBatchSize, this.batchSizeCap)
  }

  /** Returns a batch too large to send to the queue; from now on this settler batches half as many ops. */
  private async split(batch: SettlementBatch, opCount: number, reason: string): Promise<SettleResult> {
    const { pool, chainId, logger } = this.parameters
    await withTransaction(pool, (db) => dissolveBatch(db, chainId, batch.batchNumber, null))
    this.batchSizeCap = Math.max(1, Math.floor(opCount / 2))
    logger.warn(
      { batchNumber: batch.batchNumber.toString(), opCount, nextBatchSize: this.batchSizeCap, reason },
      'batch too large to send; splitting',
    )
    return {
      outcome: 'split',
      batchNumber: batch.batchNumber,
      opCount,
      nextBatchSize: this.batchSizeCap,
      reason,
    }
  }

  /**
   * A reorg can take a settled batch off the chain; the vault's `lastBatchNumber()` then falls
   * below what was recorded as confirmed, and numbering must resume exactly there. The lowest
   * dropped batch goes back in flight unchanged (same number, ops and signature) once its
   * transaction is provably gone; the ops it carried are pending on-chain work again. A gap (a
   * re-sent batch that could no longer settle) stops the settler rather than renumber work the
   * chain may still carry out: that needs an operator.
   */
  private async reopenDroppedBatch(lastOnChain: bigint): Promise<SettlementBatch | null> {
    const { pool, chainId, publicClient, logger } = this.parameters
    const dropped = await selectDroppedBatches(pool, chainId, lastOnChain)
    const lowest = dropped[0]
    if (!lowest) return null
    if (lowest.txHash) {
      const receipt = await publicClient.getTransactionReceipt({ hash: lowest.txHash }).catch(() => null)
      // Still on the chain we read: that node is behind, not reorganised. Nothing to do yet.
      if (receipt?.status === 'success') return null
    }
    if (lowest.batchNumber !== lastOnChain + 1n) {
      throw new SettlementGapError(lastOnChain, lowest.batchNumber)
    }
    const inFlight = await findInFlightBatch(pool, chainId)
    await withTransaction(pool, async (db) => {
      // A batch prepared after the dropped ones carries a number the vault cannot accept yet.
      if (inFlight) await dissolveBatch(db, chainId, inFlight.batchNumber, null)
      await reopenBatch(db, chainId, lowest.batchNumber)
    })
    logger.error(
      { batchNumber: lowest.batchNumber.toString(), dropped: dropped.length, txHash: lowest.txHash },
      'settled batch dropped by a chain reorganisation; sending it again',
    )
    return { ...lowest, status: 'sent' }
  }

  private async lastBatchNumberOnChain(blockNumber?: bigint): Promise<bigint> {
    const value = await this.parameters.publicClient.readContract({
      address: this.parameters.vault,
      abi: clearhouseVaultAbi,
      functionName: 'lastBatchNumber',
      blockNumber,
    })
    return BigInt(value)
  }

  /** Whether the coordinator has a transaction in the mempool, e.g. a batch sent before a crash. */
  private async hasPendingTransaction(): Promise<boolean> {
    const { publicClient, account } = this.parameters
    const [pending, latest] = await Promise.all([
      publicClient.getTransactionCount({ address: account.address, blockTag: 'pending' }),
      publicClient.getTransactionCount({ address: account.address, blockTag: 'latest' }),
    ])
    return pending > latest
  }

  private async signBatch(batchNumber: bigint, opsRoot: `0x${string}`): Promise<`0x${string}`> {
    const { account, chainId, vault } = this.parameters
    if (!account.signTypedData) throw new Error('the coordinator account cannot sign typed data')
    return account.signTypedData({
      domain: clearhouseDomain(chainId, vault),
      types: { Batch: clearhouseTypes.Batch },
      primaryType: 'Batch',
      message: { batchNumber, opsRoot },
    })
  }
}

/**
 * Default gas budget of one batch (`SETTLER_MAX_BATCH_GAS`): with the 10 % headroom still under
 * the 2^24 per-transaction cap of EIP-7825 (Osaka, and Hardhat's default chain).
 */
export const DEFAULT_MAX_BATCH_GAS = 12_000_000n

function shortMessage(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage
  return error instanceof Error ? error.message.split('\n')[0]! : String(error)
}

/** The ops root `BatchSettled` carries; an auditor recomputes it the same way from the ops. */
export function computeOpsRoot(ops: ReadonlyArray<{ kind: OpKind; data: `0x${string}` }>): `0x${string}` {
  const leaves = ops.map((op, index) => [BigInt(index), op.kind, keccak256(op.data)])
  return StandardMerkleTree.of(leaves, [...opsLeafEncoding], { sortLeaves: false }).root as `0x${string}`
}

/** The failing op's index and decoded reason from a `SettlementOpFailed` revert, or null. */
function decodeOpFailure(error: unknown): { index: number; reason: string } | null {
  if (!(error instanceof BaseError)) return null
  const reverted = error.walk((cause) => cause instanceof ContractFunctionRevertedError)
  if (
    !(reverted instanceof ContractFunctionRevertedError) ||
    reverted.data?.errorName !== 'SettlementOpFailed'
  ) {
    return null
  }
  const [index, reasonData] = reverted.data.args as readonly [bigint, `0x${string}`]
  let reason: string = reasonData
  try {
    const decoded = decodeErrorResult({ abi: clearhouseVaultAbi, data: reasonData })
    reason = `${decoded.errorName}(${(decoded.args ?? []).map(String).join(', ')})`
  } catch {
    // A token's own revert string or an unknown error: keep the raw data.
  }
  return { index: Number(index), reason }
}
