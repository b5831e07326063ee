import { spawn, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { loadConfig } from '../../../server/config'
import { startCoordinator, type RunningCoordinator } from '../../../server/coordinator'
import { TEST_USDC, TEST_WALLET_ENCRYPTION_KEY } from '../../server/helpers/app'

export const ROOT = path.resolve(__dirname, '../../..')

/** The environment every fault test's coordinator shares: no chain, no workers, no rate limits in the way. */
export function faultEnvironment(
  databaseUrl: string,
  env: Record<string, string> = {},
): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PORT: '0',
    LOG_LEVEL: process.env.FAULT_LOG_LEVEL ?? 'silent',
    WORKERS_ENABLED: 'false',
    WALLET_ENCRYPTION_KEY: TEST_WALLET_ENCRYPTION_KEY.toString('hex'),
    AUTH_RATE_LIMIT_PER_MINUTE: '100000',
    CHAIN_WRITE_RATE_LIMIT_PER_MINUTE: '100000',
    ...env,
  }
}

/**
 * The coordinator in this process, through the same composition root as `server/main.ts`, over
 * real HTTP. `isDevChain` only turns on the dev faucet, which funds test agents without a chain.
 */
export async function startInProcessCoordinator(
  databaseUrl: string,
  env: Record<string, string> = {},
): Promise<RunningCoordinator> {
  const coordinator = await startCoordinator({
    config: loadConfig(faultEnvironment(databaseUrl, env)),
    isDevChain: true,
  })
  // Without a chain no token is allowlisted; the test token stands in, as in the server tests.
  coordinator.context.tokens = [TEST_USDC]
  return coordinator
}

/** `node server/main.ts` as a child process: what an operator runs, and what kill -9 can hit. */
export interface CoordinatorProcess {
  child: ChildProcess
  url: string
  /** Everything it printed (pino JSON lines on stdout, anything else on stderr). */
  output(): string
  /** Resolves with the exit code or signal once it has exited. */
  exited: Promise<number | string | null>
}

/** Starts `server/main.ts` with `env` and waits for its `coordinator listening` line. */
export async function spawnCoordinator(
  env: Record<string, string>,
  timeoutMs = 60_000,
): Promise<CoordinatorProcess> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', 'server/main.ts'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  const exited = new Promise<number | string | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  )
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Nobody holds a handle on a child that never listened: stop it here, or it outlives the test.
      child.kill('SIGKILL')
      reject(new Error(`coordinator did not start:\n${output}`))
    }, timeoutMs)
    const check = () => {
      const line = output.split('\n').find((entry) => entry.includes('"coordinator listening"'))
      if (!line) return
      clearTimeout(timer)
      child.stdout!.off('data', check)
      resolve(JSON.parse(line).url as string)
    }
    child.stdout!.on('data', check)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`coordinator exited (${code}) before listening:\n${output}`))
    })
  })
  return { child, url, output: () => output, exited }
}

/** Ends a child coordinator still running with SIGKILL and waits for its exit (a test's cleanup). */
export async function killCoordinator(coordinator: CoordinatorProcess | null | undefined): Promise<void> {
  if (!coordinator) return
  if (coordinator.child.exitCode === null && coordinator.child.signalCode === null)
    coordinator.child.kill('SIGKILL')
  await coordinator.exited
}

/** The JSON log lines a child coordinator printed. */
export function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
}
