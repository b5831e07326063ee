import { randomUUID } from 'node:crypto'
import type pg from 'pg'
import type { Logger } from 'pino'
import {
  BaseError,
  recoverTypedDataAddress,
  type Account,
  type PublicClient,
  type WalletClient,
  type Address,
  type Hex,
} from 'viem'
import { batchTypedData, computeOpsRoot } from '../../../protocol/settlements'
import { clearhouseDomain, toCompactSignature } from '../../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../../protocol/vault-abi'
import { withTransaction } from '../../db/pool'
import { FatalWorkerError } from '../../errors'
import type { Metrics } from '../../metrics'
import { keepLeaseAlive, releaseLease, tryAcquireLease } from '../../workers/leader'
import { notifyChainOpFailure, type ChainOpFailureHandler } from './chain-op-failures'
import { describeRevert } from './revert-reasons'
import { modelBatchGas, opsWithinGas } from './gas-model'
import { createTransactionSender, type TransactionSender } from './transaction-sender'
import {
  countPendingOps,
  dissolveBatch,
  findInFlightBatch,
  highestBatchNumber,
  insertBatch,
  markBatchConfirmed,
  markBatchSent,
  oldestPendingAgeMs,
  replaceBatchSignature,
  reopenBatch,
  selectDroppedBatches,
  selectBatchOps,
  selectPendingOps,
  type ChainOp,
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
  vault: Address
  /** Send as soon as this many ops wait… */
  maxBatchSize?: number
  /** …or as soon as the oldest has waited this long. */
  maxBatchAgeMs?: number
  /**
   * Most gas one batch transaction may use. Batches are sized to it by the gas model; on the node's
   * estimate instead, a batch estimated above it (or that the node cannot estimate at all, e.g.
   * past a chain's per-transaction gas cap) is split in half.
   */
  maxBatchGas?: bigint
  /**
   * Sizes and prices batches by the gas model (`gas-model.ts`), asking the node for an estimate
   * only for a batch the model puts above `maxBatchGas` (one recorded by an older settler) or once
   * the model proved short (a batch used more than it said, or reverted). False: the node's
   * estimate for every batch. Default true.
   */
  useGasModel?: boolean
  /** The gas model: `modelBatchGas` of `gas-model.ts`; a test may give a short one. */
  modelGas?: (ops: readonly ChainOp[]) => bigint
  /**
   * How long leadership outlives its last renewal (SETTLER_LEASE_MS): after a crash, settlement
   * waits this long for another replica. Renewed every round, during rounds, and before each send.
   */
  leaseTtlMs?: number
  /** What each domain does when one of its ops fails: reverses what the ledger booked ahead of it. */
  failureHandlers?: readonly ChainOpFailureHandler[]
  logger: Logger
  /** Where rounds are counted; tests that do not read them leave it out. */
  metrics?: Pick<Metrics, 'settlerBatches' | 'settlerFailedRounds'>
  /** Points in a round where a test may step in; the coordinator sets none. */
  roundHooks?: SettlerRoundHooks
}

/**
 * Points in a round where a caller may step in. A hook that throws ends the round right there,
 * with nothing after it done: a test stands in for a process that dies at that point.
 */
export interface SettlerRoundHooks {
  /** The batch's transaction is sent and its hash not yet recorded. */
  afterSendBeforeRecord?(batch: { batchNumber: bigint; txHash: Hex }): Promise<void> | void
}

export type SettleResult =
  | { outcome: 'idle' | 'not-leader' | 'waiting' }
  | {
      outcome: 'confirmed'
      batchNumber: bigint
      opCount: number
      txHash: Hex | null
      recovered: boolean
      /** For a batch this settler sent and saw land: the gas it used, and what it was priced at and how. */
      gas?: { used: bigint; budget: bigint; source: 'model' | 'node' }
    }
  | { outcome: 'op-failed'; batchNumber: bigint; failures: Array<{ opId: string; reason: string }> }
  | { outcome: 'split'; batchNumber: bigint; opCount: number; nextBatchSize: number; reason: string }

/** Recorded batches were lost from the chain and the next one cannot be re-sent in order: an operator must look. */
export class SettlementGapError extends FatalWorkerError {
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

/** The settler's key is not the vault's coordinator: nothing it signs can land, so it signs nothing. */
export class CoordinatorKeyMismatchError extends Error {
  override name = 'CoordinatorKeyMismatchError'
  constructor(
    readonly keyAddress: string,
    readonly vaultCoordinator: string,
  ) {
    super(
      `COORDINATOR_PRIVATE_KEY is ${keyAddress}, but the vault's coordinator is ${vaultCoordinator}: settlement waits for the right key`,
    )
  }
}

/**
 * Turns queued chain ops into numbered, coordinator-signed `settleBatch` transactions.
 *
 * Crash safety: a batch is written (number, root, signature, its ops) before anything is sent; at
 * start of every round an unconfirmed batch is first looked up on-chain by `lastBatchNumber()`, so
 * a batch that landed before a crash is recorded, never re-sent, and one that did not land is sent
 * again under the same number (the contract accepts each number once, so a duplicate can only
 * revert). Before sending, the batch is simulated: the vault skips an op that fails and returns
 * the skipped ones with their reasons, which are marked failed, and the rest is batched again, so
 * a batch is sent only when every op in it applies. An op that starts failing between the
 * simulation and the block is skipped on-chain (`OpSkipped`), which the indexer records.
 *
 * Gas: batches are sized and priced by the gas model (`gas-model.ts`), an upper bound per op kind,
 * so the node is not asked to estimate (its estimator re-executes the batch many times); only a
 * batch the model puts over the budget, or every batch once the model fell short, is estimated.
 */
export class Settler {
  private readonly parameters: Required<Omit<SettlerParameters, 'metrics' | 'roundHooks'>>
  private readonly metrics: SettlerParameters['metrics'] | null
  private readonly roundHooks: SettlerRoundHooks
  private readonly holder = randomUUID()
  /** Sends with the coordinator key, queued with every other sender of it in the process (the dev faucet). */
  private readonly sender: TransactionSender
  /** Ops per batch learnt from batches too large to send; never above `maxBatchSize`. */
  private batchSizeCap: number | null = null
  /** Set once a batch priced by the model used more, or reverted: from then on the node estimates. */
  private isGasModelDistrusted = false

  constructor(parameters: SettlerParameters) {
    this.parameters = {
      maxBatchSize: 100,
      maxBatchAgeMs: 2_000,
      maxBatchGas: DEFAULT_MAX_BATCH_GAS,
      leaseTtlMs: DEFAULT_SETTLER_LEASE_MS,
      failureHandlers: [],
      useGasModel: true,
      modelGas: modelBatchGas,
      // An option given as undefined keeps its default.
      ...(Object.fromEntries(
        Object.entries(parameters).filter(([, value]) => value !== undefined),
      ) as SettlerParameters),
    }
    this.sender = createTransactionSender(this.parameters.walletClient, this.parameters.account)
    this.metrics = parameters.metrics ?? null
    this.roundHooks = parameters.roundHooks ?? {}
  }

  /** One round: recover or send at most one batch. */
  async settleOnce(): Promise<SettleResult> {
    const { pool, leaseTtlMs } = this.parameters
    if (!(await tryAcquireLease(pool, SETTLER_LEASE, this.holder, leaseTtlMs)))
      return { outcome: 'not-leader' }
    // A round may outlast a short lease; a live leader must not lose it to a rival mid-round.
    const lease = keepLeaseAlive(pool, SETTLER_LEASE, this.holder, leaseTtlMs)
    try {
      const result = await this.settleRound()
      if ('batchNumber' in result) this.metrics?.settlerBatches.inc({ outcome: result.outcome })
      return result
    } catch (error) {
      this.metrics?.settlerFailedRounds.inc()
      throw error
    } finally {
      lease.stop()
    }
  }

  private async settleRound(): Promise<SettleResult> {
    const { pool } = this.parameters
    // Read once per round: everything below decides against the same view of the vault.
    const coordinator = await this.vaultCoordinator()
    if (coordinator !== this.parameters.account.address.toLowerCase()) {
      throw new CoordinatorKeyMismatchError(this.parameters.account.address, coordinator)
    }
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
      const pendingOps = await selectPendingOps(db, chainId, maxBatchSize)
      if (pendingOps.length === 0) return null
      // As many as the model says fit the gas budget; the rest wait for the next batch.
      const ops = this.isGasModelTrusted()
        ? pendingOps.slice(0, opsWithinGas(pendingOps, this.parameters.maxBatchGas, this.parameters.modelGas))
        : pendingOps
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

  /**
   * Takes a recorded batch to its end in this round: confirms it if it already landed, waits if an
   * earlier send of it is still pending, else signs it again if needed, simulates it, fits it to
   * the gas budget and sends it.
   */
  private async finish(
    prepared: SettlementBatch,
    recovered: boolean,
    lastOnChain: bigint,
  ): Promise<SettleResult> {
    const { pool, chainId } = this.parameters
    const ops = await selectBatchOps(pool, chainId, prepared.batchNumber)
    if (lastOnChain >= prepared.batchNumber) return this.recordLandedBatch(prepared, ops.length, recovered)
    if (await this.isEarlierSendPending(prepared)) return { outcome: 'waiting' }

    const batch = await this.resignIfUnlandable(prepared)
    const args = settleBatchArgs(batch, ops)
    const skipped = await this.simulateBatch(args)
    if (skipped.length > 0) return this.failSkippedOps(batch, ops, skipped)
    const budget = await this.gasBudget(batch, ops, args)
    if ('outcome' in budget) return budget
    return this.sendBatch(batch, ops.length, args, budget, recovered)
  }

  private isGasModelTrusted(): boolean {
    return this.parameters.useGasModel && !this.isGasModelDistrusted
  }

  /**
   * What the batch is sent with: the model's bound when it is trusted and within the budget, with
   * no call to the node; else the node's estimate (or, too large for one transaction, its split).
   */
  private async gasBudget(
    batch: SettlementBatch,
    ops: readonly ChainOp[],
    args: SettleBatchArgs,
  ): Promise<GasBudget | SettleResult> {
    const modelled = this.parameters.modelGas(ops)
    if (this.isGasModelTrusted() && modelled <= this.parameters.maxBatchGas) {
      return { gas: modelled, source: 'model' }
    }
    const estimated = await this.estimateGasOrSplit(batch, ops.length, args)
    return 'outcome' in estimated ? estimated : { gas: estimated.gas, source: 'node' }
  }

  /** A batch priced by the model used more than it said (or reverted): the node estimates from now on. */
  private distrustGasModel(batchNumber: bigint, reason: string): void {
    if (this.isGasModelDistrusted) return
    this.isGasModelDistrusted = true
    this.parameters.logger.warn(
      { batchNumber: batchNumber.toString(), reason },
      'the gas model fell short; asking the node for estimates from now on',
    )
  }

  /** The batch landed (perhaps before a crash): record it, never send it again. */
  private async recordLandedBatch(
    batch: SettlementBatch,
    opCount: number,
    recovered: boolean,
  ): Promise<SettleResult> {
    const { pool, chainId } = this.parameters
    await withTransaction(pool, (db) => markBatchConfirmed(db, chainId, batch.batchNumber, batch.txHash))
    return { outcome: 'confirmed', batchNumber: batch.batchNumber, opCount, txHash: batch.txHash, recovered }
  }

  /** Whether a transaction sent for this batch has no receipt yet while the coordinator has one in the mempool. */
  private async isEarlierSendPending(batch: SettlementBatch): Promise<boolean> {
    if (!batch.txHash) return false
    const receipt = await this.parameters.publicClient
      .getTransactionReceipt({ hash: batch.txHash })
      .catch(() => null)
    return !receipt && (await this.hasPendingTransaction())
  }

  /** The ops the vault would skip if the batch were sent now, each with its index and revert data. */
  private async simulateBatch(args: SettleBatchArgs): Promise<readonly SkippedOp[]> {
    const { publicClient, vault, account } = this.parameters
    const { result: skipped } = await publicClient.simulateContract({
      address: vault,
      abi: clearhouseVaultAbi,
      functionName: 'settleBatch',
      args,
      account,
    })
    return skipped
  }

  /**
   * Dissolves the batch, marking the ops the simulation skipped failed with their reasons and
   * returning the rest to the queue, and runs each failed op's failure handlers in the same
   * transaction, so what the ledger booked ahead of an op is reversed exactly when it fails.
   */
  private async failSkippedOps(
    batch: SettlementBatch,
    ops: readonly ChainOp[],
    skipped: readonly SkippedOp[],
  ): Promise<SettleResult> {
    const { pool, chainId, logger } = this.parameters
    const failed = skipped.map((op) => ({ op: ops[Number(op.index)]!, reason: describeRevert(op.reason) }))
    const failures = failed.map(({ op, reason }) => ({ opId: op.id, reason }))
    await withTransaction(pool, async (db) => {
      await dissolveBatch(db, chainId, batch.batchNumber, failures)
      for (const { op, reason } of failed) {
        await notifyChainOpFailure(db, this.parameters.failureHandlers, { ...op, chainId, reason }, 'failed')
      }
    })
    logger.warn({ batchNumber: batch.batchNumber.toString(), failures }, 'settlement ops failed')
    return { outcome: 'op-failed', batchNumber: batch.batchNumber, failures }
  }

  /** The gas the batch needs, or, when it is too large to send as one transaction, its split. */
  private async estimateGasOrSplit(
    batch: SettlementBatch,
    opCount: number,
    args: SettleBatchArgs,
  ): Promise<{ gas: bigint } | SettleResult> {
    const { publicClient, vault, account, maxBatchGas } = this.parameters
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
      if (opCount === 1) throw error
      return this.split(batch, opCount, `gas estimate failed: ${shortMessage(error)}`)
    }
    if (gas > maxBatchGas && opCount > 1) {
      return this.split(batch, opCount, `needs ${gas} gas, more than ${maxBatchGas}`)
    }
    return { gas }
  }

  /** Sends the batch, records its transaction, and records the outcome its receipt shows. */
  private async sendBatch(
    batch: SettlementBatch,
    opCount: number,
    args: SettleBatchArgs,
    budget: GasBudget,
    recovered: boolean,
  ): Promise<SettleResult> {
    const { pool, chainId, publicClient, vault, logger } = this.parameters
    // Confirmed last thing before sending: a settler that lost the lead (paused longer than the
    // lease) leaves the prepared batch to the new leader rather than race it with the same number.
    if (!(await tryAcquireLease(pool, SETTLER_LEASE, this.holder, this.parameters.leaseTtlMs)))
      return { outcome: 'not-leader' }
    const txHash = await this.sender
      .writeContract({
        address: vault,
        abi: clearhouseVaultAbi,
        functionName: 'settleBatch',
        args,
        gas: batchGasLimit(budget.gas),
      })
      .catch((error: unknown) => {
        // A node that refuses the transaction as priced (too little gas for it) is the model's
        // fault until shown otherwise: the next round asks the node.
        if (budget.source === 'model') {
          this.distrustGasModel(batch.batchNumber, `the node refused it: ${shortMessage(error)}`)
        }
        throw error
      })
    await this.roundHooks.afterSendBeforeRecord?.({ batchNumber: batch.batchNumber, txHash })
    await withTransaction(pool, (db) => markBatchSent(db, chainId, batch.batchNumber, txHash))
    const receipt = await publicClient.waitForTransactionReceipt({ hash: txHash })
    if (receipt.status !== 'success') {
      if (budget.source === 'model') {
        this.distrustGasModel(batch.batchNumber, `the batch reverted with ${receipt.gasUsed} gas used`)
      }
      return this.resolveRevertedSend(batch, opCount, txHash, receipt.blockNumber, recovered)
    }
    await withTransaction(pool, (db) => markBatchConfirmed(db, chainId, batch.batchNumber, txHash))
    if (budget.source === 'model' && receipt.gasUsed > budget.gas) {
      this.distrustGasModel(batch.batchNumber, `used ${receipt.gasUsed} gas, modelled ${budget.gas}`)
    }
    logger.info(
      {
        batchNumber: batch.batchNumber.toString(),
        ops: opCount,
        txHash,
        gasUsed: receipt.gasUsed.toString(),
      },
      'batch settled',
    )
    return {
      outcome: 'confirmed',
      batchNumber: batch.batchNumber,
      opCount,
      txHash,
      recovered,
      gas: { used: receipt.gasUsed, budget: budget.gas, source: budget.source },
    }
  }

  /**
   * The batch's transaction reverted. The number may have been used by an earlier send of this
   * same batch (a node that was behind let it simulate): then it settled, and dissolving it would
   * redo settled work, so it is confirmed. Otherwise it reverted although the simulation passed
   * (out of gas as state moved in between): it is dissolved, and the next round re-simulates the
   * same batch number.
   */
  private async resolveRevertedSend(
    batch: SettlementBatch,
    opCount: number,
    txHash: Hex,
    blockNumber: bigint,
    recovered: boolean,
  ): Promise<SettleResult> {
    const { pool, chainId } = this.parameters
    const settled = await this.lastBatchNumberOnChain(blockNumber)
    if (settled >= batch.batchNumber) {
      await withTransaction(pool, (db) => markBatchConfirmed(db, chainId, batch.batchNumber, null))
      return { outcome: 'confirmed', batchNumber: batch.batchNumber, opCount, txHash, recovered }
    }
    await withTransaction(pool, (db) => dissolveBatch(db, chainId, batch.batchNumber, []))
    return { outcome: 'waiting' }
  }

  private batchSize(): number {
    const { maxBatchSize } = this.parameters
    return this.batchSizeCap === null ? maxBatchSize : Math.min(maxBatchSize, this.batchSizeCap)
  }

  /** Returns a batch too large to send to the queue; from now on this settler batches half as many ops. */
  private async split(batch: SettlementBatch, opCount: number, reason: string): Promise<SettleResult> {
    const { pool, chainId, logger } = this.parameters
    await withTransaction(pool, (db) => dissolveBatch(db, chainId, batch.batchNumber, []))
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
      if (inFlight) await dissolveBatch(db, chainId, inFlight.batchNumber, [])
      await reopenBatch(db, chainId, lowest.batchNumber)
    })
    logger.error(
      { batchNumber: lowest.batchNumber.toString(), dropped: dropped.length, txHash: lowest.txHash },
      'settled batch dropped by a chain reorganisation; sending it again',
    )
    return { ...lowest, status: 'sent' }
  }

  /**
   * A batch signed by a key that is not the vault's coordinator (a start with the wrong
   * COORDINATOR_PRIVATE_KEY, or a coordinator the owner has since replaced) can never land, and
   * sending its stored signature again would wedge settlement for good. The vault's coordinator
   * (this settler's key, checked each round) signs the same number and ops root again; nothing
   * else about the batch changes, and the old signature can never be used.
   */
  private async resignIfUnlandable(batch: SettlementBatch): Promise<SettlementBatch> {
    const { chainId, vault, account, pool, logger } = this.parameters
    const signer = await recoverTypedDataAddress({
      ...batchTypedData(clearhouseDomain(chainId, vault), batch.batchNumber, batch.opsRoot),
      signature: batch.coordinatorSignature,
    }).catch(() => null)
    if (signer?.toLowerCase() === account.address.toLowerCase()) return batch
    const signature = await this.signBatch(batch.batchNumber, batch.opsRoot)
    await withTransaction(pool, (db) => replaceBatchSignature(db, chainId, batch.batchNumber, signature))
    logger.warn(
      { batchNumber: batch.batchNumber.toString(), signedBy: signer, coordinator: account.address },
      'batch was signed by a key that is not the coordinator; signed it again',
    )
    return { ...batch, coordinatorSignature: signature }
  }

  /** The vault's coordinator, lowercase. */
  private async vaultCoordinator(): Promise<string> {
    const coordinator = await this.parameters.publicClient.readContract({
      address: this.parameters.vault,
      abi: clearhouseVaultAbi,
      functionName: 'coordinator',
    })
    return coordinator.toLowerCase()
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

  private async signBatch(batchNumber: bigint, opsRoot: Hex): Promise<Hex> {
    const { account, chainId, vault } = this.parameters
    if (!account.signTypedData) throw new Error('the coordinator account cannot sign typed data')
    return account.signTypedData(batchTypedData(clearhouseDomain(chainId, vault), batchNumber, opsRoot))
  }
}

/** Default of SETTLER_LEASE_MS: how long settlement waits for a crashed leader's lease to lapse. */
export const DEFAULT_SETTLER_LEASE_MS = 15_000

/** The per-transaction gas cap of EIP-7825 (Osaka, and Hardhat's default chain). */
export const TRANSACTION_GAS_CAP = 2n ** 24n

/**
 * The gas limit a batch estimated at `estimate` is sent with. If state moves between the
 * simulation and the block so that an op fails (a user front-runs to spend the balance it needs),
 * the vault applies the batch a second time op by op and skips that op: up to about twice the
 * estimate plus a self-call per op. Sending with room for that makes the batch land either way;
 * a limit is not a price, so a batch that applies at once still pays only what it uses.
 */
export function batchGasLimit(estimate: bigint): bigint {
  const limit = (estimate * 9n) / 4n
  return limit < TRANSACTION_GAS_CAP ? limit : TRANSACTION_GAS_CAP - 1n
}

/**
 * Default gas budget of one batch (`SETTLER_MAX_BATCH_GAS`): sent with room to apply it twice
 * (`batchGasLimit`), it stays under the per-transaction cap.
 */
export const DEFAULT_MAX_BATCH_GAS = 7_000_000n

/** The arguments of `settleBatch` for a batch and its ops, in batch order. */
function settleBatchArgs(batch: SettlementBatch, ops: readonly ChainOp[]) {
  return [
    batch.batchNumber,
    ops.map((op) => ({ kind: op.kind, data: op.data })),
    toCompactSignature(batch.coordinatorSignature),
  ] as const
}

type SettleBatchArgs = ReturnType<typeof settleBatchArgs>

/** The gas a batch is priced at (its limit is `batchGasLimit` of it), and who said so. */
type GasBudget = { gas: bigint; source: 'model' | 'node' }

/** An op the vault's simulation skipped: its index in the batch and the revert data it failed with. */
type SkippedOp = { index: bigint; reason: Hex }

function shortMessage(error: unknown): string {
  if (error instanceof BaseError) return error.shortMessage
  return error instanceof Error ? error.message.split('\n')[0]! : String(error)
}
