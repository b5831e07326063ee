import { isIP, isIPv4 } from 'node:net'
import ipaddr from 'ipaddr.js'

/** Where the outbound client may connect: public https only, plus loopback when the embedded dev stack runs. */
export interface OutboundPolicy {
  /** Allow loopback (127.0.0.0/8, ::1, `localhost`), over http or https; other private ranges stay refused. */
  allowLoopbackHttp: boolean
}

export type DestinationRefusalReason =
  'invalid_url' | 'unsupported_scheme' | 'insecure_scheme' | 'credentials_in_url' | 'forbidden_address'

/** Why a destination was refused, in words fit for a log line (never the URL's credentials). */
export interface DestinationRefusal {
  reason: DestinationRefusalReason
  message: string
}

/** The URL schemes the client speaks; anything else is refused before any lookup. */
export type OutboundProtocol = 'http:' | 'https:'

/** `localhost` resolves to loopback by convention (RFC 6761); the lookup still checks what it resolves to. */
const LOOPBACK_NAME = 'localhost'

/**
 * The range an IP address falls in, as `ipaddr.js` names it, or `'invalid'` when it is no IP address.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) takes the range of its IPv4 address because a dual-stack socket
 * connects to exactly that IPv4 address. IPv4-compatible IPv6 (`::a.b.c.d`, deprecated by RFC 4291)
 * is its own range: `ipaddr.js` calls it unicast, yet stacks that still honour it reach the embedded
 * IPv4 address, so it is refused whatever that address is.
 */
export function addressRange(address: string): string {
  // Only the strict forms node connects to without a lookup; ipaddr.js would also read `0x7f.1`.
  if (isIP(address) === 0) return 'invalid'
  const parsed = ipaddr.parse(withHexIpv4Tail(address))
  if (parsed.kind() === 'ipv4') return parsed.range()
  const ipv6 = parsed as ipaddr.IPv6
  if (ipv6.isIPv4MappedAddress()) return ipv6.toIPv4Address().range()
  if (ipv6.match(IPV4_COMPATIBLE_PREFIX) && !isUnspecifiedOrLoopbackIpv6(ipv6)) return 'ipv4Compatible'
  return ipv6.range()
}

/**
 * ipaddr.js reads `::a.b.c.d`, which is IPv4-compatible, as IPv4-mapped; spelling a dotted tail as two
 * hex groups (`::808:808`, as the URL parser and resolvers already do) keeps the two apart.
 */
function withHexIpv4Tail(address: string): string {
  const tailStart = address.lastIndexOf(':') + 1
  const tail = address.slice(tailStart)
  if (tailStart === 0 || !isIPv4(tail)) return address
  const [first, second, third, fourth] = tail.split('.').map(Number)
  return `${address.slice(0, tailStart)}${((first << 8) | second).toString(16)}:${((third << 8) | fourth).toString(16)}`
}

const IPV4_COMPATIBLE_PREFIX = ipaddr.IPv6.parseCIDR('::/96')

function isUnspecifiedOrLoopbackIpv6(address: ipaddr.IPv6): boolean {
  const range = address.range()
  return range === 'unspecified' || range === 'loopback'
}

/**
 * Whether the client may connect to `address` (an IP address as connected to, not a name) over
 * `protocol`: over https only public unicast addresses, or loopback too when the policy allows it;
 * over plain http only loopback, and only when the policy allows it.
 */
export function checkDestinationAddress(
  address: string,
  policy: OutboundPolicy,
  protocol: OutboundProtocol = 'https:',
): DestinationRefusal | undefined {
  const range = addressRange(address)
  if (range === 'loopback' && policy.allowLoopbackHttp) return undefined
  if (range === 'unicast' && protocol === 'https:') return undefined
  if (range === 'unicast') {
    return {
      reason: 'insecure_scheme',
      message: `plain http to ${address} refused: only https reaches public hosts`,
    }
  }
  return { reason: 'forbidden_address', message: `address ${address} (${range}) is not a public destination` }
}

/** {@link checkDestinationAddress} as a question. */
export function isAllowedAddress(
  address: string,
  policy: OutboundPolicy,
  protocol: OutboundProtocol = 'https:',
): boolean {
  return checkDestinationAddress(address, policy, protocol) === undefined
}

/** The URL's host as a connect call takes it: IPv6 literals lose their brackets. */
export function connectHost(url: URL): string {
  const { hostname } = url
  return hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname
}

/**
 * What can be decided from the URL alone, before any lookup: the scheme, credentials, and the
 * address when the host is an IP literal (node connects to literals without calling `lookup`, so
 * this is their only check). A name is checked again, on every address it resolves to, at connect
 * time.
 */
export function checkDestinationUrl(url: URL, policy: OutboundPolicy): DestinationRefusal | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { reason: 'unsupported_scheme', message: `scheme ${url.protocol} is not http or https` }
  }
  if (url.username !== '' || url.password !== '') {
    return { reason: 'credentials_in_url', message: `URL for ${url.host} carries credentials` }
  }
  const host = connectHost(url)
  if (isIP(host) !== 0) return checkDestinationAddress(host, policy, url.protocol)
  if (url.protocol === 'http:' && !(policy.allowLoopbackHttp && host === LOOPBACK_NAME)) {
    return { reason: 'insecure_scheme', message: `plain http to ${url.host} refused: only https is allowed` }
  }
  return undefined
}
