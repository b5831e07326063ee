import type { Address, Hex, LocalAccount, TypedDataDefinition, WalletClient } from 'viem'

/**
 * What signs for an agent: a viem local account (`privateKeyToAccount`, a mnemonic account) or a
 * wallet client over any EIP-1193 provider (`createWalletClient({ account, transport: custom(window.ethereum) })`).
 */
export type WalletSigner = LocalAccount | WalletClient

/** The two things the SDK asks of a wallet. */
export interface Signer {
  address: Address
  signMessage(message: string): Promise<Hex>
  signTypedData(typedData: TypedDataDefinition): Promise<Hex>
}

function isWalletClient(wallet: WalletSigner): wallet is WalletClient {
  return 'transport' in wallet && 'request' in wallet
}

/** One `Signer` over either kind of wallet. */
export function toSigner(wallet: WalletSigner): Signer {
  if (isWalletClient(wallet)) {
    const account = wallet.account
    if (!account) throw new Error('the wallet client has no account: create it with `account`')
    return {
      address: account.address,
      signMessage: (message) => wallet.signMessage({ account, message }),
      signTypedData: (typedData) =>
        wallet.signTypedData({ ...typedData, account } as Parameters<WalletClient['signTypedData']>[0]),
    }
  }
  return {
    address: wallet.address,
    signMessage: (message) => wallet.signMessage({ message }),
    signTypedData: (typedData) => wallet.signTypedData(typedData),
  }
}
