import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** One POST a webhook receiver got: the raw body (what the signature covers) and its headers. */
export interface ReceivedWebhook {
  rawBody: string
  headers: http.IncomingHttpHeaders
  /** The status the receiver answered. */
  answered: number
}

/** A webhook endpoint on loopback that records what it gets and answers as told. */
export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hooks` */
  url: string
  received: ReceivedWebhook[]
  /** Received and answered 2xx. */
  accepted(): ReceivedWebhook[]
  /** The statuses to answer next, in order; once used up, 200. */
  answers: number[]
  /** Waits until `count` deliveries were accepted. */
  waitForAccepted(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>
  close(): Promise<void>
}

export async function startWebhookReceiver(options: { port?: number } = {}): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = []
  const answers: number[] = []
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const answered = receiver.answers.shift() ?? 200
      received.push({ rawBody: Buffer.concat(chunks).toString('utf8'), headers: req.headers, answered })
      res.statusCode = answered
      res.end(answered < 300 ? 'ok' : 'not now')
    })
  })
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const receiver: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    answers,
    accepted: () => received.filter((entry) => entry.answered < 300),
    async waitForAccepted(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (receiver.accepted().length < count) {
        if (Date.now() > deadline) {
          throw new Error(
            `${receiver.accepted().length} of ${count} webhooks accepted within ${timeoutMs} ms`,
          )
        }
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      return receiver.accepted()
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  return receiver
}
