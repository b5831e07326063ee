import { subtask } from 'hardhat/config'
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from 'hardhat/builtin-tasks/task-names'
import type { HardhatUserConfig } from 'hardhat/types'
import '@nomicfoundation/hardhat-ethers'
import '@nomicfoundation/hardhat-chai-matchers'
import '@nomicfoundation/hardhat-viem'

/** A 0x-prefixed 32-byte hex private key, as DEPLOYER_PRIVATE_KEY must be. */
export const DEPLOYER_KEY_PATTERN = /^0x[0-9a-fA-F]{64}$/

/** Where `--network rpc` deploys when neither DEPLOY_RPC_URL nor RPC_URL is set: a local dev node. */
const DEFAULT_RPC_URL = 'http://127.0.0.1:8545'

/** The compiler version, pinned to the exact `solc` npm package in package.json. */
export const SOLC_VERSION = '0.8.28'

// No machine here reaches the compiler download site, so Hardhat gets the solcjs build that the
// npm `solc` package ships. Refusing any other version keeps a stray pragma from silently
// compiling with a compiler we never tested.
subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }) => {
  if (args.solcVersion !== SOLC_VERSION) {
    throw new Error(`only solc ${SOLC_VERSION} is available offline, asked for ${args.solcVersion}`)
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const solcPackage = require('solc/package.json') as { version: string }
  if (solcPackage.version !== SOLC_VERSION) {
    throw new Error(`npm solc is ${solcPackage.version}, expected ${SOLC_VERSION}`)
  }
  return {
    compilerPath: require.resolve('solc/soljson.js'),
    isSolcJs: true,
    version: SOLC_VERSION,
    longVersion: `${SOLC_VERSION}+commit.7893614a`,
  }
})

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      optimizer: { enabled: true, runs: 200 },
      evmVersion: 'cancun',
      viaIR: false,
      // The vault and its extension share one storage: a test compares their compiled layouts.
      outputSelection: { '*': { '*': ['storageLayout'] } },
    },
  },
  paths: {
    sources: './contracts',
    tests: './test/contracts',
    cache: './cache',
    artifacts: './artifacts',
  },
  networks: {
    hardhat: {
      chainId: 31337,
      // Tests of the trust properties need blocks on demand, not on a timer.
      mining: { auto: true },
    },
    // `npm run deploy -- --network rpc`: any node, chosen by the environment so an operator never
    // edits this file. Without DEPLOYER_PRIVATE_KEY it sends from the node's own unlocked accounts
    // (a dev node); with it, Hardhat signs locally and the node only relays.
    rpc: {
      url: process.env.DEPLOY_RPC_URL || process.env.RPC_URL || DEFAULT_RPC_URL,
      // A malformed key is left out here (Hardhat would refuse to load at all, tests included) and
      // refused by the deploy script, which names the variable.
      accounts: DEPLOYER_KEY_PATTERN.test(process.env.DEPLOYER_PRIVATE_KEY ?? '')
        ? [process.env.DEPLOYER_PRIVATE_KEY!]
        : 'remote',
    },
  },
  mocha: { timeout: 120_000 },
}

export default config
