import { allowsLoopbackEndpoints, type AppContext } from '../app-context'
import { OutboundHttpClient } from './outbound-http'

// One client (and its keep-alive sockets) per app, shared by the invoke proxy and the webhooks.
const clients = new WeakMap<object, OutboundHttpClient>()

/**
 * The app's outbound client: https to public addresses only, plus plain http to loopback where
 * `allowLoopbackEndpoints` (the embedded stack, where a provider or a webhook receiver runs beside
 * `npm start`).
 */
export function outboundClientFor(
  context: Pick<AppContext, 'isDevChain' | 'allowLoopbackEndpoints'>,
): OutboundHttpClient {
  let client = clients.get(context)
  if (!client) {
    client = new OutboundHttpClient({ allowLoopbackHttp: allowsLoopbackEndpoints(context) })
    clients.set(context, client)
  }
  return client
}

/** Closes the app's outbound client's sockets (at shutdown). */
export function closeOutboundClient(context: object): void {
  clients.get(context)?.close()
  clients.delete(context)
}
