import { randomUUID } from 'node:crypto'
import type { Express } from 'express'
import request from 'supertest'
import type { PrivateKeyAccount } from 'viem/accounts'
import {
  SIGNED_REQUEST_HEADERS,
  signedRequestHeaders,
  signedRequestTimestamp,
} from '../../../protocol/signed-request'

/** Opens a wallet-signing session for `account` (which must belong to a registered agent). */
export async function openSession(app: Express, account: PrivateKeyAccount): Promise<string> {
  const res = await request(app).post('/v1/auth/session').send({ wallet_address: account.address })
  if (res.status !== 201) throw new Error(`session failed: ${res.status} ${JSON.stringify(res.body)}`)
  return res.body.session_nonce as string
}

export interface SignedHeaders {
  [SIGNED_REQUEST_HEADERS.wallet]: string
  [SIGNED_REQUEST_HEADERS.session]: string
  [SIGNED_REQUEST_HEADERS.requestId]: string
  [SIGNED_REQUEST_HEADERS.timestamp]: string
  [SIGNED_REQUEST_HEADERS.signature]: string
}

/**
 * The five headers of a wallet-signed request for `method url` with `body` (undefined: no body),
 * signed now unless `timestamp` (unix seconds) says when.
 */
export async function signRequest(
  account: PrivateKeyAccount,
  session: string,
  method: string,
  url: string,
  body?: unknown,
  requestId: string = randomUUID(),
  timestamp: number = signedRequestTimestamp(),
): Promise<SignedHeaders> {
  return signedRequestHeaders({
    wallet: account.address,
    signMessage: (message) => account.signMessage({ message }),
    session,
    method,
    url,
    body,
    requestId,
    timestamp,
  }) as Promise<SignedHeaders>
}

/** Sends a wallet-signed request through supertest. */
export async function signedRequest(
  app: Express,
  account: PrivateKeyAccount,
  session: string,
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
  url: string,
  body?: unknown,
): Promise<request.Response> {
  const headers = await signRequest(account, session, method, url, body)
  const agent = request(app)
  const pending =
    method === 'GET'
      ? agent.get(url)
      : method === 'POST'
        ? agent.post(url)
        : method === 'PATCH'
          ? agent.patch(url)
          : agent.delete(url)
  pending.set(headers as unknown as Record<string, string>)
  return body === undefined ? pending : pending.send(body as object)
}
