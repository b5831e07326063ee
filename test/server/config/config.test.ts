import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { expect } from 'chai'
import { loadConfig } from '../../../server/config'
import { ConfigError } from '../../../server/errors'

const ROOT = path.resolve(__dirname, '../../..')

function runMain(env: Record<string, string>): { status: number | null; stderr: string } {
  const result = spawnSync(process.execPath, ['-r', 'ts-node/register/transpile-only', 'server/main.ts'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      LOG_LEVEL: 'silent',
      PORT: '0',
      WALLET_ENCRYPTION_KEY: '11'.repeat(32),
      ...env,
    },
    encoding: 'utf8',
    timeout: 60_000,
  })
  return { status: result.status, stderr: result.stderr.trim() }
}

describe('configuration', () => {
  it('fills defaults when the environment is empty', () => {
    const config = loadConfig({})
    expect(config.PORT).to.equal(3000)
    expect(config.CONFIRMATIONS).to.equal(0)
    expect(config.DATABASE_URL).to.equal(undefined)
  })

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ DATABASE_URL: '' }).DATABASE_URL).to.equal(undefined)
  })

  for (const [variable, value] of [
    ['PORT', 'eighty'],
    ['DATABASE_URL', 'mysql://x@y/z'],
    ['COORDINATOR_PRIVATE_KEY', '0x1234'],
    ['CONFIRMATIONS', '-1'],
    ['RPC_URL', 'ftp://node'],
    ['LOG_LEVEL', 'loud'],
  ] as const) {
    it(`rejects a malformed ${variable} with a ConfigError naming it`, () => {
      expect(() => loadConfig({ [variable]: value }))
        .to.throw(ConfigError)
        .with.property('message')
        .that.match(new RegExp(`^invalid ${variable}: `))
    })
  }

  describe('TRUST_PROXY', () => {
    it('trusts no proxy by default: the client is the connecting peer', () => {
      expect(loadConfig({}).TRUST_PROXY).to.equal(false)
      expect(loadConfig({ TRUST_PROXY: 'false' }).TRUST_PROXY).to.equal(false)
    })

    it('reads a hop count as a number', () => {
      expect(loadConfig({ TRUST_PROXY: '2' }).TRUST_PROXY).to.equal(2)
    })

    it('reads comma-separated names, addresses and CIDRs as a list, trimmed', () => {
      expect(loadConfig({ TRUST_PROXY: 'loopback, 10.0.0.0/8' }).TRUST_PROXY).to.deep.equal([
        'loopback',
        '10.0.0.0/8',
      ])
      expect(loadConfig({ TRUST_PROXY: ' 192.0.2.7 ,fd00::/8,' }).TRUST_PROXY).to.deep.equal([
        '192.0.2.7',
        'fd00::/8',
      ])
    })

    for (const value of [
      '*',
      'loopback; rm -rf /',
      '10.0.0.1|10.0.0.2',
      'true',
      'proxy.example',
      '10.0.0.0/99',
      ',',
    ]) {
      it(`rejects ${JSON.stringify(value)} with a ConfigError naming TRUST_PROXY`, () => {
        expect(() => loadConfig({ TRUST_PROXY: value }))
          .to.throw(ConfigError)
          .with.property('message')
          .that.match(/^invalid TRUST_PROXY: /)
      })
    }
  })

  describe('SIGNED_REQUEST_MAX_AGE_SECONDS', () => {
    it('defaults to 300 seconds and reads a configured window', () => {
      expect(loadConfig({}).SIGNED_REQUEST_MAX_AGE_SECONDS).to.equal(300)
      expect(loadConfig({ SIGNED_REQUEST_MAX_AGE_SECONDS: '60' }).SIGNED_REQUEST_MAX_AGE_SECONDS).to.equal(60)
    })

    for (const value of ['5', '7200', 'five minutes']) {
      it(`rejects ${JSON.stringify(value)} with a ConfigError naming SIGNED_REQUEST_MAX_AGE_SECONDS`, () => {
        expect(() => loadConfig({ SIGNED_REQUEST_MAX_AGE_SECONDS: value }))
          .to.throw(ConfigError)
          .with.property('message')
          .that.match(/^invalid SIGNED_REQUEST_MAX_AGE_SECONDS: /)
      })
    }
  })

  describe('database timeouts, health bound and leases (issue 11)', () => {
    it('has bounded defaults', () => {
      const config = loadConfig({})
      expect(config.DATABASE_CONNECT_TIMEOUT_MS).to.equal(5_000)
      expect(config.DATABASE_QUERY_TIMEOUT_MS).to.equal(15_000)
      expect(config.DATABASE_STATEMENT_TIMEOUT_MS).to.equal(10_000)
      expect(config.DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS).to.equal(30_000)
      expect(config.HEALTH_TIMEOUT_MS).to.equal(2_000)
      expect(config.IDEMPOTENCY_LEASE_SECONDS).to.equal(30)
      expect(config.SETTLER_LEASE_MS).to.equal(15_000)
    })

    it('reads configured values, 0 turning a database timeout off', () => {
      const config = loadConfig({
        DATABASE_QUERY_TIMEOUT_MS: '0',
        IDEMPOTENCY_LEASE_SECONDS: '5',
        SETTLER_LEASE_MS: '5000',
      })
      expect(config.DATABASE_QUERY_TIMEOUT_MS).to.equal(0)
      expect(config.IDEMPOTENCY_LEASE_SECONDS).to.equal(5)
      expect(config.SETTLER_LEASE_MS).to.equal(5_000)
    })

    for (const [variable, value] of [
      ['DATABASE_CONNECT_TIMEOUT_MS', '-1'],
      ['DATABASE_STATEMENT_TIMEOUT_MS', 'soon'],
      ['HEALTH_TIMEOUT_MS', '0'],
      ['IDEMPOTENCY_LEASE_SECONDS', '0'],
      ['SETTLER_LEASE_MS', '500'],
    ] as const) {
      it(`rejects ${variable}=${value} with a ConfigError naming it`, () => {
        expect(() => loadConfig({ [variable]: value }))
          .to.throw(ConfigError)
          .with.property('message')
          .that.match(new RegExp(`^invalid ${variable}: `))
      })
    }
  })

  it('stops start-up with one line naming DATABASE_URL when the database does not answer', function () {
    this.timeout(60_000)
    const { status, stderr } = runMain({ DATABASE_URL: 'postgres://postgres@127.0.0.1:1/clearhouse' })
    expect(status).to.equal(1)
    expect(stderr.split('\n')).to.have.length(1)
    expect(stderr).to.match(/^clearhouse: invalid DATABASE_URL: cannot connect \(ECONNREFUSED\)$/)
  })

  it('stops start-up with one line naming COORDINATOR_PRIVATE_KEY when it is malformed', function () {
    this.timeout(60_000)
    const { status, stderr } = runMain({ COORDINATOR_PRIVATE_KEY: '0xnot-a-key' })
    expect(status).to.equal(1)
    expect(stderr.split('\n')).to.have.length(1)
    expect(stderr).to.match(/^clearhouse: invalid COORDINATOR_PRIVATE_KEY: /)
  })

  it('stops start-up when the private key is hex but not on the curve', function () {
    this.timeout(60_000)
    const { status, stderr } = runMain({ COORDINATOR_PRIVATE_KEY: `0x${'f'.repeat(64)}` })
    expect(status).to.equal(1)
    expect(stderr).to.match(
      /^clearhouse: invalid COORDINATOR_PRIVATE_KEY: not a valid secp256k1 private key$/,
    )
  })
})
