import {
  createPublicClient,
  http,
  recoverTypedDataAddress,
  zeroHash,
  type Address,
  type Hex,
  type PublicClient,
  type TypedDataDefinition,
} from 'viem'
import {
  batchTypedData,
  computeOpsRoot,
  decodeSettlementOp,
  recomputeCallChain,
  type SettlementOpRecord,
  type SettlementRecord,
} from '../../protocol/settlements'
import { BPS, clearhouseDomain, type ClearhouseDomain } from '../../protocol/typed-data'
import { clearhouseVaultAbi } from '../../protocol/vault-abi'
import { ClearhouseClient } from '../client'

/**
 * The auditor (`clearhouse audit`): re-verifies every settled batch from the chain and the public
 * settlement records, trusting the coordinator for nothing it can check on-chain. Per batch it
 * checks that the records' ops hash to the ops root the vault's `BatchSettled` log carries (so
 * they are the ops the vault applied), the coordinator's signature over the batch (against the
 * vault's coordinator), every user's signature in every applied op, the skipped ops against the
 * `OpSkipped` logs, the totals the log carries against what the ops move, and each settled
 * channel's call chain: the call records fold into the caller-signed voucher's `callChain`,
 * continuing the chain the channel's previous `ChannelSettled` log left, and their amounts add up
 * to what the voucher settles. Per token, the vault must hold at least what its deposit and
 * withdrawal logs say it owes.
 */

/** How far one `eth_getLogs` reaches; nodes cap ranges, and long histories are read in steps. */
const LOG_RANGE_BLOCKS = 50_000n

export interface AuditOptions {
  /** A JSON-RPC endpoint of the vault's chain. */
  rpcUrl: string
  /** The coordinator's API base, e.g. `http://localhost:3000` (its `/v1/settlements` are read). */
  apiUrl: string
  /** The vault; by default the one the API's `/v1/health` names (its chain id is checked against the node's). */
  vault?: Address
  /** Batches numbered below this are not checked (their logs still seed each channel's history). */
  fromBatch?: number
  /** The first block to read the vault's logs from (its deployment block; 0 reads everything). */
  fromBlock?: bigint
  /** Called after each batch, for a progress bar over long histories. */
  onProgress?: (progress: { batchNumber: number; checked: number; total: number }) => void
}

/** One thing that did not check out: in which batch and op, which check, and why. */
export interface AuditProblem {
  batch: number | null
  op: number | null
  check:
    | 'batch_missing'
    | 'ops_root'
    | 'op_count'
    | 'coordinator_signature'
    | 'user_signature'
    | 'undecodable_op'
    | 'partial_release'
    | 'skipped_ops'
    | 'totals'
    | 'call_chain'
    | 'call_amounts'
    | 'solvency'
    | 'x402_payment'
    | 'chain'
  message: string
}

export interface TokenSolvency {
  token: Address
  /** Σ Deposited + Σ PaidWithAuthorization − Σ Withdrawn − Σ WithdrawalExecuted: what the vault owes its accounts. */
  owed: bigint
  /** The token's `balanceOf(vault)`. */
  held: bigint
  isSolvent: boolean
}

export interface AuditReport {
  chainId: number
  vault: Address
  batchesChecked: number
  opsChecked: number
  signaturesChecked: number
  callsChecked: number
  /** x402 payments: each vault log matched with the API's receipt, both ways. */
  x402PaymentsChecked: number
  tokens: TokenSolvency[]
  problems: AuditProblem[]
  isClean: boolean
}

/** The part of a batch's totals the auditor recomputes from its ops alone. */
const CHECKED_TOTALS = [
  'escrowLocked',
  'escrowToPayees',
  'escrowToPayers',
  'resolverFees',
  'channelFunded',
  'channelSettled',
  'channelRefunded',
  'withdrawn',
  'fees',
] as const
type CheckedTotal = (typeof CHECKED_TOTALS)[number]
type Totals = Map<string, Record<CheckedTotal, bigint>>

const fee = (amount: bigint, bps: number | bigint) => (amount * BigInt(bps)) / BigInt(BPS)

/** Where a log sits in the chain's order. */
interface LogPosition {
  blockNumber: bigint
  logIndex: number
  txHash: Hex
}

/** A channel's settled state as one of its `ChannelSettled` logs leaves it. */
interface ChannelSettledLog extends LogPosition {
  cumulativeAmount: bigint
  amount: bigint
  callChain: Hex
}

/** A channel's deposit as one of its `ChannelFunded` logs leaves it. */
interface ChannelFundedLog extends LogPosition {
  totalDeposit: bigint
}

/** Each channel's logs of one kind, in chain order. */
function byChannel<T extends LogPosition>(
  logs: readonly { args: { channelId: Hex }; blockNumber: bigint; logIndex: number; transactionHash: Hex }[],
  entry: (log: never) => Omit<T, keyof LogPosition>,
): Map<Hex, T[]> {
  const histories = new Map<Hex, T[]>()
  for (const log of logs) {
    const id = log.args.channelId.toLowerCase() as Hex
    const history = histories.get(id) ?? []
    history.push({
      blockNumber: log.blockNumber,
      logIndex: log.logIndex,
      txHash: log.transactionHash,
      ...entry(log as never),
    } as T)
    histories.set(id, history)
  }
  return histories
}

async function readLogs<
  T extends
    | 'BatchSettled'
    | 'OpSkipped'
    | 'ChannelSettled'
    | 'ChannelFunded'
    | 'Deposited'
    | 'PaidWithAuthorization'
    | 'Withdrawn'
    | 'WithdrawalExecuted',
>(client: PublicClient, vault: Address, eventName: T, fromBlock: bigint, toBlock: bigint) {
  const logs = []
  for (let start = fromBlock; start <= toBlock; start += LOG_RANGE_BLOCKS) {
    const end = start + LOG_RANGE_BLOCKS - 1n < toBlock ? start + LOG_RANGE_BLOCKS - 1n : toBlock
    logs.push(
      ...(await client.getContractEvents({
        address: vault,
        abi: clearhouseVaultAbi,
        eventName,
        fromBlock: start,
        toBlock: end,
        strict: true,
      })),
    )
  }
  return logs
}

/** Runs the audit; never throws for a mismatch (those are `problems`), only when the chain or the API cannot be read. */
export async function runAudit(options: AuditOptions): Promise<AuditReport> {
  const api = new ClearhouseClient({ baseUrl: options.apiUrl })
  const client = createPublicClient({ transport: http(options.rpcUrl) }) as PublicClient
  const problems: AuditProblem[] = []
  const chainId = await client.getChainId()
  const health = await api.health()
  const vault = (options.vault ?? health.contracts.ClearhouseVault) as Address | undefined
  if (!vault) throw new Error('the API names no vault (pass one with --vault)')
  if (health.chain_id !== null && health.chain_id !== chainId) {
    problems.push({
      batch: null,
      op: null,
      check: 'chain',
      message: `the API says chain ${health.chain_id}, the node is chain ${chainId}`,
    })
  }
  const domain = clearhouseDomain(chainId, vault.toLowerCase() as Address)
  const head = await client.getBlockNumber()
  const fromBlock = options.fromBlock ?? 0n

  const [settledLogs, skippedLogs, channelSettledLogs, channelFundedLogs] = await Promise.all([
    readLogs(client, vault, 'BatchSettled', fromBlock, head),
    readLogs(client, vault, 'OpSkipped', fromBlock, head),
    readLogs(client, vault, 'ChannelSettled', fromBlock, head),
    readLogs(client, vault, 'ChannelFunded', fromBlock, head),
  ])
  const channelHistory = byChannel<ChannelSettledLog>(
    channelSettledLogs,
    (log: (typeof channelSettledLogs)[number]) => ({
      cumulativeAmount: log.args.cumulativeAmount,
      amount: log.args.amount,
      callChain: log.args.callChain,
    }),
  )
  const fundingHistory = byChannel<ChannelFundedLog>(
    channelFundedLogs,
    (log: (typeof channelFundedLogs)[number]) => ({ totalDeposit: log.args.totalDeposit }),
  )
  const skippedByBatch = new Map<bigint, Set<number>>()
  for (const log of skippedLogs) {
    const set = skippedByBatch.get(log.args.batchNumber) ?? new Set<number>()
    set.add(Number(log.args.index))
    skippedByBatch.set(log.args.batchNumber, set)
  }

  const fromBatch = options.fromBatch ?? 1
  const onChain = settledLogs.filter((log) => Number(log.args.batchNumber) >= fromBatch)
  const records = await fetchRecords(api, fromBatch - 1)
  const counts = { batches: 0, ops: 0, signatures: 0, calls: 0 }
  for (const [position, log] of onChain.entries()) {
    const batchNumber = Number(log.args.batchNumber)
    const record = records.get(batchNumber)
    if (!record) {
      problems.push({
        batch: batchNumber,
        op: null,
        check: 'batch_missing',
        message: `batch ${batchNumber} settled on-chain (tx ${log.transactionHash}) but the API has no record of it`,
      })
      continue
    }
    const context: BatchContext = {
      client,
      domain,
      batchNumber,
      log,
      skipped: skippedByBatch.get(log.args.batchNumber) ?? new Set(),
      channelHistory,
      fundingHistory,
      problems,
      counts,
    }
    await auditBatch(context, record)
    counts.batches += 1
    options.onProgress?.({ batchNumber, checked: position + 1, total: onChain.length })
  }

  const paidLogs = await readLogs(client, vault, 'PaidWithAuthorization', fromBlock, head)
  const x402PaymentsChecked = await checkX402Payments(api, paidLogs, problems)
  const tokens = await checkSolvency(client, vault, fromBlock, head, paidLogs)
  for (const token of tokens) {
    if (!token.isSolvent) {
      problems.push({
        batch: null,
        op: null,
        check: 'solvency',
        message: `the vault holds ${token.held} of token ${token.token} but its logs say it owes ${token.owed} (short ${token.owed - token.held})`,
      })
    }
  }
  return {
    chainId,
    vault: domain.verifyingContract,
    batchesChecked: counts.batches,
    opsChecked: counts.ops,
    signaturesChecked: counts.signatures,
    callsChecked: counts.calls,
    x402PaymentsChecked,
    tokens,
    problems,
    isClean: problems.length === 0,
  }
}

/** Every public settlement record numbered above `after`, by batch number. */
async function fetchRecords(api: ClearhouseClient, after: number): Promise<Map<number, SettlementRecord>> {
  const records = new Map<number, SettlementRecord>()
  let cursor: number | null = after
  while (cursor !== null) {
    const page = await api.settlements.list({ after: cursor, limit: 50 })
    for (const record of page.settlements) records.set(record.batch_number, record)
    cursor = page.next_after
  }
  return records
}

interface BatchContext {
  client: PublicClient
  domain: ClearhouseDomain
  batchNumber: number
  log: {
    args: {
      opsRoot: Hex
      opCount: bigint
      totals: readonly ({ token: Address } & Record<CheckedTotal, bigint>)[]
    }
    blockNumber: bigint
    logIndex: number
    transactionHash: Hex
  }
  skipped: Set<number>
  channelHistory: Map<Hex, ChannelSettledLog[]>
  fundingHistory: Map<Hex, ChannelFundedLog[]>
  problems: AuditProblem[]
  counts: { ops: number; signatures: number; calls: number }
}

async function auditBatch(context: BatchContext, record: SettlementRecord): Promise<void> {
  const { batchNumber, log, problems } = context
  const problem = (check: AuditProblem['check'], message: string, op: number | null = null) =>
    problems.push({ batch: batchNumber, op, check, message })

  const root = computeOpsRoot(record.ops.map((op) => ({ kind: op.kind_code, data: op.data as Hex })))
  if (root !== log.args.opsRoot.toLowerCase()) {
    problem(
      'ops_root',
      `the records' ops hash to ${root}, the vault's BatchSettled log says ${log.args.opsRoot}: the ops are not the ones the vault applied`,
    )
    return
  }
  if (BigInt(record.ops.length) !== log.args.opCount) {
    problem('op_count', `the records list ${record.ops.length} ops, the log says ${log.args.opCount}`)
  }

  const coordinator = await context.client.readContract({
    address: context.domain.verifyingContract,
    abi: clearhouseVaultAbi,
    functionName: 'coordinator',
    blockNumber: log.blockNumber,
  })
  const batchSigner = await recoverTypedDataAddress({
    ...batchTypedData(context.domain, BigInt(batchNumber), root),
    signature: record.coordinator_signature as Hex,
  }).catch(() => null)
  context.counts.signatures += 1
  if (batchSigner?.toLowerCase() !== coordinator.toLowerCase()) {
    problem(
      'coordinator_signature',
      `the batch is signed by ${batchSigner ?? 'nobody'}, not the vault's coordinator ${coordinator}`,
    )
  }

  const recordedSkips = new Set(record.ops.filter((op) => op.status === 'skipped').map((op) => op.index))
  const sameSkips =
    recordedSkips.size === context.skipped.size &&
    [...recordedSkips].every((index) => context.skipped.has(index))
  if (!sameSkips) {
    problem(
      'skipped_ops',
      `the records skip ops [${[...recordedSkips].join(', ')}], the vault's OpSkipped logs [${[...context.skipped].join(', ')}]`,
    )
  }

  const totals: Totals = new Map()
  for (const op of record.ops) {
    context.counts.ops += 1
    if (context.skipped.has(op.index)) continue
    await auditOp(context, op, totals, (check, message) => problem(check, message, op.index))
  }
  compareTotals(context, totals, (message) => problem('totals', message))
}

function addTotal(totals: Totals, token: Address, field: CheckedTotal, amount: bigint): void {
  const key = token.toLowerCase()
  let entry = totals.get(key)
  if (!entry) {
    entry = Object.fromEntries(CHECKED_TOTALS.map((name) => [name, 0n])) as Record<CheckedTotal, bigint>
    totals.set(key, entry)
  }
  entry[field] += amount
}

async function auditOp(
  context: BatchContext,
  op: SettlementOpRecord,
  totals: Totals,
  problem: (check: AuditProblem['check'], message: string) => void,
): Promise<void> {
  let decoded
  try {
    decoded = decodeSettlementOp(context.domain, op.kind_code, op.data as Hex)
  } catch (error) {
    problem('undecodable_op', `op data does not decode as ${op.kind}: ${(error as Error).message}`)
    return
  }
  for (const message of decoded.signedMessages) {
    context.counts.signatures += 1
    const signer = await recoverTypedDataAddress({
      ...(message.typedData as unknown as TypedDataDefinition),
      signature: message.signature,
    }).catch(() => null)
    if (signer?.toLowerCase() !== message.signer.toLowerCase()) {
      problem(
        'user_signature',
        `the ${message.role}'s ${message.typedData.primaryType} is signed by ${signer ?? 'nobody'}, not ${message.signer}`,
      )
    }
  }

  const fields = decoded.fields as Record<string, Record<string, string> & { token?: string }>
  switch (decoded.kind) {
    case 'escrow_lock':
      addTotal(totals, fields.terms!.token as Address, 'escrowLocked', BigInt(fields.terms!.amount!))
      break
    case 'escrow_release': {
      const amount = BigInt(fields.terms!.amount!)
      const feeAmount = fee(amount, Number(fields.terms!.feeBps))
      addTotal(totals, fields.terms!.token as Address, 'escrowToPayees', amount - feeAmount)
      addTotal(totals, fields.terms!.token as Address, 'fees', feeAmount)
      break
    }
    case 'escrow_partial_release': {
      // Only an escrow its payer locked for it (a session's budget) may be settled in part; the
      // vault refuses any other, so an applied one on a job's escrow means a vault that broke the
      // trust property.
      if ((decoded.fields.terms as { partialRelease?: unknown }).partialRelease !== true) {
        problem(
          'partial_release',
          `a partial release of escrow ${decoded.escrowId} whose lock does not allow one`,
        )
      }
      // The fee is on the released part only; the rest goes back to the payer (FeeMath.takeFee).
      const released = BigInt(decoded.fields.amount as string)
      const feeAmount = fee(released, Number(fields.terms!.feeBps))
      const token = fields.terms!.token as Address
      addTotal(totals, token, 'escrowToPayees', released - feeAmount)
      addTotal(totals, token, 'escrowToPayers', BigInt(fields.terms!.amount!) - released)
      addTotal(totals, token, 'fees', feeAmount)
      break
    }
    case 'escrow_refund':
    case 'escrow_reclaim':
      addTotal(totals, fields.terms!.token as Address, 'escrowToPayers', BigInt(fields.terms!.amount!))
      break
    case 'escrow_ruling': {
      const terms = fields.terms!
      const amount = BigInt(terms.amount!)
      const resolverFee = fee(amount, Number(terms.resolverFeeBps))
      const rest = amount - resolverFee
      const payeeGross = fee(rest, Number(decoded.fields.payeeBps))
      const protocolFee = fee(payeeGross, Number(terms.feeBps))
      const token = terms.token as Address
      addTotal(totals, token, 'resolverFees', resolverFee)
      addTotal(totals, token, 'escrowToPayers', rest - payeeGross)
      addTotal(totals, token, 'escrowToPayees', payeeGross - protocolFee)
      addTotal(totals, token, 'fees', protocolFee)
      break
    }
    case 'withdrawal':
      addTotal(totals, fields.withdrawal!.token as Address, 'withdrawn', BigInt(fields.withdrawal!.amount!))
      break
    case 'channel_fund': {
      const config = fields.config as unknown as { token: Address }
      const funded = context.fundingHistory.get(decoded.channelId!.toLowerCase() as Hex) ?? []
      const totalDeposit = BigInt(decoded.fields.totalDeposit as string)
      const own = funded.findIndex(
        (entry) => entry.txHash === context.log.transactionHash && entry.totalDeposit === totalDeposit,
      )
      const previous = own > 0 ? funded[own - 1]! : own === 0 ? null : lastBefore(funded, context.log)
      addTotal(totals, config.token, 'channelFunded', totalDeposit - (previous?.totalDeposit ?? 0n))
      break
    }
    case 'channel_settle':
      auditChannelOp(context, op, decoded.channelId!, totals, problem)
      break
    case 'channel_close': {
      auditChannelOp(context, op, decoded.channelId!, totals, problem)
      const voucher = decoded.fields.finalVoucher as { config: { token: Address }; cumulativeAmount: string }
      addRefund(context, totals, decoded.channelId!, voucher.config.token, BigInt(voucher.cumulativeAmount))
      break
    }
    case 'channel_finalize': {
      const config = decoded.fields.config as { token: Address }
      addRefund(context, totals, decoded.channelId!, config.token, 0n)
      break
    }
    default:
      break
  }
}

/**
 * A channel settlement's call records against the chain: they extend the call chain the channel's
 * previous `ChannelSettled` log left (zero before its first) to the caller-signed voucher's
 * `callChain`, and their amounts add up to what this settlement's log says it paid.
 */
function auditChannelOp(
  context: BatchContext,
  op: SettlementOpRecord,
  channelId: Hex,
  totals: Totals,
  problem: (check: AuditProblem['check'], message: string) => void,
): void {
  const voucher = (op.fields.voucher ?? op.fields.finalVoucher) as {
    config: { token: Address; feeBps: string }
    sequence: string
    cumulativeAmount: string
    callChain: Hex
  }
  const history = context.channelHistory.get(channelId.toLowerCase() as Hex) ?? []
  // The settlement's own log: the one this batch's transaction emitted for the channel.
  const own = history.findIndex(
    (entry) =>
      entry.txHash === context.log.transactionHash &&
      entry.cumulativeAmount === BigInt(voucher.cumulativeAmount),
  )
  const previous = own > 0 ? history[own - 1]! : own === 0 ? null : lastBefore(history, context.log)
  const previousChain = previous?.callChain ?? zeroHash
  const previousCumulative = previous?.cumulativeAmount ?? 0n
  const settles = BigInt(voucher.cumulativeAmount) - previousCumulative
  if (own >= 0) {
    addTotal(totals, voucher.config.token, 'channelSettled', settles)
    addTotal(totals, voucher.config.token, 'fees', fee(settles, Number(voucher.config.feeBps)))
  }
  const records = op.call_records
  if (!records) {
    problem('call_chain', `channel ${channelId}: the records carry no call records for its voucher`)
    return
  }
  if (records.previous_call_chain.toLowerCase() !== previousChain.toLowerCase()) {
    problem(
      'call_chain',
      `channel ${channelId}: the records start from call chain ${records.previous_call_chain}, the chain's previous settlement left ${previousChain}`,
    )
    return
  }
  context.counts.calls += records.calls.length
  const fromSequence = records.calls[0]?.sequence ?? Number(voucher.sequence) + 1
  const chain = recomputeCallChain(channelId, previousChain, fromSequence, records.calls)
  if (chain === null || chain !== voucher.callChain.toLowerCase()) {
    problem(
      'call_chain',
      chain === null
        ? `channel ${channelId}: a call record's hash is not the hash of its fields, or its sequence skips`
        : `channel ${channelId}: the call records chain to ${chain}, the caller signed ${voucher.callChain}`,
    )
    return
  }
  const paid = records.calls.reduce((sum, call) => sum + BigInt(call.amount), 0n)
  if (own >= 0 && paid !== settles) {
    problem(
      'call_amounts',
      `channel ${channelId}: the call records add up to ${paid}, the voucher settles ${settles}`,
    )
  }
}

/**
 * A close returns the deposit less what is settled: the channel's deposit as its last
 * `ChannelFunded` before the batch's log left it, less the larger of `finalAmount` and what its
 * settlements before the batch's log paid.
 */
function addRefund(
  context: BatchContext,
  totals: Totals,
  channelId: Hex,
  token: Address,
  finalAmount: bigint,
): void {
  const id = channelId.toLowerCase() as Hex
  const deposit = lastBefore(context.fundingHistory.get(id) ?? [], context.log)?.totalDeposit ?? 0n
  const settled = lastBefore(context.channelHistory.get(id) ?? [], context.log)?.cumulativeAmount ?? 0n
  addTotal(totals, token, 'channelRefunded', deposit - (finalAmount > settled ? finalAmount : settled))
}

function lastBefore<T extends LogPosition>(
  history: readonly T[],
  log: { blockNumber: bigint; logIndex: number },
) {
  let found: T | null = null
  for (const entry of history) {
    const isBefore =
      entry.blockNumber < log.blockNumber ||
      (entry.blockNumber === log.blockNumber && entry.logIndex < log.logIndex)
    if (isBefore) found = entry
  }
  return found
}

function compareTotals(context: BatchContext, totals: Totals, problem: (message: string) => void): void {
  const logged = new Map(context.log.args.totals.map((entry) => [entry.token.toLowerCase(), entry]))
  const tokens = new Set([...logged.keys(), ...totals.keys()])
  for (const token of tokens) {
    const fromLog = logged.get(token)
    const fromOps = totals.get(token)
    for (const field of CHECKED_TOTALS) {
      const expected = fromOps?.[field] ?? 0n
      const actual = fromLog?.[field] ?? 0n
      if (expected !== actual) {
        problem(`token ${token}: the ops move ${expected} as ${field}, the BatchSettled log says ${actual}`)
      }
    }
  }
}

const erc20BalanceOfAbi = [
  {
    type: 'function',
    name: 'balanceOf',
    stateMutability: 'view',
    inputs: [{ name: 'account', type: 'address' }],
    outputs: [{ name: '', type: 'uint256' }],
  },
] as const

/**
 * Per token the vault ever took: what its logs say it owes against what it holds. `paid` are the
 * `PaidWithAuthorization` logs of the same blocks, already read for the x402 check.
 */
async function checkSolvency(
  client: PublicClient,
  vault: Address,
  fromBlock: bigint,
  head: bigint,
  paid: readonly { args: { token: Address; amount: bigint } }[],
): Promise<TokenSolvency[]> {
  const [deposits, withdrawals, executed] = await Promise.all([
    readLogs(client, vault, 'Deposited', fromBlock, head),
    readLogs(client, vault, 'Withdrawn', fromBlock, head),
    readLogs(client, vault, 'WithdrawalExecuted', fromBlock, head),
  ])
  const owed = new Map<Address, bigint>()
  const add = (token: Address, amount: bigint) => {
    const key = token.toLowerCase() as Address
    owed.set(key, (owed.get(key) ?? 0n) + amount)
  }
  for (const log of deposits) add(log.args.token, log.args.amount)
  for (const log of paid) add(log.args.token, log.args.amount)
  for (const log of withdrawals) add(log.args.token, -log.args.amount)
  for (const log of executed) add(log.args.token, -log.args.amount)
  const report: TokenSolvency[] = []
  for (const [token, amount] of owed) {
    const held = await client.readContract({
      address: token,
      abi: erc20BalanceOfAbi,
      functionName: 'balanceOf',
      args: [vault],
      blockNumber: head,
    })
    report.push({ token, owed: amount, held, isSolvent: held >= amount })
  }
  return report
}

/**
 * Every x402 payment the vault took in (`PaidWithAuthorization`) against the API's receipts, both
 * ways: a log without a receipt is an authorization the coordinator spent for no call it
 * recorded; a receipt without its log is a call it says was paid and was not. Payer, payee, token,
 * nonce and amount must agree. Returns how many logs it checked.
 */
async function checkX402Payments(
  api: ClearhouseClient,
  logs: readonly {
    args: { payer: Address; token: Address; payee: Address; nonce: Hex; amount: bigint }
    transactionHash: Hex
  }[],
  problems: AuditProblem[],
): Promise<number> {
  const receipts = new Map<
    string,
    Awaited<ReturnType<ClearhouseClient['x402']['receipts']>>['receipts'][number]
  >()
  let cursor: string | undefined
  do {
    const page = await api.x402.receipts({ limit: 100, ...(cursor ? { cursor } : {}) })
    for (const receipt of page.receipts) receipts.set(`${receipt.payer}:${receipt.nonce}`, receipt)
    cursor = page.next_cursor ?? undefined
  } while (cursor)
  const problem = (message: string) =>
    problems.push({ batch: null, op: null, check: 'x402_payment', message })
  for (const log of logs) {
    const key = `${log.args.payer.toLowerCase()}:${log.args.nonce.toLowerCase()}`
    const receipt = receipts.get(key)
    receipts.delete(key)
    if (!receipt) {
      problem(
        `the vault took x402 payment ${key} (tx ${log.transactionHash}) for which the API has no receipt`,
      )
      continue
    }
    const agrees =
      receipt.tx_hash === log.transactionHash.toLowerCase() &&
      receipt.payee === log.args.payee.toLowerCase() &&
      receipt.token === log.args.token.toLowerCase() &&
      receipt.amount_base_units === log.args.amount.toString()
    if (!agrees) {
      problem(
        `x402 payment ${key}: the API's receipt ${JSON.stringify(receipt)} differs from the vault's log (tx ${log.transactionHash}, payee ${log.args.payee}, amount ${log.args.amount})`,
      )
    }
  }
  for (const [key, receipt] of receipts) {
    problem(
      `the API has a receipt for x402 payment ${key} (tx ${receipt.tx_hash}) that the vault never logged`,
    )
  }
  return logs.length
}
