import { parseAbi } from 'viem'

/**
 * What the coordinator reads of a stablecoin beyond ERC-20: its EIP-712 domain (EIP-5267), which
 * permits and authorizations are signed under, an owner's EIP-2612 permit nonce, and whether an
 * EIP-3009 authorization was spent.
 */
export const tokenSignatureAbi = parseAbi([
  'function eip712Domain() view returns (bytes1, string, string, uint256, address, bytes32, uint256[])',
  'function nonces(address owner) view returns (uint256)',
  'function authorizationState(address authorizer, bytes32 nonce) view returns (bool)',
])
