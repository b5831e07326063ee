// The Clearhouse SDK: a typed client for the /v1 API, wallet signing, the channel caller and the auditor.
export { ClearhouseClient, type ClearhouseClientOptions } from './client'
export { ChannelCaller } from './channel-caller'
export { ClearhouseApiError, ClearhouseNetworkError } from './errors'
export { toSigner, type Signer, type WalletSigner } from './signer'
export { runAudit, type AuditOptions, type AuditProblem, type AuditReport } from './audit/auditor'
export {
  verifyWebhookSignature,
  WEBHOOK_DELIVERY_HEADER,
  WEBHOOK_EVENT_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  type WebhookPayload,
} from '../protocol/webhooks'
