// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {Hashing} from "./Hashing.sol";

/**
 * @title EscrowCodec
 * @notice Reads `EscrowTerms` from calldata once and hashes them, for the escrow ops of a batch.
 * @dev Solidity's accessors for calldata struct members re-derive and re-check each field on every
 * access, which costs more than the rest of an escrow op's logic. The terms' ABI encoding is ten
 * static words, so they are copied to memory in one go (after which every field read is an `mload`)
 * and checked once for canonical encoding. `structHash` equals `Hashing.escrowLock` over the same
 * values.
 */
library EscrowCodec {
    /// @notice The ten words of `EscrowTerms`, in ABI order.
    struct Terms {
        address payer;
        address payee;
        address token;
        uint256 amount;
        address resolver;
        uint16 feeBps;
        uint16 resolverFeeBps;
        uint64 expiry;
        uint256 nonce;
        bool partialRelease;
    }

    /// @notice Thrown when a word of escrow terms is not a canonical ABI encoding of its type.
    error EscrowCodecNonCanonical();

    /// @notice Copies `t` from calldata; reverts unless every word is canonically encoded.
    function load(IJobEscrow.EscrowTerms calldata t) internal pure returns (Terms memory terms) {
        bool isCanonical;
        assembly ("memory-safe") {
            calldatacopy(terms, t, 0x140)
            // Addresses fit 160 bits, the fee rates 16, the expiry 64, the flag 1: dirty high bits would let two
            // byte strings (two op hashes) mean the same terms.
            let dirty := or(shr(160, mload(terms)), shr(160, mload(add(terms, 0x20))))
            dirty := or(dirty, or(shr(160, mload(add(terms, 0x40))), shr(160, mload(add(terms, 0x80)))))
            dirty := or(dirty, or(shr(16, mload(add(terms, 0xa0))), shr(16, mload(add(terms, 0xc0)))))
            dirty := or(dirty, or(shr(64, mload(add(terms, 0xe0))), shr(1, mload(add(terms, 0x120)))))
            isCanonical := iszero(dirty)
        }
        if (!isCanonical) revert EscrowCodecNonCanonical();
    }

    /// @notice hashStruct(EscrowLock) of `terms`.
    function structHash(Terms memory terms) internal pure returns (bytes32 hash) {
        bytes32 typeHash = Hashing.ESCROW_LOCK_TYPEHASH;
        // keccak256(typeHash, ten words) in scratch memory past the free memory pointer.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, typeHash)
            mcopy(add(ptr, 0x20), terms, 0x140)
            hash := keccak256(ptr, 0x160)
        }
    }
}
