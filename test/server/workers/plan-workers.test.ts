import { expect } from 'chai'
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts'
import type { PublicClient } from 'viem'
import type { AppContext } from '../../../server/app-context'
import { planWorkers } from '../../../server/workers/start-workers'

const chain: AppContext['chain'] = {
  client: {} as PublicClient,
  deployment: {
    chainId: 31337,
    deployedAt: '2026-01-01T00:00:00.000Z',
    deploymentBlock: 0,
    contracts: { ClearhouseVault: '0x00000000000000000000000000000000000000aa' },
    tokens: [],
  },
}
const key = privateKeyToAccount(generatePrivateKey())
const RPC_URL = 'http://127.0.0.1:8545'

describe('planWorkers: which workers a coordinator process runs, and why not', () => {
  it('runs every worker with a chain and the coordinator key', () => {
    const plan = planWorkers({ chain, coordinatorAccount: key }, { WORKERS_ENABLED: true, RPC_URL })
    for (const state of Object.values(plan)) expect(state).to.deep.equal({ status: 'running', reason: null })
  })

  it('says the settler is not running without COORDINATOR_PRIVATE_KEY, and the rest run', () => {
    const plan = planWorkers({ chain, coordinatorAccount: null }, { WORKERS_ENABLED: true, RPC_URL })
    expect(plan.settler).to.deep.equal({ status: 'not_running', reason: 'no COORDINATOR_PRIVATE_KEY' })
    expect(plan.indexer.status).to.equal('running')
    expect(plan.reconciliation.status).to.equal('running')
  })

  it('says every worker is disabled on purpose when WORKERS_ENABLED=false', () => {
    const plan = planWorkers({ chain, coordinatorAccount: key }, { WORKERS_ENABLED: false, RPC_URL })
    for (const state of Object.values(plan)) {
      expect(state).to.deep.equal({ status: 'disabled', reason: 'WORKERS_ENABLED=false' })
    }
  })

  it('says no chain worker runs without a chain, or without a vault in the deployment; the timers still do', () => {
    const noChain = planWorkers(
      { chain: null, coordinatorAccount: key },
      { WORKERS_ENABLED: true, RPC_URL: undefined },
    )
    expect(noChain.indexer.status).to.equal('not_running')
    expect(noChain.indexer.reason).to.contain('RPC_URL')
    expect(noChain.timers).to.deep.equal({ status: 'running', reason: null })
    const noVault = planWorkers(
      { chain: { ...chain, deployment: { ...chain.deployment, contracts: {} } }, coordinatorAccount: key },
      { WORKERS_ENABLED: true, RPC_URL },
    )
    expect(noVault.settler).to.deep.equal({
      status: 'not_running',
      reason: 'the deployment has no ClearhouseVault',
    })
  })
})
