import type { LocalAccount } from 'viem/accounts'
import { verifiableClaimMessage, type SignedVerifiableClaim } from '../../../protocol/agents'

/** A verifiable claim about `subject` signed by `issuer` (personal_sign over its canonical JSON). */
export async function signClaim(
  issuer: LocalAccount,
  fields: {
    subject: string
    claims?: Record<string, unknown>
    issuedAt?: string
    expiresAt?: string
    /** Names this issuer in the claim instead of the signer's address (a forged claim). */
    claimedIssuer?: string
  },
): Promise<SignedVerifiableClaim> {
  const unsigned = {
    issuer: fields.claimedIssuer ?? issuer.address,
    subject: fields.subject,
    claims: fields.claims ?? { kyc: 'passed', github: 'alice' },
    issued_at: fields.issuedAt ?? new Date().toISOString(),
    ...(fields.expiresAt === undefined ? {} : { expires_at: fields.expiresAt }),
  }
  return { ...unsigned, signature: await issuer.signMessage({ message: verifiableClaimMessage(unsigned) }) }
}
