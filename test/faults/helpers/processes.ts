import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { createServer } from 'node:net'

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0))
    })
  })
}

/** A child process leading its own process group, with the tail of what it printed. */
export interface GroupProcess {
  child: ChildProcess
  /** The last 64 KiB of stdout and stderr, for failure messages. */
  output(): string
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  stop(graceMs?: number): Promise<void>
}

const OUTPUT_TAIL = 64 * 1024

/**
 * Spawns `command` as the leader of a new process group (`npx` runs the real program as a
 * grandchild), so `stop` reaches every process it started and none outlives the test.
 */
export function spawnGroup(command: string, args: string[], options: SpawnOptions): GroupProcess {
  const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL)
  }
  child.stdout!.on('data', append)
  child.stderr!.on('data', append)
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal)
    } catch (error) {
      // ESRCH: the group is already gone.
      if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error
    }
  }
  return {
    child,
    output: () => output,
    async stop(graceMs = 5_000) {
      if (child.pid === undefined) return
      signalGroup('SIGTERM')
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      // The leader may exit before its grandchildren have: make sure no member of the group is left.
      signalGroup('SIGKILL')
    },
  }
}

/** Polls `probe` every 200 ms until it returns a value other than undefined, or throws with `describe()`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs: number; process?: GroupProcess },
): Promise<T> {
  const deadline = Date.now() + options.timeoutMs
  for (;;) {
    const child = options.process?.child
    if (child && (child.exitCode !== null || child.signalCode !== null)) {
      throw new Error(
        `${what}: the process exited (${child.exitCode ?? child.signalCode})\n${options.process!.output()}`,
      )
    }
    const value = await probe().catch(() => undefined)
    if (value !== undefined) return value
    if (Date.now() > deadline) {
      throw new Error(`${what}: not within ${options.timeoutMs} ms\n${options.process?.output() ?? ''}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

/** A JSON-RPC call over HTTP, as any client of the node makes it. */
export async function rpc<T>(url: string, method: string, params: unknown[] = []): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
  })
  const body = (await res.json()) as { result?: T; error?: { message: string } }
  if (body.error) throw new Error(`${method}: ${body.error.message}`)
  return body.result as T
}
