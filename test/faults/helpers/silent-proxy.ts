import { createConnection, createServer, type Socket } from 'node:net'

/** A TCP proxy in front of the database that can go silent, like a network that drops packets. */
export interface SilentProxy {
  port: number
  /** Stops forwarding in both directions: sockets stay open, bytes are dropped, nothing is refused. */
  silence(): void
  /** Forwards again; connections that lost bytes while silent are cut, as they are corrupt. */
  resume(): void
  close(): Promise<void>
}

/** Listens on a free port of 127.0.0.1 and forwards every connection to `targetPort`. */
export async function startSilentProxy(targetPort: number): Promise<SilentProxy> {
  let silent = false
  const pairs = new Set<{ client: Socket; upstream: Socket; tainted: boolean }>()
  const server = createServer((client) => {
    const pair = {
      client,
      upstream: createConnection({ host: '127.0.0.1', port: targetPort }),
      tainted: false,
    }
    pairs.add(pair)
    const forward = (from: Socket, to: Socket) =>
      from.on('data', (chunk) => {
        if (silent) pair.tainted = true
        else to.write(chunk)
      })
    forward(client, pair.upstream)
    forward(pair.upstream, client)
    const close = () => {
      pairs.delete(pair)
      client.destroy()
      pair.upstream.destroy()
    }
    client.on('error', close).on('close', close)
    pair.upstream.on('error', close).on('close', close)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    port,
    silence() {
      silent = true
    },
    resume() {
      silent = false
      for (const pair of pairs) {
        if (!pair.tainted) continue
        pair.client.destroy()
        pair.upstream.destroy()
      }
    },
    async close() {
      for (const pair of pairs) {
        pair.client.destroy()
        pair.upstream.destroy()
      }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
