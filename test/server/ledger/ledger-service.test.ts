import { DEFAULT_PROTOCOL_FEE_BPS } from '../../../server/chain/vault-fees'
import { randomUUID } from 'node:crypto'
import { expect } from 'chai'
import fc from 'fast-check'
import type pg from 'pg'
import { withTransaction } from '../../../server/db/pool'
import { ConflictError } from '../../../server/errors'
import { selectEntrySumsByToken, selectPlatformBalance } from '../../../server/ledger/ledger-queries'
import {
  bookDeposits,
  creditDeposit,
  reverseDeposit,
  feeFor,
  getBalances,
  lockEscrow,
  lockLedgerAgents,
  chainBookingReference,
  findChainBooking,
  getDebt,
  refundEscrow,
  releaseEscrow,
  reverseChainBooking,
  reverseEscrowRelease,
  ruleEscrowInLedger,
  settleEscrowRelease,
  unsettleEscrowRelease,
} from '../../../server/ledger/ledger-service'
import { TEST_USDC, createTestApp } from '../helpers/app'
import { registerAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const USDC = TEST_USDC.address
const OTHER_TOKEN = '0x00000000000000000000000000000000000000dd'

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

describe('ledger service', () => {
  let database: TestDatabase
  let pool: pg.Pool
  let payer: string
  let payee: string

  before(async () => {
    database = await createTestDatabase()
    pool = database.pool
    const { app } = await createTestApp(database)
    payer = (await registerAgent(app)).agent.id
    payee = (await registerAgent(app)).agent.id
  })
  after(async () => {
    await database.drop()
  })

  const tx = <T>(work: (client: pg.PoolClient) => Promise<T>) => withTransaction(pool, work)

  async function freshAgent(): Promise<string> {
    const { app } = await createTestApp(database)
    return (await registerAgent(app)).agent.id
  }

  describe('creditDeposit', () => {
    it('moves the amount from the vault to the agent available balance', async () => {
      const agent = await freshAgent()
      const vaultBefore = await selectPlatformBalance(pool, 'vault', USDC)
      await tx((db) =>
        creditDeposit(db, {
          agentId: agent,
          token: USDC,
          amount: 5_000_000n,
          reference: `d:${randomUUID()}`,
        }),
      )
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({
        available: 5_000_000n,
        escrow: 0n,
        unsettled: 0n,
      })
      expect(await selectPlatformBalance(pool, 'vault', USDC)).to.equal(vaultBefore - 5_000_000n)
    })

    it('is a no-op returning the same transaction id when the reference repeats', async () => {
      const agent = await freshAgent()
      const reference = `d:${randomUUID()}`
      const first = await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 7n, reference }),
      )
      const second = await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 7n, reference }),
      )
      expect(second).to.equal(first)
      expect((await getBalances(pool, agent, USDC)).available).to.equal(7n)
    })

    it('refuses a repeated reference that describes a different movement', async () => {
      const agent = await freshAgent()
      const reference = `d:${randomUUID()}`
      await tx((db) => creditDeposit(db, { agentId: agent, token: USDC, amount: 7n, reference }))
      const error = await rejection(
        tx((db) => creditDeposit(db, { agentId: agent, token: USDC, amount: 8n, reference })),
      )
      expect(error).to.be.instanceOf(ConflictError).with.property('code', 'ledger_reference_reused')
      expect((await getBalances(pool, agent, USDC)).available).to.equal(7n)
    })

    it('keeps balances per token apart and normalises the token address case', async () => {
      const agent = await freshAgent()
      await tx((db) =>
        creditDeposit(db, {
          agentId: agent,
          token: '0x00000000000000000000000000000000000000DD',
          amount: 3n,
          reference: `d:${randomUUID()}`,
        }),
      )
      expect(await getBalances(pool, agent, OTHER_TOKEN)).to.deep.equal({
        available: 3n,
        escrow: 0n,
        unsettled: 0n,
      })
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({ available: 0n, escrow: 0n, unsettled: 0n })
    })

    it('rejects a negative amount before touching the database', async () => {
      const error = await rejection(
        tx((db) =>
          creditDeposit(db, { agentId: payer, token: USDC, amount: -1n, reference: `d:${randomUUID()}` }),
        ),
      )
      expect(error).to.be.instanceOf(RangeError)
    })
  })

  describe('bookDeposits', () => {
    it('books a run of deposits in order as one by one would: debt repaid first, unclaimed held, a repeated reference once', async () => {
      const agent = await freshAgent()
      const other = await freshAgent()
      // 10 credited, 10 locked, then the deposit reversed: the agent owes 10.
      await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 10n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: agent, token: USDC, amount: 10n, reference: `l:${randomUUID()}` }),
      )
      await tx((db) =>
        reverseDeposit(db, { agentId: agent, token: USDC, amount: 10n, reference: `r:${randomUUID()}` }),
      )
      expect(await getDebt(pool, agent, USDC)).to.equal(10n)
      const unclaimedBefore = await selectPlatformBalance(pool, 'unclaimed', USDC)
      const vaultBefore = await selectPlatformBalance(pool, 'vault', USDC)

      const repeated = `d:${randomUUID()}`
      const ids = await tx((db) =>
        bookDeposits(db, [
          { agentId: agent, token: USDC, amount: 6n, reference: repeated },
          { agentId: other, token: OTHER_TOKEN, amount: 5n, reference: `d:${randomUUID()}` },
          { agentId: null, token: USDC, amount: 3n, reference: `u:${randomUUID()}` },
          { agentId: agent, token: USDC, amount: 7n, reference: `d:${randomUUID()}` },
          { agentId: agent, token: USDC, amount: 6n, reference: repeated },
        ]),
      )

      expect(ids).to.have.length(5)
      expect(ids[4], 'the repeated reference is the first posting').to.equal(ids[0])
      expect(new Set(ids).size).to.equal(4)
      // 6 repays 6 of the 10; 7 repays the other 4 and leaves 3 available.
      expect(await getDebt(pool, agent, USDC)).to.equal(0n)
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({
        available: 3n,
        escrow: 10n,
        unsettled: 0n,
      })
      expect((await getBalances(pool, other, OTHER_TOKEN)).available).to.equal(5n)
      expect(await selectPlatformBalance(pool, 'unclaimed', USDC)).to.equal(unclaimedBefore + 3n)
      expect(await selectPlatformBalance(pool, 'vault', USDC)).to.equal(vaultBefore - 16n)
      // The running balance after each entry follows the postings' order.
      const { rows } = await pool.query(
        `SELECT le.balance_after::text AS after FROM ledger_entries AS le
           JOIN ledger_accounts AS la ON la.id = le.account_id
          WHERE la.agent_id = $1 AND la.kind = 'available' AND le.token = $2 ORDER BY le.id`,
        [agent, USDC],
      )
      expect(rows.map((row) => row.after)).to.deep.equal(['10', '0', '3'])
      for (const total of (await selectEntrySumsByToken(pool)).values()) expect(total).to.equal(0n)
    })

    it('books nothing twice when the same run is booked again', async () => {
      const agent = await freshAgent()
      const run = [1n, 2n, 3n].map((amount) => ({
        agentId: agent,
        token: USDC,
        amount,
        reference: `d:${randomUUID()}`,
      }))
      const first = await tx((db) => bookDeposits(db, run))
      const second = await tx((db) => bookDeposits(db, run))
      expect(second).to.deep.equal(first)
      expect((await getBalances(pool, agent, USDC)).available).to.equal(6n)
    })

    it('never deadlocks nor loses a unit when runs credit the same new agents concurrently, in opposite orders', async () => {
      const runOf = (order: string[]) =>
        order.map((agentId) => ({ agentId, token: USDC, amount: 5n, reference: `d:${randomUUID()}` }))
      for (let round = 0; round < 8; round += 1) {
        // New agents each round: their ledger accounts and balance rows are created by the runs.
        const agents = [await freshAgent(), await freshAgent(), await freshAgent()]
        const [a, b, c] = agents as [string, string, string]
        await Promise.all([
          tx((db) => bookDeposits(db, runOf([a, b, c]))),
          tx((db) => bookDeposits(db, runOf([c, b, a]))),
          tx((db) => bookDeposits(db, runOf([b, a, a, c]))),
        ])
        expect((await getBalances(pool, a, USDC)).available).to.equal(20n)
        expect((await getBalances(pool, b, USDC)).available).to.equal(15n)
        expect((await getBalances(pool, c, USDC)).available).to.equal(15n)
      }
    })
  })

  describe('lockEscrow', () => {
    it('moves available to escrow of the payer', async () => {
      const agent = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 100n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: agent, token: USDC, amount: 60n, reference: `l:${randomUUID()}` }),
      )
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({
        available: 40n,
        escrow: 60n,
        unsettled: 0n,
      })
    })

    it('throws insufficient_balance with the balance and requirement, and leaves no trace', async () => {
      const agent = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 10n, reference: `d:${randomUUID()}` }),
      )
      const reference = `l:${randomUUID()}`
      // Commit even after the error, as a careless caller might: nothing may have been written.
      const error = await tx(async (db) =>
        lockEscrow(db, { payerId: agent, token: USDC, amount: 11n, reference }).catch(
          (caught: unknown) => caught,
        ),
      )
      expect(error).to.be.instanceOf(ConflictError).with.property('code', 'insufficient_balance')
      expect((error as ConflictError).details).to.deep.include({
        balance: '10',
        required: '11',
        account: 'available',
      })
      const { rows } = await pool.query('SELECT 1 FROM ledger_transactions WHERE reference = $1', [reference])
      expect(rows).to.have.length(0)
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({
        available: 10n,
        escrow: 0n,
        unsettled: 0n,
      })
    })

    it('lets a zero amount through without entries', async () => {
      const agent = await freshAgent()
      const id = await tx((db) =>
        lockEscrow(db, { payerId: agent, token: USDC, amount: 0n, reference: `l:${randomUUID()}` }),
      )
      const { rows } = await pool.query('SELECT 1 FROM ledger_entries WHERE transaction_id = $1', [id])
      expect(rows).to.have.length(0)
    })
  })

  describe('releaseEscrow', () => {
    it('books the payee amount minus the fee as unsettled and the platform the fee, rounded down', async () => {
      const from = await freshAgent()
      const to = await freshAgent()
      const feesBefore = await selectPlatformBalance(pool, 'fees', USDC)
      await tx((db) =>
        creditDeposit(db, { agentId: from, token: USDC, amount: 1_000_099n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: from, token: USDC, amount: 1_000_099n, reference: `l:${randomUUID()}` }),
      )
      await tx((db) =>
        releaseEscrow(db, {
          payerId: from,
          payeeId: to,
          token: USDC,
          amount: 1_000_099n,
          feeBps: 100,
          reference: `r:${randomUUID()}`,
        }),
      )
      expect(await getBalances(pool, from, USDC)).to.deep.equal({ available: 0n, escrow: 0n, unsettled: 0n })
      // 1_000_099 * 100 / 10_000 = 10_000.99 → 10_000; not spendable until the vault carries it out.
      expect(await getBalances(pool, to, USDC)).to.deep.equal({
        available: 0n,
        escrow: 0n,
        unsettled: 990_099n,
      })
      expect((await selectPlatformBalance(pool, 'fees', USDC)) - feesBefore).to.equal(10_000n)
    })

    it('charges no fee on an amount too small to carry one', async () => {
      const from = await freshAgent()
      const to = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: from, token: USDC, amount: 99n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: from, token: USDC, amount: 99n, reference: `l:${randomUUID()}` }),
      )
      await tx((db) =>
        releaseEscrow(db, {
          payerId: from,
          payeeId: to,
          token: USDC,
          amount: 99n,
          feeBps: DEFAULT_PROTOCOL_FEE_BPS,
          reference: `r:${randomUUID()}`,
        }),
      )
      expect((await getBalances(pool, to, USDC)).unsettled).to.equal(99n)
    })

    it('refuses to release more than is in escrow', async () => {
      const from = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: from, token: USDC, amount: 50n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: from, token: USDC, amount: 20n, reference: `l:${randomUUID()}` }),
      )
      const error = await rejection(
        tx((db) =>
          releaseEscrow(db, {
            payerId: from,
            payeeId: payee,
            token: USDC,
            amount: 21n,
            feeBps: 100,
            reference: `r:${randomUUID()}`,
          }),
        ),
      )
      expect(error).to.be.instanceOf(ConflictError).with.property('code', 'insufficient_balance')
      expect((error as ConflictError).details).to.deep.include({ account: 'escrow' })
    })

    it('does not pay twice when the same release reference is posted twice', async () => {
      const from = await freshAgent()
      const to = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: from, token: USDC, amount: 200n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: from, token: USDC, amount: 200n, reference: `l:${randomUUID()}` }),
      )
      const reference = `r:${randomUUID()}`
      const release = () =>
        tx((db) =>
          releaseEscrow(db, { payerId: from, payeeId: to, token: USDC, amount: 100n, feeBps: 0, reference }),
        )
      const [first, second] = await Promise.all([release(), release()])
      expect(first).to.equal(second)
      expect(await getBalances(pool, from, USDC)).to.deep.equal({
        available: 0n,
        escrow: 100n,
        unsettled: 0n,
      })
      expect((await getBalances(pool, to, USDC)).unsettled).to.equal(100n)
    })
  })

  describe('unsettled credit', () => {
    /** A payer with `amount` in escrow and a payee, fresh. */
    async function escrowed(amount: bigint) {
      const from = await freshAgent()
      const to = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: from, token: USDC, amount, reference: `d:${randomUUID()}` }),
      )
      await tx((db) => lockEscrow(db, { payerId: from, token: USDC, amount, reference: `l:${randomUUID()}` }))
      return { from, to }
    }

    it('makes a booked release spendable once the vault carries it out, repaying debt first', async () => {
      const { from, to } = await escrowed(1_000n)
      await tx((db) =>
        releaseEscrow(db, {
          payerId: from,
          payeeId: to,
          token: USDC,
          amount: 1_000n,
          feeBps: 100,
          reference: `r:${randomUUID()}`,
        }),
      )
      expect(await getBalances(pool, to, USDC)).to.deep.equal({ available: 0n, escrow: 0n, unsettled: 990n })
      await tx((db) =>
        settleEscrowRelease(db, { agentId: to, token: USDC, amount: 990n, reference: `s:${randomUUID()}` }),
      )
      expect(await getBalances(pool, to, USDC)).to.deep.equal({ available: 990n, escrow: 0n, unsettled: 0n })
      // A reorg takes the release back after the payee spent part of it: the rest is debt...
      await tx((db) =>
        lockEscrow(db, { payerId: to, token: USDC, amount: 900n, reference: `l:${randomUUID()}` }),
      )
      await tx((db) =>
        unsettleEscrowRelease(db, { agentId: to, token: USDC, amount: 990n, reference: `u:${randomUUID()}` }),
      )
      expect(await getBalances(pool, to, USDC)).to.deep.equal({
        available: 0n,
        escrow: 900n,
        unsettled: 990n,
      })
      expect(await getDebt(pool, to, USDC)).to.equal(900n)
      // ...repaid first when it lands again.
      await tx((db) =>
        settleEscrowRelease(db, { agentId: to, token: USDC, amount: 990n, reference: `s:${randomUUID()}` }),
      )
      expect(await getBalances(pool, to, USDC)).to.deep.equal({ available: 90n, escrow: 900n, unsettled: 0n })
      expect(await getDebt(pool, to, USDC)).to.equal(0n)
      for (const total of (await selectEntrySumsByToken(pool)).values()) expect(total).to.equal(0n)
    })

    it('refuses to settle more than the payee is owed', async () => {
      const { to } = await escrowed(10n)
      const error = await rejection(
        tx((db) =>
          settleEscrowRelease(db, { agentId: to, token: USDC, amount: 1n, reference: `s:${randomUUID()}` }),
        ),
      )
      expect(error).to.be.instanceOf(ConflictError).with.property('code', 'insufficient_balance')
    })

    it('takes a booked release back into the payer escrow when the chain settles the escrow otherwise, fee included', async () => {
      const { from, to } = await escrowed(1_000n)
      const feesBefore = await selectPlatformBalance(pool, 'fees', USDC)
      const release = { payerId: from, payeeId: to, token: USDC, amount: 1_000n, feeBps: 100 } as const
      await tx((db) => releaseEscrow(db, { ...release, reference: `r:${randomUUID()}` }))
      await tx((db) => reverseEscrowRelease(db, { ...release, reference: `v:${randomUUID()}` }))
      expect(await getBalances(pool, from, USDC)).to.deep.equal({
        available: 0n,
        escrow: 1_000n,
        unsettled: 0n,
      })
      expect(await getBalances(pool, to, USDC)).to.deep.equal({ available: 0n, escrow: 0n, unsettled: 0n })
      expect(await selectPlatformBalance(pool, 'fees', USDC)).to.equal(feesBefore)
    })

    it('splits an escrow as the vault ruled, the resolver fee to the resolver or held unclaimed', async () => {
      for (const withResolver of [true, false]) {
        const { from, to } = await escrowed(1_000n)
        const resolver = withResolver ? await freshAgent() : null
        await tx((db) =>
          ruleEscrowInLedger(db, {
            payerId: from,
            payeeId: to,
            resolverId: resolver,
            token: USDC,
            payeeAmount: 590n,
            payerAmount: 384n,
            fee: 6n,
            resolverFee: 20n,
            reference: `x:${randomUUID()}`,
          }),
        )
        expect(await getBalances(pool, from, USDC)).to.deep.equal({
          available: 384n,
          escrow: 0n,
          unsettled: 0n,
        })
        expect(await getBalances(pool, to, USDC)).to.deep.equal({
          available: 590n,
          escrow: 0n,
          unsettled: 0n,
        })
        if (resolver) expect((await getBalances(pool, resolver, USDC)).available).to.equal(20n)
      }
      for (const total of (await selectEntrySumsByToken(pool)).values()) expect(total).to.equal(0n)
    })

    it('books a chain outcome once per live generation: a reorg undoes it, applying it again books it anew', async () => {
      const { from } = await escrowed(100n)
      const base = `escrow-outcome:${randomUUID()}`
      const book = () =>
        tx(async (db) =>
          refundEscrow(db, {
            payerId: from,
            token: USDC,
            amount: 100n,
            reference: await chainBookingReference(db, base),
          }),
        )
      await book()
      await book()
      expect(await getBalances(pool, from, USDC)).to.deep.equal({
        available: 100n,
        escrow: 0n,
        unsettled: 0n,
      })
      expect((await findChainBooking(pool, base))!.reference).to.equal(`${base}/1`)
      await tx((db) => reverseChainBooking(db, base))
      expect(await getBalances(pool, from, USDC)).to.deep.equal({
        available: 0n,
        escrow: 100n,
        unsettled: 0n,
      })
      expect(await findChainBooking(pool, base)).to.equal(null)
      await tx((db) => reverseChainBooking(db, base))
      await book()
      expect((await findChainBooking(pool, base))!.reference).to.equal(`${base}/2`)
      expect(await getBalances(pool, from, USDC)).to.deep.equal({
        available: 100n,
        escrow: 0n,
        unsettled: 0n,
      })
    })
  })

  describe('refundEscrow', () => {
    it('returns escrow to the payer available balance', async () => {
      const agent = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 30n, reference: `d:${randomUUID()}` }),
      )
      await tx((db) =>
        lockEscrow(db, { payerId: agent, token: USDC, amount: 30n, reference: `l:${randomUUID()}` }),
      )
      await tx((db) =>
        refundEscrow(db, { payerId: agent, token: USDC, amount: 12n, reference: `f:${randomUUID()}` }),
      )
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({
        available: 12n,
        escrow: 18n,
        unsettled: 0n,
      })
    })

    it('refuses to refund more than is in escrow', async () => {
      const agent = await freshAgent()
      const error = await rejection(
        tx((db) =>
          refundEscrow(db, { payerId: agent, token: USDC, amount: 1n, reference: `f:${randomUUID()}` }),
        ),
      )
      expect(error).to.be.instanceOf(ConflictError).with.property('code', 'insufficient_balance')
    })
  })

  describe('fee math', () => {
    it('never creates or loses a unit: fee + payee share = amount, fee = floor(amount * bps / 10000)', () => {
      fc.assert(
        fc.property(
          fc.bigInt({ min: 0n, max: 2n ** 128n }),
          fc.integer({ min: 0, max: 10_000 }),
          (amount, bps) => {
            const fee = feeFor(amount, bps)
            expect(fee).to.equal((amount * BigInt(bps)) / 10_000n)
            expect(fee >= 0n && fee <= amount).to.equal(true)
          },
        ),
      )
    })

    it('rejects a fee outside 0-10000 bps', () => {
      expect(() => feeFor(1n, -1)).to.throw(RangeError)
      expect(() => feeFor(1n, 10_001)).to.throw(RangeError)
      expect(() => feeFor(1n, 1.5)).to.throw(RangeError)
    })
  })

  describe('database guards', () => {
    it('refuses entries that do not sum to zero per transaction and token, from raw SQL', async () => {
      const error = await rejection(
        tx(async (db) => {
          const { rows } = await db.query(`SELECT id FROM ledger_accounts WHERE kind = 'fees'`)
          const id = randomUUID()
          await db.query(
            `INSERT INTO ledger_transactions (id, reference, kind, token, amount) VALUES ($1, $2, 'deposit', $3, 1)`,
            [id, `bad:${id}`, USDC],
          )
          await db.query(
            `INSERT INTO ledger_entries (transaction_id, account_id, token, amount) VALUES ($1, $2, $3, 1)`,
            [id, rows[0].id, USDC],
          )
        }),
      )
      expect(String(error)).to.match(/does not sum to zero/)
    })

    it('refuses a transaction whose entries are split over statements, even when they balance together', async () => {
      const reference = `split:${randomUUID()}`
      const error = await rejection(
        tx(async (db) => {
          const { rows } = await db.query(
            `SELECT id, kind FROM ledger_accounts WHERE kind IN ('fees', 'vault') AND agent_id IS NULL ORDER BY kind`,
          )
          const id = randomUUID()
          await db.query(
            `INSERT INTO ledger_transactions (id, reference, kind, token, amount) VALUES ($1, $2, 'deposit', $3, 1)`,
            [id, reference, USDC],
          )
          for (const [account, amount] of [
            [rows[0].id, 1],
            [rows[1].id, -1],
          ]) {
            await db.query(
              `INSERT INTO ledger_entries (transaction_id, account_id, token, amount) VALUES ($1, $2, $3, $4)`,
              [id, account, USDC, amount],
            )
          }
        }),
      )
      expect(String(error)).to.match(/does not sum to zero/)
      const { rowCount } = await pool.query('SELECT 1 FROM ledger_transactions WHERE reference = $1', [
        reference,
      ])
      expect(rowCount).to.equal(0)
    })

    it('refuses to update or delete a ledger entry', async () => {
      await tx((db) =>
        creditDeposit(db, { agentId: payer, token: USDC, amount: 1n, reference: `d:${randomUUID()}` }),
      )
      expect(String(await rejection(pool.query('UPDATE ledger_entries SET amount = amount * 2')))).to.match(
        /append-only/,
      )
      expect(String(await rejection(pool.query('DELETE FROM ledger_entries')))).to.match(/append-only/)
      expect(String(await rejection(pool.query('DELETE FROM ledger_transactions')))).to.match(/append-only/)
    })

    it('refuses a negative running balance even from raw SQL', async () => {
      const error = await rejection(pool.query('UPDATE ledger_balances SET balance = -1'))
      expect(String(error)).to.match(/check constraint/)
    })
  })

  describe('properties', () => {
    it('keeps every token summing to zero and every running balance equal to its entries after a random mix', async function () {
      this.timeout(120_000)
      const agents = [await freshAgent(), await freshAgent(), await freshAgent()]
      const tokens = [USDC, OTHER_TOKEN] as const
      const operation = fc.record({
        kind: fc.constantFrom('deposit', 'lock', 'release', 'refund'),
        agent: fc.nat({ max: 2 }),
        other: fc.nat({ max: 2 }),
        token: fc.nat({ max: 1 }),
        amount: fc.bigInt({ min: 0n, max: 1_000_000n }),
        feeBps: fc.integer({ min: 0, max: 1_000 }),
      })
      await fc.assert(
        fc.asyncProperty(fc.array(operation, { minLength: 1, maxLength: 25 }), async (operations) => {
          for (const op of operations) {
            const token = tokens[op.token]!
            const reference = `p:${randomUUID()}`
            await tx(async (db) => {
              const payerId = agents[op.agent]!
              if (op.kind === 'deposit')
                return creditDeposit(db, { agentId: payerId, token, amount: op.amount, reference })
              if (op.kind === 'lock') return lockEscrow(db, { payerId, token, amount: op.amount, reference })
              if (op.kind === 'refund')
                return refundEscrow(db, { payerId, token, amount: op.amount, reference })
              return releaseEscrow(db, {
                payerId,
                payeeId: agents[op.other]!,
                token,
                amount: op.amount,
                feeBps: op.feeBps,
                reference,
              })
            }).catch((error: unknown) => {
              if (!(error instanceof ConflictError && error.code === 'insufficient_balance')) throw error
            })
          }
          for (const total of (await selectEntrySumsByToken(pool)).values()) expect(total).to.equal(0n)
          const { rows } = await pool.query(
            `SELECT lb.balance::text AS balance, coalesce(sum(le.amount), 0)::text AS summed
             FROM ledger_balances AS lb
             LEFT JOIN ledger_entries AS le ON le.account_id = lb.account_id AND le.token = lb.token
             GROUP BY lb.account_id, lb.token, lb.balance`,
          )
          for (const row of rows) expect(row.balance).to.equal(row.summed)
        }),
        { numRuns: 15 },
      )
    })
  })

  describe('concurrency', () => {
    it('lets exactly as many of 50 concurrent locks succeed as the balance covers, never overdrawing', async () => {
      const agent = await freshAgent()
      await tx((db) =>
        creditDeposit(db, { agentId: agent, token: USDC, amount: 1_000n, reference: `d:${randomUUID()}` }),
      )
      const outcomes = await Promise.all(
        Array.from({ length: 50 }, () =>
          tx((db) =>
            lockEscrow(db, { payerId: agent, token: USDC, amount: 30n, reference: `l:${randomUUID()}` }),
          ).then(
            () => 'locked',
            (error: unknown) => {
              if (error instanceof ConflictError && error.code === 'insufficient_balance') return 'refused'
              throw error
            },
          ),
        ),
      )
      expect(outcomes.filter((outcome) => outcome === 'locked')).to.have.length(33)
      expect(await getBalances(pool, agent, USDC)).to.deep.equal({
        available: 10n,
        escrow: 990n,
        unsettled: 0n,
      })
    })

    it('does not deadlock when two agents pay each other concurrently, several movements per transaction', async function () {
      this.timeout(60_000)
      const a = await freshAgent()
      const b = await freshAgent()
      for (const agent of [a, b]) {
        await tx((db) =>
          creditDeposit(db, { agentId: agent, token: USDC, amount: 1_000n, reference: `d:${randomUUID()}` }),
        )
        await tx((db) =>
          lockEscrow(db, { payerId: agent, token: USDC, amount: 1_000n, reference: `l:${randomUUID()}` }),
        )
      }
      await Promise.all(
        Array.from({ length: 40 }, (_, index) => {
          const [payerId, payeeId] = index % 2 === 0 ? [a, b] : [b, a]
          return tx(async (db) => {
            // Two movements over two agents in one transaction: without taking every lock up
            // front, this and its mirror image deadlock (one posting orders only its own locks).
            await lockLedgerAgents(db, [payerId, payeeId], USDC)
            await releaseEscrow(db, {
              payerId,
              payeeId,
              token: USDC,
              amount: 10n,
              feeBps: 0,
              reference: `r:${randomUUID()}`,
            })
            await refundEscrow(db, {
              payerId: payeeId,
              token: USDC,
              amount: 5n,
              reference: `f:${randomUUID()}`,
            })
          })
        }),
      )
      const [balanceA, balanceB] = [await getBalances(pool, a, USDC), await getBalances(pool, b, USDC)]
      expect(balanceA).to.deep.equal({ available: 100n, escrow: 1_000n - 200n - 100n, unsettled: 200n })
      expect(balanceB).to.deep.equal(balanceA)
    })

    it('never overdraws or loses a unit under 50 concurrent locks, releases and refunds on one payer', async function () {
      this.timeout(120_000)
      const from = await freshAgent()
      const to = await freshAgent()
      const feesBefore = await selectPlatformBalance(pool, 'fees', USDC)
      const funded = 2_000n
      await tx((db) =>
        creditDeposit(db, { agentId: from, token: USDC, amount: funded, reference: `d:${randomUUID()}` }),
      )
      const locked: bigint[] = []
      await Promise.all(
        Array.from({ length: 50 }, async (_, index) => {
          const amount = BigInt(40 + (index % 7) * 10)
          const lockReference = `l:${randomUUID()}`
          // Every lock is attempted twice at once with one reference: it must happen at most once.
          // One twin may be refused and the other pass later, after a refund freed balance.
          const attempts = await Promise.allSettled([
            tx((db) => lockEscrow(db, { payerId: from, token: USDC, amount, reference: lockReference })),
            tx((db) => lockEscrow(db, { payerId: from, token: USDC, amount, reference: lockReference })),
          ])
          const ids = new Set<string>()
          for (const attempt of attempts) {
            if (attempt.status === 'fulfilled') ids.add(attempt.value)
            else if (!(
              attempt.reason instanceof ConflictError && attempt.reason.code === 'insufficient_balance'
            )) {
              throw attempt.reason
            }
          }
          if (ids.size === 0) return
          expect(ids.size).to.equal(1)
          locked.push(amount)
          const reference = `s:${randomUUID()}`
          if (index % 3 === 0) {
            await tx((db) => refundEscrow(db, { payerId: from, token: USDC, amount, reference }))
          } else if (index % 3 === 1) {
            await tx((db) =>
              releaseEscrow(db, {
                payerId: from,
                payeeId: to,
                token: USDC,
                amount,
                feeBps: DEFAULT_PROTOCOL_FEE_BPS,
                reference,
              }),
            )
          }
        }),
      )
      const payerBalances = await getBalances(pool, from, USDC)
      const payeeBalances = await getBalances(pool, to, USDC)
      const fees = (await selectPlatformBalance(pool, 'fees', USDC)) - feesBefore
      expect(payerBalances.available >= 0n && payerBalances.escrow >= 0n).to.equal(true)
      expect(payerBalances.available + payerBalances.escrow + payeeBalances.unsettled + fees).to.equal(funded)
      expect(locked.length).to.be.greaterThan(10)
      for (const total of (await selectEntrySumsByToken(pool)).values()) expect(total).to.equal(0n)
      const { rows } = await pool.query(
        `SELECT count(*)::int AS n FROM ledger_transactions AS t
         JOIN ledger_entries AS e ON e.transaction_id = t.id
         JOIN ledger_accounts AS a ON a.id = e.account_id
         WHERE t.kind = 'escrow_lock' AND a.agent_id = $1 AND a.kind = 'escrow'`,
        [from],
      )
      expect(rows[0].n).to.equal(locked.length)
    })
  })
})
