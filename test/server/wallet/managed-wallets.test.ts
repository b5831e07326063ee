import { randomUUID } from 'node:crypto'
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { expect } from 'chai'
import { keccak256, toHex, verifyTypedData } from 'viem'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import { clearhouseDomain, clearhouseTypes } from '../../../protocol/typed-data'
import { loadConfig } from '../../../server/config'
import { ConfigError, ConflictError } from '../../../server/errors'
import {
  decryptPrivateKey,
  encryptPrivateKey,
  resolveWalletEncryptionKey,
  signTypedDataForAgent,
} from '../../../server/wallet/managed-wallets'
import { TEST_WALLET_ENCRYPTION_KEY, createTestApp } from '../helpers/app'
import { registerAgent } from '../helpers/agents'
import { createTestDatabase, type TestDatabase } from '../helpers/database'

const ROOT = path.resolve(__dirname, '../../..')

describe('managed wallets', () => {
  let database: TestDatabase
  before(async () => {
    database = await createTestDatabase()
  })
  after(async () => {
    await database.drop()
  })

  describe('signTypedDataForAgent', () => {
    it("signs the payer's EscrowLock with the managed key, verifiable against the agent's wallet", async () => {
      const { app, context } = await createTestApp(database)
      const payer = await registerAgent(app)
      const payee = await registerAgent(app)
      const vault = '0x0000000000000000000000000000000000000001'
      const message = {
        payer: payer.agent.wallet_address,
        payee: payee.agent.wallet_address,
        token: '0x00000000000000000000000000000000000000cc',
        amount: 5_000_000n,
        resolver: '0x0000000000000000000000000000000000000000',
        feeBps: 100,
        resolverFeeBps: 0,
        expiry: 1_900_000_000n,
        nonce: BigInt(keccak256(toHex(randomUUID()))),
        partialRelease: false,
      } as const
      const typedData = {
        domain: clearhouseDomain(31337, vault),
        types: { EscrowLock: clearhouseTypes.EscrowLock },
        primaryType: 'EscrowLock',
        message,
      } as const
      const signature = await signTypedDataForAgent(database.pool, context, payer.agent.id, typedData)
      expect(
        await verifyTypedData({ ...typedData, address: payer.agent.wallet_address, signature }),
      ).to.equal(true)
      expect(
        await verifyTypedData({ ...typedData, address: payee.agent.wallet_address, signature }),
      ).to.equal(false)
    })

    it('refuses with ConflictError wallet_not_managed for a self-custody agent', async () => {
      const { app, context } = await createTestApp(database)
      const agent = await registerAgent(app, { account: privateKeyToAccount(generatePrivateKey()) })
      const error = await signTypedDataForAgent(database.pool, context, agent.agent.id, {
        domain: clearhouseDomain(31337, '0x0000000000000000000000000000000000000001'),
        types: { EscrowRelease: clearhouseTypes.EscrowRelease },
        primaryType: 'EscrowRelease',
        message: { escrowId: keccak256('0x01') },
      }).catch((caught: unknown) => caught)
      expect(error).to.be.instanceOf(ConflictError).with.property('code', 'wallet_not_managed')
    })

    it('cannot decrypt with a different WALLET_ENCRYPTION_KEY', async () => {
      const { app } = await createTestApp(database)
      const agent = await registerAgent(app)
      const { context: wrongKey } = await createTestApp(database, null, {
        walletEncryptionKey: Buffer.alloc(32, 9),
      })
      const error = await signTypedDataForAgent(database.pool, wrongKey, agent.agent.id, {
        domain: clearhouseDomain(31337, '0x0000000000000000000000000000000000000001'),
        types: { EscrowRelease: clearhouseTypes.EscrowRelease },
        primaryType: 'EscrowRelease',
        message: { escrowId: keccak256('0x01') },
      }).catch((caught: unknown) => caught)
      expect(error).to.be.instanceOf(Error)
    })
  })

  describe('key encryption', () => {
    it('round-trips, uses a fresh IV each time, and binds the ciphertext to the agent id', () => {
      const key = generatePrivateKey()
      const agentId = randomUUID()
      const first = encryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agentId, key)
      const second = encryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agentId, key)
      expect(first).to.not.equal(second)
      expect(first).to.not.include(key.slice(2))
      expect(decryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agentId, first)).to.equal(key)
      expect(() => decryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, randomUUID(), first)).to.throw()
    })

    it('detects a tampered ciphertext', () => {
      const agentId = randomUUID()
      const sealed = encryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agentId, generatePrivateKey())
      const parts = sealed.split('.')
      const body = Buffer.from(parts[3]!, 'base64url')
      body[0] = body[0]! ^ 1
      parts[3] = body.toString('base64url')
      expect(() => decryptPrivateKey(TEST_WALLET_ENCRYPTION_KEY, agentId, parts.join('.'))).to.throw()
    })
  })

  describe('WALLET_ENCRYPTION_KEY', () => {
    it('is read as 32 bytes of hex, with or without 0x', () => {
      expect(resolveWalletEncryptionKey('ab'.repeat(32), false)).to.deep.equal(Buffer.alloc(32, 0xab))
      expect(resolveWalletEncryptionKey(`0x${'cd'.repeat(32)}`, false)).to.deep.equal(Buffer.alloc(32, 0xcd))
    })

    it('falls back to the public dev key only on the embedded dev chain', () => {
      expect(resolveWalletEncryptionKey(undefined, true)).to.have.length(32)
      expect(() => resolveWalletEncryptionKey(undefined, false))
        .to.throw(ConfigError)
        .with.property('message')
        .that.match(/^invalid WALLET_ENCRYPTION_KEY: /)
    })

    it('rejects a malformed key with a ConfigError naming it', () => {
      expect(() => loadConfig({ WALLET_ENCRYPTION_KEY: 'abc' }))
        .to.throw(ConfigError)
        .with.property('message')
        .that.match(/^invalid WALLET_ENCRYPTION_KEY: /)
    })

    it('stops a configured deployment without it, in one line, before touching the database', function () {
      this.timeout(60_000)
      const result = spawnSync(
        process.execPath,
        ['-r', 'ts-node/register/transpile-only', 'server/main.ts'],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            LOG_LEVEL: 'silent',
            PORT: '0',
            DATABASE_URL: 'postgres://postgres@127.0.0.1:1/x',
          },
          encoding: 'utf8',
          timeout: 60_000,
        },
      )
      expect(result.status).to.equal(1)
      expect(result.stderr.trim()).to.equal(
        'clearhouse: invalid WALLET_ENCRYPTION_KEY: required outside the embedded dev chain (32 bytes of hex)',
      )
    })
  })
})
