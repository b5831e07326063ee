/**
 * Gas figures of the Clearhouse vault against one EIP-3009 transfer per paid call.
 * Run with `npm run bench:gas` (`hardhat run scripts/bench/gas.ts`); prints a table and writes bench/gas.json.
 *
 * Every figure is the gasUsed of a whole transaction (21,000 base and calldata included), measured
 * in steady state: balances and channel words already non-zero, as they are for a running
 * marketplace. The batch scenario is 100 channels from 100 distinct callers to 10 providers;
 * the same batch with 100 distinct providers is reported too.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import hre from 'hardhat'
import {
  encodeAbiParameters,
  keccak256,
  maxUint256,
  toHex,
  type Address,
  type Hex,
  type LocalAccount,
} from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import {
  clearhouseDomain,
  clearhouseTypes,
  opDataAbi,
  OpKind,
  toCompactSignature,
  type ClearhouseTypeName,
} from '../../protocol/typed-data'

const USDC = 1_000_000n
const FEE_BPS = 100
const CALLS_PER_SETTLEMENT = [1, 10, 100, 1000] as const

interface ChannelConfig {
  caller: Address
  provider: Address
  token: Address
  feeBps: number
  salt: Hex
}

async function main() {
  const publicClient = await hre.viem.getPublicClient()
  const [deployer, coordinatorWallet, treasury, relayer, ...others] = await hre.viem.getWalletClients()
  const chainId = await publicClient.getChainId()
  // Fixed keys so the run is reproducible; only their signatures are used, never their gas.
  const coordinator = privateKeyToAccount(keccak256(toHex('bench:coordinator')))
  void coordinatorWallet

  const usdc = await hre.viem.deployContract('MockUSDC', [])
  const vault = await hre.viem.deployContract('ClearhouseVault', [
    {
      owner: deployer.account.address,
      coordinator: coordinator.address,
      treasury: treasury.account.address,
      feeBps: FEE_BPS,
      withdrawalDelay: 86_400n,
      challengePeriod: 86_400n,
      adminDelay: 172_800n,
      tokens: [usdc.address],
    },
  ])
  const domain = clearhouseDomain(chainId, vault.address)

  async function gasOf(hash: Hex): Promise<bigint> {
    const receipt = await publicClient.waitForTransactionReceipt({ hash })
    if (receipt.status !== 'success') throw new Error(`transaction ${hash} reverted`)
    return receipt.gasUsed
  }

  async function sign(
    account: LocalAccount,
    primaryType: ClearhouseTypeName,
    message: Record<string, unknown>,
  ) {
    const signature = await account.signTypedData({
      domain,
      types: { [primaryType]: clearhouseTypes[primaryType] } as never,
      primaryType,
      message,
    } as never)
    return toCompactSignature(signature)
  }

  const accountOf = (i: number) => privateKeyToAccount(keccak256(toHex(`bench:account:${i}`)))

  // Funds `account`'s vault balance from the deployer (depositFor), so random keys need no ETH.
  await usdc.write.mint([deployer.account.address, 10n ** 15n])
  await usdc.write.approve([vault.address, maxUint256])
  async function fund(account: Address, amount: bigint) {
    await gasOf(await vault.write.depositFor([usdc.address, amount, account]))
  }

  const rows: Array<[string, bigint | number | string]> = []

  // ---- deposit (steady state: the depositor already has a vault balance)
  await fund(deployer.account.address, USDC)
  const deposit = await gasOf(await vault.write.deposit([usdc.address, USDC]))
  rows.push(['deposit', deposit])

  // ---- escrow lock and release, relayed with the payer's signatures
  const payer = accountOf(0)
  const payee = others[0].account.address
  await fund(payer.address, 1_000n * USDC)
  await fund(payee, USDC)
  await fund(treasury.account.address, USDC)
  const block = await publicClient.getBlock()
  const terms = {
    escrowId: keccak256(toHex('bench:assignment:1')),
    payer: payer.address,
    payee,
    token: usdc.address,
    amount: 100n * USDC,
    resolver: others[1].account.address,
    feeBps: FEE_BPS,
    resolverFeeBps: 200,
    expiry: block.timestamp + 7n * 86_400n,
  }
  const lock = await gasOf(
    await vault.write.lockEscrow([terms, await sign(payer, 'EscrowLock', terms)], {
      account: relayer.account,
    }),
  )
  rows.push(['escrow lock (relayed, payer-signed)', lock])
  const release = await gasOf(
    await vault.write.releaseEscrow(
      [terms.escrowId, await sign(payer, 'EscrowRelease', { escrowId: terms.escrowId })],
      { account: relayer.account },
    ),
  )
  rows.push(['escrow release (relayed, payer-signed)', release])

  // ---- channels: 100 callers, 10 providers (and 100 distinct providers for comparison)
  const providers = Array.from({ length: 100 }, (_, i) => accountOf(10_000 + i).address)
  for (const p of providers) await fund(p, 1n) // providers that were paid before
  let nextSalt = 1n

  async function openChannel(
    caller: LocalAccount,
    provider: Address,
  ): Promise<{ config: ChannelConfig; id: Hex; gas: bigint }> {
    const config: ChannelConfig = {
      caller: caller.address,
      provider,
      token: usdc.address,
      feeBps: FEE_BPS,
      salt: toHex(nextSalt++, { size: 32 }),
    }
    const id = (await vault.read.channelId([config])) as Hex
    const totalDeposit = 1_000n * USDC
    const signature = await sign(caller, 'ChannelFunding', { channelId: id, totalDeposit })
    const gas = await gasOf(
      await vault.write.fundChannel([config, totalDeposit, signature], { account: relayer.account }),
    )
    return { config, id, gas }
  }

  async function voucher(
    caller: LocalAccount,
    channel: { config: ChannelConfig; id: Hex },
    sequence: bigint,
  ) {
    const cumulativeAmount = sequence * 1_234_567n // ~1.23 USDC per settlement period
    const callChain = keccak256(toHex(`bench:calls:${channel.id}:${sequence}`))
    const signature = await sign(caller, 'Voucher', {
      channelId: channel.id,
      sequence,
      cumulativeAmount,
      callChain,
    })
    return { config: channel.config, sequence, cumulativeAmount, callChain, signature }
  }

  async function makeChannels(count: number, providerCount: number, firstCaller: number) {
    const made: Array<{ caller: LocalAccount; config: ChannelConfig; id: Hex; gas: bigint }> = []
    for (let i = 0; i < count; i++) {
      const caller = accountOf(firstCaller + i)
      await fund(caller.address, 1_000n * USDC)
      made.push({ caller, ...(await openChannel(caller, providers[i % providerCount])) })
    }
    return made
  }

  let batchNumber = 0n
  async function settleBatch(
    channels: Array<{ caller: LocalAccount; config: ChannelConfig; id: Hex }>,
    sequence: bigint,
  ) {
    const ops = []
    for (const c of channels) {
      const v = await voucher(c.caller, c, sequence)
      ops.push({
        kind: OpKind.ChannelSettle,
        data: encodeAbiParameters(opDataAbi[OpKind.ChannelSettle], [v]),
      })
    }
    batchNumber += 1n
    const { StandardMerkleTree } = await import('@openzeppelin/merkle-tree')
    const root = StandardMerkleTree.of(
      ops.map((o, i) => [BigInt(i), o.kind, keccak256(o.data)]),
      ['uint256', 'uint8', 'bytes32'],
      { sortLeaves: false },
    ).root as Hex
    const signature = await sign(coordinator, 'Batch', { batchNumber, opsRoot: root })
    return gasOf(await vault.write.settleBatch([batchNumber, ops, signature], { account: relayer.account }))
  }

  // Channel open and a settlement alone.
  const single = await makeChannels(1, 1, 1)
  rows.push(['channel open (relayed, caller-signed)', single[0].gas])
  await gasOf(
    await vault.write.settleChannel([await voucher(single[0].caller, single[0], 1n)], {
      account: relayer.account,
    }),
  )
  const settleAlone = await gasOf(
    await vault.write.settleChannel([await voucher(single[0].caller, single[0], 2n)], {
      account: relayer.account,
    }),
  )
  rows.push(['channel settlement alone (settleChannel)', settleAlone])

  // Batches of K channels (first batch warms the channels; the second is measured).
  const batchGas: Record<string, bigint> = {}
  let firstCaller = 100
  for (const k of [1, 10, 100]) {
    const channels = await makeChannels(k, Math.min(k, 10), firstCaller)
    firstCaller += k
    await settleBatch(channels, 1n)
    batchGas[k] = await settleBatch(channels, 2n)
    rows.push([`batch of ${k} channel settlements (per channel ${Number(batchGas[k]) / k})`, batchGas[k]])
  }
  const distinct = await makeChannels(100, 100, firstCaller)
  await settleBatch(distinct, 1n)
  const batchDistinct = await settleBatch(distinct, 2n)
  rows.push([
    `batch of 100, 100 distinct providers (per channel ${Number(batchDistinct) / 100})`,
    batchDistinct,
  ])

  // ---- one EIP-3009 transferWithAuthorization per paid call, relayed, to a payee with a balance
  const usdcDomain = {
    name: 'USD Coin (mock)',
    version: '1',
    chainId,
    verifyingContract: usdc.address,
  } as const
  const from = accountOf(50_000)
  await usdc.write.mint([from.address, 10n ** 12n])
  await usdc.write.mint([payee, 1n])
  const authorizationTypes = {
    TransferWithAuthorization: [
      { name: 'from', type: 'address' },
      { name: 'to', type: 'address' },
      { name: 'value', type: 'uint256' },
      { name: 'validAfter', type: 'uint256' },
      { name: 'validBefore', type: 'uint256' },
      { name: 'nonce', type: 'bytes32' },
    ],
  } as const
  let eip3009 = 0n
  for (let i = 0; i < 2; i++) {
    const message = {
      from: from.address,
      to: payee,
      value: 12_345n,
      validAfter: 0n,
      validBefore: 2n ** 40n,
      nonce: generatePrivateKey(),
    }
    const signature = await from.signTypedData({
      domain: usdcDomain,
      types: authorizationTypes,
      primaryType: 'TransferWithAuthorization',
      message,
    })
    const r = signature.slice(0, 66) as Hex
    const s = `0x${signature.slice(66, 130)}` as Hex
    const v = parseInt(signature.slice(130, 132), 16)
    eip3009 = await gasOf(
      await usdc.write.transferWithAuthorization(
        [
          message.from,
          message.to,
          message.value,
          message.validAfter,
          message.validBefore,
          message.nonce,
          v,
          r,
          s,
        ],
        { account: relayer.account },
      ),
    )
  }
  rows.push(['EIP-3009 transferWithAuthorization (relayed)', eip3009])

  // ---- per paid call: a channel settled every N calls costs settlement gas / N per call
  const perCallSingle: Record<string, number> = {}
  const perCallBatch100: Record<string, number> = {}
  const perCallBatch100Distinct: Record<string, number> = {}
  for (const n of CALLS_PER_SETTLEMENT) {
    perCallSingle[n] = Math.round(Number(settleAlone) / n)
    perCallBatch100[n] = Math.round(Number(batchGas[100]) / 100 / n)
    perCallBatch100Distinct[n] = Math.round(Number(batchDistinct) / 100 / n)
  }

  const result = {
    note:
      'gasUsed per transaction (base + calldata included), steady state; per_call = settlement gas / N calls; ' +
      'batch100 = 100 channels, 100 callers, 10 providers; batch100_distinct_providers = 100 providers',
    eip3009_transfer: Number(eip3009),
    deposit: Number(deposit),
    escrow_lock: Number(lock),
    escrow_release: Number(release),
    channel_open: Number(single[0].gas),
    channel_settle_single: Number(settleAlone),
    batch_settle: Object.fromEntries(Object.entries(batchGas).map(([k, g]) => [k, Number(g)])),
    batch_settle_per_channel: Object.fromEntries(
      Object.entries(batchGas).map(([k, g]) => [k, Math.round(Number(g) / Number(k))]),
    ),
    batch100_distinct_providers: Number(batchDistinct),
    per_call_single: perCallSingle,
    per_call_batch100: perCallBatch100,
    per_call_batch100_distinct_providers: perCallBatch100Distinct,
    goals_at_n100: {
      single_max: Math.floor(Number(eip3009) / 100),
      single_ok: perCallSingle[100] <= Number(eip3009) / 100,
      batch100_max: Math.floor(Number(eip3009) / 300),
      batch100_ok: perCallBatch100[100] <= Number(eip3009) / 300,
    },
  }

  console.log('\nClearhouse vault gas (gasUsed per transaction)\n')
  for (const [label, gas] of rows) console.log(`${label.padEnd(72)} ${String(gas).padStart(10)}`)
  console.log('\nGas per paid call, settling every N calls')
  console.log(
    `${'N'.padStart(6)} ${'EIP-3009 each'.padStart(14)} ${'channel alone'.padStart(14)} ${'batch of 100'.padStart(14)} ${'batch, 100 providers'.padStart(21)}`,
  )
  for (const n of CALLS_PER_SETTLEMENT) {
    console.log(
      `${String(n).padStart(6)} ${String(eip3009).padStart(14)} ${String(perCallSingle[n]).padStart(14)} ${String(perCallBatch100[n]).padStart(14)} ${String(perCallBatch100Distinct[n]).padStart(21)}`,
    )
  }
  console.log(
    `\nAt N = 100: alone ${perCallSingle[100]} (goal <= ${result.goals_at_n100.single_max}), ` +
      `batch of 100 ${perCallBatch100[100]} (goal <= ${result.goals_at_n100.batch100_max})`,
  )

  const out = path.join(__dirname, '..', '..', 'bench', 'gas.json')
  mkdirSync(path.dirname(out), { recursive: true })
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
