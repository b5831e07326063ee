import {
  createWalletClient,
  custom,
  http,
  type Account,
  type PublicClient,
  type WalletClient,
  type WriteContractParameters,
  type Hex,
} from 'viem'

/**
 * What sends every transaction of one key in this process (the settler's batches, the dev
 * faucet's deposits): sends go out one at a time, each after the node has the previous one in
 * its pending pool, so two senders of the coordinator's key never pick the same nonce.
 */
export interface TransactionSender {
  readonly account: Account
  /** Sends the call and returns its hash once the node accepted it (not mined). */
  writeContract(request: Omit<WriteContractParameters, 'account' | 'chain'>): Promise<Hex>
}

// Per key, the last send in flight: shared by every sender of the key in the process.
const sendsByAccount = new Map<string, Promise<unknown>>()

/** A sender over `walletClient` for `account`, queued with every other sender of the same key. */
export function createTransactionSender(walletClient: WalletClient, account: Account): TransactionSender {
  const key = account.address.toLowerCase()
  return {
    account,
    writeContract(request) {
      const previous = sendsByAccount.get(key) ?? Promise.resolve()
      const sent = previous.then(() =>
        walletClient.writeContract({ ...request, account, chain: null } as WriteContractParameters),
      )
      sendsByAccount.set(
        key,
        sent.catch(() => undefined),
      )
      return sent
    },
  }
}

/** The settler's wallet client for `account` over the JSON-RPC at `rpcUrl` (for the composition root). */
export function settlerWalletClient(rpcUrl: string, account: Account): WalletClient {
  return createWalletClient({ account, transport: http(rpcUrl) })
}

/** A sender for `account` over the same transport as `client` (the dev faucet's). */
export function senderOverClient(client: PublicClient, account: Account): TransactionSender {
  return createTransactionSender(
    createWalletClient({ account, transport: custom({ request: client.request }) }),
    account,
  )
}

/** Sends `request` with `sender` and waits for its receipt; a revert throws, naming `what`. Returns its hash. */
export async function sendConfirmed(
  client: PublicClient,
  sender: TransactionSender,
  request: Parameters<TransactionSender['writeContract']>[0],
  what: string,
): Promise<Hex> {
  const hash = await sender.writeContract(request)
  const receipt = await client.waitForTransactionReceipt({ hash })
  if (receipt.status !== 'success') throw new Error(`${what} transaction ${hash} reverted`)
  return hash
}
