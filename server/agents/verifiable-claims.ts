import { sameAddress } from '../../protocol/address'
import { signedVerifiableClaim, verifiableClaimMessage } from '../../protocol/agents'
import type { AppContext } from '../app-context'
import { recoverPersonalSignAddress } from '../auth/signatures'
import type { Queryable } from '../db/pool'
import { ValidationError } from '../errors'
import { selectVerifiableClaim } from './agents-queries'

// An agent's `verifiable_claim` counts as verified only when it is a signed claim about the
// agent's own wallet by an issuer the coordinator trusts, unexpired. Anything else (an unsigned
// object, an unknown issuer, another wallet's claim) is kept for display and counts for nothing.

type Issuers = AppContext['verifiableClaimIssuers']

/** Whether `claim` is verified for the agent holding `wallet`, with `issuers` trusted, at `now`. */
export function isVerifiedClaim(claim: unknown, wallet: string, issuers: Issuers, now = new Date()): boolean {
  if (!issuers || issuers.length === 0) return false
  const parsed = signedVerifiableClaim.safeParse(claim)
  if (!parsed.success) return false
  const signed = parsed.data
  const issuer = signed.issuer.toLowerCase()
  if (!issuers.some((trusted) => trusted.toLowerCase() === issuer)) return false
  if (!sameAddress(signed.subject, wallet)) return false
  if (signed.expires_at !== undefined && Date.parse(signed.expires_at) <= now.getTime()) return false
  // Recovered on every read, not trusted from registration: the stored claim alone decides.
  return recoverPersonalSignAddress(verifiableClaimMessage(signed), signed.signature) === issuer
}

function claimError(field: string, message: string): ValidationError {
  const name = `verifiable_claim.${field}`
  return new ValidationError('invalid_verifiable_claim', `body ${name}: ${message}`, {
    details: { where: 'body', fields: [{ field: name, message }] },
  })
}

/**
 * At registration, refuses a signed claim that can never verify for `wallet`: one not signed by
 * its own `issuer`, about another wallet, or already expired (400 `invalid_verifiable_claim`).
 * A claim by an issuer the coordinator does not trust is kept: trust is configuration and can
 * change. An unsigned claim is kept as it is.
 */
export function checkClaimAtRegistration(claim: unknown, wallet: string, now = new Date()): void {
  const parsed = signedVerifiableClaim.safeParse(claim)
  if (!parsed.success) return
  const signed = parsed.data
  if (
    recoverPersonalSignAddress(verifiableClaimMessage(signed), signed.signature) !==
    signed.issuer.toLowerCase()
  ) {
    throw claimError('signature', "is not the issuer's personal_sign over the claim's canonical JSON")
  }
  if (!sameAddress(signed.subject, wallet)) {
    throw claimError('subject', "must be the registering agent's wallet address")
  }
  if (signed.expires_at !== undefined && Date.parse(signed.expires_at) <= now.getTime()) {
    throw claimError('expires_at', 'has passed')
  }
}

/** Whether the agent holds a verified claim (jobs with `requires_verifiable` take bids only from such agents). */
export async function agentHasVerifiedClaim(
  context: Pick<AppContext, 'verifiableClaimIssuers'>,
  db: Queryable,
  agentId: string,
): Promise<boolean> {
  const row = await selectVerifiableClaim(db, agentId)
  return (
    row !== null && isVerifiedClaim(row.verifiableClaim, row.walletAddress, context.verifiableClaimIssuers)
  )
}
