import type { Hex } from 'viem'
import { OpKind } from '../../../protocol/typed-data'

// The settler sizes and prices its batches from this model instead of asking the node
// (`eth_estimateGas` re-executes a 100-op batch many times: two thirds of the settler's time in
// the bridge benchmark). It is an upper bound: what a batch of these ops uses at most, with the
// accounts it touches cold and storage slots written for the first time.

/**
 * What a `settleBatch` costs whatever its ops: the transaction, the coordinator's signature, the
 * batch number and the ops root. Calibrated with the server tests' batches (every op kind, one op
 * and many, cold accounts): the largest gas used less the ops' bounds was 70,245, for a single
 * escrow release.
 */
export const BATCH_BASE_GAS = 80_000n

/**
 * The most one op adds to its batch besides its calldata, per kind: its signature checks, storage
 * reads and writes (first writes included: a payer's first nonce word, a payee's first balance),
 * transfers and log. From the same calibration, each above the largest marginal cost seen (two
 * escrow locks of cold payers: 64,837 the second; ten withdrawals, three rulings, ten channel
 * fundings...) and at least the bridge benchmark's figures.
 */
export const OP_GAS: Record<OpKind, bigint> = {
  [OpKind.EscrowLock]: 72_000n,
  [OpKind.EscrowRelease]: 65_000n,
  [OpKind.EscrowRefund]: 60_000n,
  [OpKind.EscrowRuling]: 95_000n,
  [OpKind.EscrowReclaim]: 60_000n,
  [OpKind.ChannelFund]: 85_000n,
  [OpKind.ChannelSettle]: 60_000n,
  [OpKind.ChannelClose]: 60_000n,
  [OpKind.ChannelFinalize]: 60_000n,
  [OpKind.Withdrawal]: 75_000n,
  // A release that also credits the payer: one balance write more than EscrowRelease. `npm run
  // bench:gas` measures it at its dearest (its set's first, payee never paid, payer at zero balance):
  // 85,896 per op in a batch of ten, calldata included, against 93,704 modelled with its 544 bytes.
  [OpKind.EscrowPartialRelease]: 85_000n,
}

/** Calldata at its dearest (EIP-2028: 16 gas per non-zero byte), for every byte of an op's data. */
const CALLDATA_GAS_PER_BYTE = 16n

/** The gas one op adds to a batch at most. */
export function opGas(op: { kind: OpKind; data: Hex }): bigint {
  return OP_GAS[op.kind] + CALLDATA_GAS_PER_BYTE * BigInt((op.data.length - 2) / 2)
}

/** The gas a batch of `ops` uses at most. */
export function modelBatchGas(ops: ReadonlyArray<{ kind: OpKind; data: Hex }>): bigint {
  return ops.reduce((total, op) => total + opGas(op), BATCH_BASE_GAS)
}

/** How many of `ops`, from the first, fit a batch of at most `maxGas` by `model` (at least one). */
export function opsWithinGas<Op extends { kind: OpKind; data: Hex }>(
  ops: readonly Op[],
  maxGas: bigint,
  model: (ops: readonly Op[]) => bigint = modelBatchGas,
): number {
  let count = 1
  while (count < ops.length && model(ops.slice(0, count + 1)) <= maxGas) count += 1
  return count
}
