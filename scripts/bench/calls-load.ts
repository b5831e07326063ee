/**
 * The outside world of `scripts/bench/calls.ts`, forked by it so that the coordinator's process is
 * measured alone: the upstream stub the services call, the callers (keep-alive HTTP, vouchers
 * signed ahead with native libsecp256k1 so the client is not what is measured) and the raw
 * Postgres loop. It talks to its parent only by IPC: a `LoadRequest` in, a `LoadReply` out.
 */
import { randomUUID } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import secp256k1 from 'secp256k1'
import { bytesToHex, hexToBytes, keccak256, toHex, type Hex } from 'viem'
import { formatAmount } from '../../protocol/amounts'
import { nextVoucher, voucherDigest, voucherDomainSeparator } from '../../protocol/channels'
import type { ClearhouseDomain } from '../../protocol/typed-data'

/** One caller as the parent set it up: its key, its API key and its channel's newest state. */
export interface LoadCaller {
  apiKey: string
  privateKey: Hex
  channelId: string
  vaultChannelId: Hex
  domain: ClearhouseDomain
  lastSequence: number
  cumulativeAmount: string
  callChain: Hex
}

export type LoadRequest =
  | {
      type: 'prepare'
      baseUrl: string
      paidServiceId: string
      freeServiceId: string
      priceUnits: string
      decimals: number
      callers: LoadCaller[]
      /** Vouchers to sign ahead per caller: every paid call of the run, warm-up included. */
      vouchersPerCaller: number
    }
  | { type: 'run'; kind: 'paid' | 'unpaid'; callsPerCaller: number }
  | {
      type: 'raw-pg'
      databaseUrl: string
      /** Rows of `bench_raw_channels`, one per client; `price_per_call` base units each call adds. */
      channelIds: string[]
      priceUnits: string
      callsPerClient: number
      warmUp: number
    }
  | { type: 'exit' }

/** What one timed phase measured, as seen by the callers. */
export interface PhaseResult {
  calls: number
  ok: number
  errors: number
  /** The first few failures, status and body. */
  errorSamples: string[]
  seconds: number
  rps: number
  /** CPU this load process used during the phase (user + system seconds). */
  loadCpuSeconds: number
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number }
}

export type LoadReply =
  | { type: 'ready'; upstreamUrl: string }
  | { type: 'prepared'; seconds: number; vouchers: number }
  | { type: 'result'; result: PhaseResult }
  | { type: 'error'; message: string }

interface CallerState {
  caller: LoadCaller
  /** Request bodies of the caller's paid calls, in sequence order. */
  paidBodies: Buffer[]
  /** The next of `paidBodies` to send. */
  nextPaid: number
  /** Unpaid calls sent so far (their inputs count on). */
  unpaidSent: number
  /** A caller whose paid call failed stops: its later vouchers build on a call that was not recorded. */
  isBroken: boolean
}

let target: { baseUrl: URL; paidPath: string; freePath: string } | null = null
let states: CallerState[] = []
// One keep-alive socket per concurrent caller at most: no call ever waits for a connection.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256 })

function reply(message: LoadReply): void {
  process.send!(message)
}

/** The upstream the services point at: `{"echo": input}` for every POST, as small as it can be. */
async function startUpstream(): Promise<string> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      let input: unknown = null
      try {
        input = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { input?: unknown }).input ?? null
      } catch {
        input = null
      }
      const body = JSON.stringify({ echo: input })
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** The call's input: which caller, which of its calls. Small, as a typical RPC-style request. */
function inputOf(caller: number, n: number): { caller: number; n: number } {
  return { caller, n }
}

/** Signs every paid call's voucher ahead, each building on the one before it. */
function prepare(request: Extract<LoadRequest, { type: 'prepare' }>): number {
  const price = BigInt(request.priceUnits)
  target = {
    baseUrl: new URL(request.baseUrl),
    paidPath: `/v1/services/${request.paidServiceId}/invoke`,
    freePath: `/v1/services/${request.freeServiceId}/invoke`,
  }
  states = request.callers.map((caller, index) => {
    const separator = voucherDomainSeparator(caller.domain)
    const privateKey = hexToBytes(caller.privateKey)
    let state = {
      channelId: caller.vaultChannelId,
      lastSequence: BigInt(caller.lastSequence),
      cumulativeAmount: BigInt(caller.cumulativeAmount),
      callChain: caller.callChain,
    }
    const paidBodies: Buffer[] = []
    for (let i = 0; i < request.vouchersPerCaller; i += 1) {
      const input = inputOf(index, Number(state.lastSequence) + 1)
      const { voucher } = nextVoucher(state, { amount: price, input })
      const digest = hexToBytes(voucherDigest(separator, voucher))
      const { signature, recid } = secp256k1.ecdsaSign(digest, privateKey)
      const rsv = new Uint8Array(65)
      rsv.set(signature, 0)
      rsv[64] = 27 + recid
      paidBodies.push(
        Buffer.from(
          JSON.stringify({
            input,
            voucher: {
              sequence: Number(voucher.sequence),
              cumulative_amount: formatAmount(voucher.cumulativeAmount, request.decimals),
              call_chain: voucher.callChain,
              signature: bytesToHex(rsv),
            },
          }),
        ),
      )
      state = {
        channelId: state.channelId,
        lastSequence: voucher.sequence,
        cumulativeAmount: voucher.cumulativeAmount,
        callChain: voucher.callChain,
      }
    }
    return { caller, paidBodies, nextPaid: 0, unpaidSent: 0, isBroken: false }
  })
  return states.length * request.vouchersPerCaller
}

/** One POST over the keep-alive agent: its status and, for a failure only, its body. */
function post(path: string, apiKey: string, body: Buffer): Promise<{ status: number; body: string | null }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: target!.baseUrl.hostname,
        port: target!.baseUrl.port,
        method: 'POST',
        path,
        agent,
        headers: {
          authorization: `Bearer ${apiKey}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        const status = res.statusCode ?? 0
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => {
          if (status !== 200) chunks.push(chunk)
        })
        res.on('end', () =>
          resolve({ status, body: status === 200 ? null : Buffer.concat(chunks).toString('utf8') }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

function summarize(
  latencies: Float64Array,
  count: number,
  seconds: number,
  errors: string[],
  cpu: NodeJS.CpuUsage,
): PhaseResult {
  const sorted = Float64Array.from(latencies.subarray(0, count)).sort()
  const at = (q: number) => (count === 0 ? 0 : sorted[Math.min(count - 1, Math.floor(q * count))]!)
  let sum = 0
  for (const value of sorted) sum += value
  const round = (value: number) => Number(value.toFixed(2))
  const calls = count + errors.length
  return {
    calls,
    ok: count,
    errors: errors.length,
    errorSamples: errors.slice(0, 5),
    seconds: round(seconds),
    rps: round(count / seconds),
    loadCpuSeconds: round((cpu.user + cpu.system) / 1e6),
    latencyMs: {
      p50: round(at(0.5)),
      p90: round(at(0.9)),
      p99: round(at(0.99)),
      max: round(count === 0 ? 0 : sorted[count - 1]!),
      mean: round(count === 0 ? 0 : sum / count),
    },
  }
}

/**
 * Every caller at once, each calling `callsPerCaller` times in a row (a channel's calls are paid
 * in sequence, so a caller never has two in flight). Latency is per call, request to last byte.
 */
async function run(kind: 'paid' | 'unpaid', callsPerCaller: number): Promise<PhaseResult> {
  const latencies = new Float64Array(states.length * callsPerCaller)
  let count = 0
  const errors: string[] = []
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Promise.all(
    states.map(async (state, index) => {
      for (let i = 0; i < callsPerCaller; i += 1) {
        if (kind === 'paid' && state.isBroken) return
        let body: Buffer
        if (kind === 'paid') {
          body = state.paidBodies[state.nextPaid]!
          if (!body) throw new Error(`caller ${index} ran out of signed vouchers`)
          state.nextPaid += 1
        } else {
          state.unpaidSent += 1
          body = Buffer.from(JSON.stringify({ input: inputOf(index, state.unpaidSent) }))
        }
        const callStarted = performance.now()
        const answer = await post(
          kind === 'paid' ? target!.paidPath : target!.freePath,
          state.caller.apiKey,
          body,
        ).catch((error: Error) => ({ status: 0, body: error.message }))
        const elapsed = performance.now() - callStarted
        if (answer.status === 200) {
          latencies[count] = elapsed
          count += 1
        } else {
          errors.push(`${answer.status} ${answer.body?.slice(0, 300)}`)
          if (kind === 'paid') state.isBroken = true
        }
      }
    }),
  )
  return summarize(latencies, count, (performance.now() - started) / 1000, errors, process.cpuUsage(cpu))
}

/**
 * The equivalent of recording each paid call in a transaction of its own, straight on Postgres:
 * one client per caller, each looping BEGIN; advance its channel row; insert the call row; COMMIT
 * (default `synchronous_commit`, so every COMMIT waits for its WAL flush, as the app's would).
 */
async function rawPg(request: Extract<LoadRequest, { type: 'raw-pg' }>): Promise<PhaseResult> {
  const clients = request.channelIds.map(() => new pg.Client({ connectionString: request.databaseUrl }))
  await Promise.all(clients.map((client) => client.connect()))
  const price = BigInt(request.priceUnits)
  const hex32 = (seed: string) => keccak256(toHex(seed))
  const signature = `0x${'ab'.repeat(65)}`
  // Each raw channel goes on from where the previous round left it.
  const { rows } = await clients[0]!.query(
    'SELECT c.id, c.last_sequence::int AS last_sequence FROM bench_raw_channels AS c WHERE c.id = ANY($1::uuid[])',
    [request.channelIds],
  )
  const lastSequences = new Map(rows.map((row) => [row.id as string, row.last_sequence as number]))
  const sequences = request.channelIds.map((id) => lastSequences.get(id) ?? 0)
  const recordOne = async (slot: number) => {
    const client = clients[slot]!
    const channelId = request.channelIds[slot]!
    sequences[slot] += 1
    const sequence = sequences[slot]
    const chain = hex32(`${channelId}:${sequence}`)
    await client.query('BEGIN')
    try {
      const advanced = await client.query(
        `UPDATE bench_raw_channels AS c
            SET last_sequence = $2, cumulative_amount = $3, call_chain = $4, voucher_signature = $5,
                last_call_at = now(), updated_at = now()
          WHERE c.id = $1 AND c.status = 'active' AND c.last_sequence = $2 - 1
            AND c.cumulative_amount = $6 AND $3 <= c.deposit
          RETURNING (c.last_sequence - c.queued_sequence >= c.settlement_interval) AS due`,
        [
          channelId,
          sequence,
          (BigInt(sequence) * price).toString(),
          chain,
          signature,
          (BigInt(sequence - 1) * price).toString(),
        ],
      )
      if (advanced.rowCount !== 1) throw new Error(`raw channel ${channelId} did not advance to ${sequence}`)
      await client.query(
        `INSERT INTO bench_raw_channel_calls (id, channel_id, sequence, amount, cumulative_amount,
           request_hash, response_hash, call_record_hash, call_chain, voucher_signature,
           upstream_status, started_at, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
        [
          randomUUID(),
          channelId,
          sequence,
          price.toString(),
          (BigInt(sequence) * price).toString(),
          chain,
          chain,
          chain,
          chain,
          signature,
          200,
          new Date(),
          1,
        ],
      )
      await client.query('COMMIT')
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    }
  }
  try {
    await Promise.all(
      clients.map(async (_, slot) => {
        for (let i = 0; i < request.warmUp; i += 1) await recordOne(slot)
      }),
    )
    const latencies = new Float64Array(clients.length * request.callsPerClient)
    let count = 0
    const errors: string[] = []
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(
      clients.map(async (_, slot) => {
        for (let i = 0; i < request.callsPerClient; i += 1) {
          const callStarted = performance.now()
          try {
            await recordOne(slot)
            latencies[count] = performance.now() - callStarted
            count += 1
          } catch (error) {
            errors.push((error as Error).message)
            return
          }
        }
      }),
    )
    return summarize(latencies, count, (performance.now() - started) / 1000, errors, process.cpuUsage(cpu))
  } finally {
    await Promise.all(clients.map((client) => client.end().catch(() => undefined)))
  }
}

async function handle(request: LoadRequest): Promise<void> {
  switch (request.type) {
    case 'prepare': {
      const started = performance.now()
      const vouchers = prepare(request)
      reply({ type: 'prepared', seconds: (performance.now() - started) / 1000, vouchers })
      return
    }
    case 'run':
      reply({ type: 'result', result: await run(request.kind, request.callsPerCaller) })
      return
    case 'raw-pg':
      reply({ type: 'result', result: await rawPg(request) })
      return
    case 'exit':
      agent.destroy()
      process.exit(0)
  }
}

async function main(): Promise<void> {
  if (!process.send) throw new Error('calls-load.ts is forked by scripts/bench/calls.ts, not run alone')
  process.on('message', (request: LoadRequest) => {
    handle(request).catch((error: Error) => reply({ type: 'error', message: error.stack ?? error.message }))
  })
  // The parent going away ends the load too.
  process.on('disconnect', () => process.exit(0))
  reply({ type: 'ready', upstreamUrl: await startUpstream() })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
