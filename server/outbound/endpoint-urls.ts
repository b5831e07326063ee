import { allowsLoopbackEndpoints, type AppContext } from '../app-context'
import { fieldError } from '../errors'

/**
 * An endpoint the coordinator may call, as given in a body's `field`: https anywhere, or plain
 * http to this machine on the embedded stack (a provider running beside `npm start`). The outbound
 * client checks the resolved address again on every call; this refuses what can never be valid.
 */
export function checkEndpointUrl(
  context: Pick<AppContext, 'isDevChain' | 'allowLoopbackEndpoints'>,
  value: string | null,
  field: string,
): string | null {
  if (value === null) return null
  const url = new URL(value)
  const isLoopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)
  if (url.username || url.password) throw fieldError('body', field, 'must not carry credentials')
  if (url.protocol === 'https:') return url.toString()
  if (url.protocol === 'http:' && isLoopback && allowsLoopbackEndpoints(context)) return url.toString()
  throw fieldError('body', field, 'must be an https URL (plain http only to loopback on the embedded stack)')
}
