import http from 'node:http'
import type { AddressInfo, LookupFunction } from 'node:net'
import { isIP } from 'node:net'
import { expect } from 'chai'
import {
  ForbiddenDestinationError,
  OutboundHttpClient,
  UpstreamFailedError,
  UpstreamResponseTooLargeError,
  UpstreamTimeoutError,
  addressRange,
  isAllowedAddress,
  type OutboundRequest,
} from '../../../server/outbound/outbound-http'

const LOOPBACK_DEV = { allowLoopbackHttp: true }
const PUBLIC_ONLY = { allowLoopbackHttp: false }
const MAX_BYTES = 1_000

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

/** A resolver answering from a table, recording the names asked, as `dns.lookup` would. */
function tableLookup(table: Record<string, string[]>): { lookup: LookupFunction; askedNames: string[] } {
  const askedNames: string[] = []
  const lookup: LookupFunction = (hostname, options, callback) => {
    askedNames.push(hostname)
    const addresses = (table[hostname] ?? []).map((address) => ({ address, family: isIP(address) }))
    if (addresses.length === 0) {
      const notFound: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`)
      notFound.code = 'ENOTFOUND'
      return setImmediate(() => callback(notFound, ''))
    }
    setImmediate(() =>
      options.all ? callback(null, addresses) : callback(null, addresses[0].address, addresses[0].family),
    )
  }
  return { lookup, askedNames }
}

function listen(handler: http.RequestListener): Promise<{ server: http.Server; origin: string }> {
  const server = http.createServer(handler)
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({ server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  )
}

function stop(server: http.Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

function readRequestBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

describe('OutboundHttpClient', () => {
  let provider: http.Server
  let origin: string
  let otherProvider: http.Server
  let otherOrigin: string
  let connectionCount = 0
  /** Set by /endless when the client hung up on it. */
  let endlessStreamClosedAt: number | undefined

  before(async () => {
    ;({ server: otherProvider, origin: otherOrigin } = await listen(async (request, response) => {
      response.setHeader('content-type', 'application/json')
      response.end(JSON.stringify({ path: request.url, headers: request.headers }))
    }))

    ;({ server: provider, origin } = await listen(async (request, response) => {
      const url = new URL(request.url ?? '/', 'http://provider')
      const body = await readRequestBody(request)
      const redirectTo = (status: number, location: string): void => {
        response.writeHead(status, { location })
        response.end('redirect body that is never read')
      }
      switch (url.pathname) {
        case '/echo':
          response.setHeader('content-type', 'application/json; charset=utf-8')
          return response.end(
            JSON.stringify({
              method: request.method,
              headers: request.headers,
              body: body === '' ? null : body,
            }),
          )
        case '/text':
          response.setHeader('content-type', 'text/plain')
          return response.end('{"looks":"like json"}')
        case '/redirect':
          return redirectTo(Number(url.searchParams.get('status')), url.searchParams.get('to') ?? '/echo')
        case '/loop':
          return redirectTo(302, '/loop')
        case '/slow':
          setTimeout(() => response.end('{}'), 3_000).unref()
          return
        case '/stall-body':
          response.writeHead(200, { 'content-type': 'application/json' })
          response.write('{"partial":')
          return
        case '/sized':
          response.setHeader('content-type', 'application/octet-stream')
          return response.end(Buffer.alloc(Number(url.searchParams.get('bytes')), 'a'))
        case '/chunked': {
          // Two writes and no content-length: the size is only known by counting.
          const bytes = Number(url.searchParams.get('bytes'))
          response.writeHead(200, { 'content-type': 'application/octet-stream' })
          response.write(Buffer.alloc(Math.floor(bytes / 2), 'a'))
          return response.end(Buffer.alloc(bytes - Math.floor(bytes / 2), 'b'))
        }
        case '/endless': {
          endlessStreamClosedAt = undefined
          response.writeHead(200, { 'content-type': 'application/octet-stream' })
          const writer = setInterval(() => response.write(Buffer.alloc(512, 'x')), 5)
          response.on('close', () => {
            clearInterval(writer)
            endlessStreamClosedAt = Date.now()
          })
          return
        }
        default:
          response.statusCode = 404
          return response.end()
      }
    }))
    provider.on('connection', () => connectionCount++)
  })

  after(async () => {
    await stop(provider)
    await stop(otherProvider)
  })

  let client: OutboundHttpClient
  beforeEach(() => {
    client = new OutboundHttpClient(LOOPBACK_DEV)
  })
  afterEach(() => client.close())

  function post(
    overrides: Partial<OutboundRequest> & { url: string },
  ): ReturnType<OutboundHttpClient['post']> {
    return client.post({ body: { job: 'j-1' }, timeoutMs: 2_000, maxResponseBytes: MAX_BYTES, ...overrides })
  }

  describe('a JSON POST with the loopback allowance', () => {
    it('sends the body as JSON and returns the status, headers, body and parsed JSON', async () => {
      const response = await post({ url: `${origin}/echo`, body: { job: 'j-1', amount: '5' } })
      expect(response.status).to.equal(200)
      expect(response.headers['content-type']).to.equal('application/json; charset=utf-8')
      const echoed = response.json as { method: string; body: string }
      expect(echoed.method).to.equal('POST')
      expect(JSON.parse(echoed.body)).to.deep.equal({ job: 'j-1', amount: '5' })
      expect(JSON.parse(response.body.toString('utf8'))).to.deep.equal(echoed)
      expect(response.durationMs).to.be.a('number').that.is.at.least(0)
    })

    it('sends the JSON headers and caller headers, but never credentials or framing headers', async () => {
      const response = await post({
        url: `${origin}/echo`,
        headers: {
          'X-Request-Id': 'r-1',
          Authorization: 'Bearer caller-token',
          cookie: 'session=1',
          'content-type': 'text/plain',
          'Content-Length': '1',
          host: 'internal.example',
        },
      })
      const { headers } = response.json as { headers: Record<string, string> }
      expect(headers['content-type']).to.equal('application/json')
      expect(headers.accept).to.equal('application/json')
      expect(headers['user-agent']).to.equal('clearhouse-invoke-proxy')
      expect(headers['x-request-id']).to.equal('r-1')
      expect(headers).to.not.have.property('authorization')
      expect(headers).to.not.have.property('cookie')
      expect(headers.host).to.equal(new URL(origin).host)
      expect(headers['content-length']).to.equal(String(Buffer.byteLength('{"job":"j-1"}')))
    })

    it('sends an undefined body as null', async () => {
      const response = await post({ url: `${origin}/echo`, body: undefined })
      expect((response.json as { body: string }).body).to.equal('null')
    })

    it('leaves json undefined when the content type is not JSON', async () => {
      const response = await post({ url: `${origin}/text` })
      expect(response.json).to.equal(undefined)
      expect(response.body.toString('utf8')).to.equal('{"looks":"like json"}')
    })

    it('reuses one kept-alive connection across calls', async () => {
      const before = connectionCount
      for (let call = 0; call < 5; call++) await post({ url: `${origin}/echo` })
      expect(connectionCount - before).to.equal(1)
    })

    it('close destroys the pooled sockets and refuses further calls', async () => {
      await post({ url: `${origin}/echo` })
      const connections = await new Promise<number>((resolve) =>
        provider.getConnections((_, count) => resolve(count)),
      )
      expect(connections).to.be.greaterThan(0)
      client.close()
      await new Promise((resolve) => setTimeout(resolve, 50))
      const after = await new Promise<number>((resolve) =>
        provider.getConnections((_, count) => resolve(count)),
      )
      expect(after).to.equal(0)
      await rejection(post({ url: `${origin}/echo` }))
    })
  })

  describe('destinations refused before connecting', () => {
    async function expectForbidden(
      url: string,
      reason: string,
      policyClient: OutboundHttpClient = client,
    ): Promise<ForbiddenDestinationError> {
      const error = await rejection(
        policyClient.post({ url, body: {}, timeoutMs: 2_000, maxResponseBytes: MAX_BYTES }),
      )
      expect(error, url).to.be.instanceOf(ForbiddenDestinationError)
      expect((error as ForbiddenDestinationError).reason, url).to.equal(reason)
      return error as ForbiddenDestinationError
    }

    let publicOnly: OutboundHttpClient
    beforeEach(() => {
      publicOnly = new OutboundHttpClient(PUBLIC_ONLY)
    })
    afterEach(() => publicOnly.close())

    it('refuses loopback without the loopback allowance, over http or https', async () => {
      const before = connectionCount
      await expectForbidden(`${origin}/echo`, 'forbidden_address', publicOnly)
      await expectForbidden(`https://127.0.0.1:${new URL(origin).port}/echo`, 'forbidden_address', publicOnly)
      await expectForbidden('https://[::1]/', 'forbidden_address', publicOnly)
      expect(connectionCount).to.equal(before)
    })

    it('refuses plain http to anything but loopback', async () => {
      await expectForbidden('http://8.8.8.8/', 'insecure_scheme')
      await expectForbidden('http://provider.example/', 'insecure_scheme')
      await expectForbidden('http://8.8.8.8/', 'insecure_scheme', publicOnly)
      await expectForbidden('http://provider.example/', 'insecure_scheme', publicOnly)
    })

    it('refuses schemes other than http and https, and strings that are not URLs', async () => {
      await expectForbidden('file:///etc/passwd', 'unsupported_scheme')
      await expectForbidden('ftp://8.8.8.8/', 'unsupported_scheme')
      await expectForbidden('gopher://127.0.0.1:6379/', 'unsupported_scheme')
      await expectForbidden('/v1/relative', 'invalid_url')
    })

    it('refuses credentials in the URL without repeating them', async () => {
      const error = await expectForbidden(
        `http://user:s3cret@127.0.0.1:${new URL(origin).port}/echo`,
        'credentials_in_url',
      )
      expect(error.message).to.not.include('s3cret')
      await expectForbidden('https://user@8.8.8.8/', 'credentials_in_url', publicOnly)
    })

    for (const address of [
      '10.0.0.1',
      '10.255.255.254',
      '172.16.0.1',
      '172.31.255.1',
      '192.168.1.1',
      '169.254.169.254',
      '169.254.0.1',
      '100.64.0.1',
      '100.127.255.254',
      '0.0.0.0',
      '0.1.2.3',
      '224.0.0.1',
      '255.255.255.255',
      '240.0.0.1',
      '192.0.2.1',
      '198.18.0.1',
    ]) {
      it(`refuses the IPv4 literal ${address} under either policy`, async () => {
        await expectForbidden(`https://${address}/`, 'forbidden_address', publicOnly)
        await expectForbidden(`https://${address}/`, 'forbidden_address')
      })
    }

    for (const host of [
      '[::]',
      '[fc00::1]',
      '[fd12:3456::1]',
      '[fe80::1]',
      '[ff02::1]',
      '[::ffff:10.0.0.1]',
      '[::ffff:169.254.169.254]',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '[::127.0.0.1]',
      '[::a00:1]',
      '[64:ff9b::a00:1]',
      '[2001:db8::1]',
    ]) {
      it(`refuses the IPv6 literal ${host}`, async () => {
        await expectForbidden(`https://${host}/`, 'forbidden_address', publicOnly)
      })
    }

    it('refuses private IPv6 literals even with the loopback allowance', async () => {
      for (const host of ['[fc00::1]', '[fe80::1]', '[::ffff:10.0.0.1]', '[::a00:1]']) {
        await expectForbidden(`https://${host}/`, 'forbidden_address')
      }
    })

    for (const url of [
      'https://2130706433/',
      'https://0x7f000001/',
      'https://0x7f.1/',
      'https://0177.0.0.1/',
      'https://127.1/',
      'https://0x0a.0.0.1/',
      'https://167772161/',
      'https://012.0.0.1/',
      'https://0xa9.0xfe.0xa9.0xfe/',
      'https://127.0.0.1./',
    ]) {
      it(`refuses the non-dotted-decimal IPv4 form ${url}`, async () => {
        await expectForbidden(url, 'forbidden_address', publicOnly)
      })
    }
  })

  describe('names checked on every address they resolve to', () => {
    it('refuses a name that resolves to a private address', async () => {
      const { lookup, askedNames } = tableLookup({ 'evil.example': ['10.0.0.5'] })
      const resolving = new OutboundHttpClient(PUBLIC_ONLY, { lookup })
      try {
        const error = await rejection(
          resolving.post({
            url: 'https://evil.example/hook',
            body: {},
            timeoutMs: 2_000,
            maxResponseBytes: 10,
          }),
        )
        expect(error).to.be.instanceOf(ForbiddenDestinationError)
        expect((error as ForbiddenDestinationError).reason).to.equal('forbidden_address')
        expect((error as ForbiddenDestinationError).host).to.equal('evil.example')
        expect(askedNames).to.deep.equal(['evil.example'])
      } finally {
        resolving.close()
      }
    })

    for (const addresses of [
      ['93.184.216.34', '10.0.0.5'],
      ['10.0.0.5', '93.184.216.34'],
      ['2606:4700::1111', 'fd00::5'],
      ['93.184.216.34', '::ffff:127.0.0.1'],
    ]) {
      it(`refuses a name resolving to ${addresses.join(' and ')}: any forbidden address refuses it`, async () => {
        const { lookup } = tableLookup({ 'mixed.example': addresses })
        const resolving = new OutboundHttpClient(PUBLIC_ONLY, { lookup })
        try {
          const error = await rejection(
            resolving.post({
              url: 'https://mixed.example/',
              body: {},
              timeoutMs: 2_000,
              maxResponseBytes: 10,
            }),
          )
          expect(error).to.be.instanceOf(ForbiddenDestinationError)
        } finally {
          resolving.close()
        }
      })
    }

    it('refuses a name resolving to loopback without the loopback allowance', async () => {
      const { lookup } = tableLookup({ localhost: ['127.0.0.1', '::1'] })
      const resolving = new OutboundHttpClient(PUBLIC_ONLY, { lookup })
      try {
        const error = await rejection(
          resolving.post({ url: 'https://localhost/', body: {}, timeoutMs: 2_000, maxResponseBytes: 10 }),
        )
        expect(error).to.be.instanceOf(ForbiddenDestinationError)
      } finally {
        resolving.close()
      }
    })

    it('connects to localhost over http through the lookup, and refuses it when it resolves elsewhere', async () => {
      const port = new URL(origin).port
      const loopback = tableLookup({ localhost: ['127.0.0.1'] })
      const resolving = new OutboundHttpClient(LOOPBACK_DEV, { lookup: loopback.lookup })
      const rebound = new OutboundHttpClient(LOOPBACK_DEV, {
        lookup: tableLookup({ localhost: ['10.0.0.5'] }).lookup,
      })
      try {
        const response = await resolving.post({
          url: `http://localhost:${port}/echo`,
          body: {},
          timeoutMs: 2_000,
          maxResponseBytes: MAX_BYTES,
        })
        expect(response.status).to.equal(200)
        expect(loopback.askedNames).to.deep.equal(['localhost'])
        const error = await rejection(
          rebound.post({
            url: `http://localhost:${port}/echo`,
            body: {},
            timeoutMs: 2_000,
            maxResponseBytes: 10,
          }),
        )
        expect(error).to.be.instanceOf(ForbiddenDestinationError)
      } finally {
        resolving.close()
        rebound.close()
      }
    })

    it('reports a name that does not resolve as an upstream failure', async () => {
      const resolving = new OutboundHttpClient(PUBLIC_ONLY, { lookup: tableLookup({}).lookup })
      try {
        const error = await rejection(
          resolving.post({
            url: 'https://nowhere.example/',
            body: {},
            timeoutMs: 2_000,
            maxResponseBytes: 10,
          }),
        )
        expect(error).to.be.instanceOf(UpstreamFailedError)
        expect((error as UpstreamFailedError).reason).to.equal('dns_failed')
      } finally {
        resolving.close()
      }
    })
  })

  describe('redirects', () => {
    const redirect = (status: number, to: string): string =>
      `${origin}/redirect?status=${status}&to=${encodeURIComponent(to)}`

    it('follows a redirect to another loopback path', async () => {
      const response = await post({ url: redirect(307, '/echo') })
      expect(response.status).to.equal(200)
      expect((response.json as { method: string }).method).to.equal('POST')
    })

    it('307 and 308 repeat the POST with its body; 301, 302 and 303 become a GET without body', async () => {
      for (const status of [307, 308]) {
        const echoed = (await post({ url: redirect(status, '/echo') })).json as {
          method: string
          body: string
        }
        expect(echoed.method, String(status)).to.equal('POST')
        expect(echoed.body, String(status)).to.equal('{"job":"j-1"}')
      }
      for (const status of [301, 302, 303]) {
        const echoed = (await post({ url: redirect(status, '/echo') })).json as {
          method: string
          body: string | null
          headers: Record<string, string>
        }
        expect(echoed.method, String(status)).to.equal('GET')
        expect(echoed.body, String(status)).to.equal(null)
        expect(echoed.headers, String(status)).to.not.have.property('content-type')
      }
    })

    it('refuses a redirect to a private address', async () => {
      const error = await rejection(post({ url: redirect(302, 'http://10.0.0.1/') }))
      expect(error).to.be.instanceOf(ForbiddenDestinationError)
      expect((error as ForbiddenDestinationError).reason).to.equal('forbidden_address')
    })

    it('refuses a redirect to the metadata address, a public http host or another scheme', async () => {
      for (const [to, reason] of [
        ['http://169.254.169.254/latest/meta-data/', 'forbidden_address'],
        ['https://[::ffff:a9fe:a9fe]/', 'forbidden_address'],
        ['http://provider.example/', 'insecure_scheme'],
        ['file:///etc/passwd', 'unsupported_scheme'],
      ]) {
        const error = await rejection(post({ url: redirect(307, to) }))
        expect(error, to).to.be.instanceOf(ForbiddenDestinationError)
        expect((error as ForbiddenDestinationError).reason, to).to.equal(reason)
      }
    })

    it('keeps caller headers on the same origin and drops them on another', async () => {
      const headers = { 'x-provider-token': 'meant-for-the-first-provider' }
      const sameOrigin = (await post({ url: redirect(307, '/echo'), headers })).json as {
        headers: Record<string, string>
      }
      expect(sameOrigin.headers['x-provider-token']).to.equal('meant-for-the-first-provider')
      const otherOriginResponse = (await post({ url: redirect(307, `${otherOrigin}/elsewhere`), headers }))
        .json as {
        path: string
        headers: Record<string, string>
      }
      expect(otherOriginResponse.path).to.equal('/elsewhere')
      expect(otherOriginResponse.headers).to.not.have.property('x-provider-token')
      expect(otherOriginResponse.headers['user-agent']).to.equal('clearhouse-invoke-proxy')
    })

    it('fails with too_many_redirects past maxRedirects', async () => {
      const error = await rejection(post({ url: `${origin}/loop` }))
      expect(error).to.be.instanceOf(UpstreamFailedError)
      expect((error as UpstreamFailedError).reason).to.equal('too_many_redirects')
      const none = await rejection(post({ url: redirect(302, '/echo'), maxRedirects: 0 }))
      expect((none as UpstreamFailedError).reason).to.equal('too_many_redirects')
    })

    it('fails with bad_redirect on a Location that is not a URL', async () => {
      const error = await rejection(post({ url: redirect(302, 'http://[broken') }))
      expect(error).to.be.instanceOf(UpstreamFailedError)
      expect((error as UpstreamFailedError).reason).to.equal('bad_redirect')
    })
  })

  describe('timeouts', () => {
    it('fails with UpstreamTimeoutError soon after timeoutMs when no response comes', async () => {
      const startedAt = Date.now()
      const error = await rejection(post({ url: `${origin}/slow`, timeoutMs: 200 }))
      expect(error).to.be.instanceOf(UpstreamTimeoutError)
      expect((error as UpstreamTimeoutError).reason).to.equal('timeout')
      expect(Date.now() - startedAt).to.be.lessThan(1_000)
    })

    it('counts the body against the deadline too', async () => {
      const startedAt = Date.now()
      const error = await rejection(post({ url: `${origin}/stall-body`, timeoutMs: 200 }))
      expect(error).to.be.instanceOf(UpstreamTimeoutError)
      expect(Date.now() - startedAt).to.be.lessThan(1_000)
    })
  })

  describe('response size', () => {
    it('accepts a body of exactly maxResponseBytes', async () => {
      const response = await post({ url: `${origin}/sized?bytes=${MAX_BYTES}` })
      expect(response.body.length).to.equal(MAX_BYTES)
      const chunked = await post({ url: `${origin}/chunked?bytes=${MAX_BYTES}` })
      expect(chunked.body.length).to.equal(MAX_BYTES)
    })

    it('refuses a content-length of maxResponseBytes + 1 before reading it', async () => {
      const error = await rejection(post({ url: `${origin}/sized?bytes=${MAX_BYTES + 1}` }))
      expect(error).to.be.instanceOf(UpstreamResponseTooLargeError)
      expect((error as UpstreamResponseTooLargeError).reason).to.equal('content_length')
    })

    it('refuses a chunked body of maxResponseBytes + 1', async () => {
      const error = await rejection(post({ url: `${origin}/chunked?bytes=${MAX_BYTES + 1}` }))
      expect(error).to.be.instanceOf(UpstreamResponseTooLargeError)
      expect((error as UpstreamResponseTooLargeError).reason).to.equal('body')
    })

    it('hangs up on an endless body as soon as it passes the limit', async () => {
      const error = await rejection(post({ url: `${origin}/endless`, timeoutMs: 5_000 }))
      expect(error).to.be.instanceOf(UpstreamResponseTooLargeError)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(endlessStreamClosedAt, 'the provider saw the connection close').to.be.a('number')
    })
  })

  describe('connection failures', () => {
    it('fails with connection_failed when the port is closed', async () => {
      const { server, origin: closedOrigin } = await listen(() => undefined)
      await stop(server)
      const error = await rejection(post({ url: `${closedOrigin}/echo` }))
      expect(error).to.be.instanceOf(UpstreamFailedError)
      expect((error as UpstreamFailedError).reason).to.equal('connection_failed')
    })

    it('fails with tls_failed when the other end does not speak TLS', async () => {
      const error = await rejection(post({ url: `https://127.0.0.1:${new URL(origin).port}/echo` }))
      expect(error).to.be.instanceOf(UpstreamFailedError)
      expect((error as UpstreamFailedError).reason).to.equal('tls_failed')
    })
  })
})

describe('destination policy', () => {
  it('allows public unicast addresses over https', () => {
    for (const address of [
      '8.8.8.8',
      '1.1.1.1',
      '93.184.216.34',
      '2606:4700::1111',
      '2a00:1450:4001:80b::200e',
    ]) {
      expect(isAllowedAddress(address, PUBLIC_ONLY), address).to.equal(true)
      expect(isAllowedAddress(address, LOOPBACK_DEV), address).to.equal(true)
    }
  })

  it('takes an IPv4-mapped address as the IPv4 address it reaches', () => {
    expect(addressRange('::ffff:8.8.8.8')).to.equal('unicast')
    expect(isAllowedAddress('::ffff:8.8.8.8', PUBLIC_ONLY)).to.equal(true)
    expect(addressRange('::ffff:7f00:1')).to.equal('loopback')
    expect(addressRange('::ffff:a00:1')).to.equal('private')
  })

  it('refuses IPv4-compatible addresses whatever they embed', () => {
    expect(isAllowedAddress('::8.8.8.8', PUBLIC_ONLY)).to.equal(false)
    expect(isAllowedAddress('::7f00:1', LOOPBACK_DEV)).to.equal(false)
  })

  it('allows public addresses only over https, loopback only with the allowance', () => {
    expect(isAllowedAddress('8.8.8.8', LOOPBACK_DEV, 'http:')).to.equal(false)
    expect(isAllowedAddress('127.0.0.1', LOOPBACK_DEV, 'http:')).to.equal(true)
    expect(isAllowedAddress('127.8.9.10', LOOPBACK_DEV, 'https:')).to.equal(true)
    expect(isAllowedAddress('::1', LOOPBACK_DEV, 'http:')).to.equal(true)
    expect(isAllowedAddress('127.0.0.1', PUBLIC_ONLY, 'https:')).to.equal(false)
    expect(isAllowedAddress('::1', PUBLIC_ONLY)).to.equal(false)
  })

  it('refuses every other range even with the loopback allowance', () => {
    for (const address of [
      '10.0.0.1',
      '172.16.0.1',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::',
    ]) {
      expect(isAllowedAddress(address, LOOPBACK_DEV), address).to.equal(false)
    }
  })

  it('refuses what is not an IP address', () => {
    expect(isAllowedAddress('localhost', LOOPBACK_DEV)).to.equal(false)
    expect(isAllowedAddress('', PUBLIC_ONLY)).to.equal(false)
  })
})
