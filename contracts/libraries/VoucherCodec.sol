// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";
import {Hashing} from "./Hashing.sol";

/**
 * @title VoucherCodec
 * @notice Reads a `SignedVoucher` from calldata once and hashes it, for the settlement hot path.
 * @dev Solidity's accessors for nested calldata struct members re-derive and re-check each field on
 * every access, which costs more than the rest of a settlement's logic. A voucher's ABI encoding is
 * ten static words, so it is copied to memory in one go (after which every field read is an
 * `mload`) and checked once for canonical encoding. Hashes equal `Hashing.channelConfig` /
 * `Hashing.voucher` over the same values.
 */
library VoucherCodec {
    /// @notice The ten words of a `SignedVoucher`, in ABI order.
    struct Record {
        address caller;
        address provider;
        address token;
        uint16 feeBps;
        bytes32 salt;
        uint64 sequence;
        uint256 cumulativeAmount;
        bytes32 callChain;
        bytes32 r;
        bytes32 vs;
    }

    /// @notice Thrown when a voucher word is not a canonical ABI encoding of its type.
    error VoucherCodecNonCanonical();

    /// @notice Copies `v` from calldata; reverts unless every word is canonically encoded.
    function load(IPaymentChannels.SignedVoucher calldata v) internal pure returns (Record memory rec) {
        bool isCanonical;
        assembly ("memory-safe") {
            calldatacopy(rec, v, 0x140)
            // Addresses fit 160 bits, feeBps 16, sequence 64: dirty high bits would let two byte
            // strings (two op hashes) mean the same voucher.
            let dirty := or(shr(160, mload(rec)), shr(160, mload(add(rec, 0x20))))
            dirty := or(dirty, or(shr(160, mload(add(rec, 0x40))), shr(16, mload(add(rec, 0x60)))))
            dirty := or(dirty, shr(64, mload(add(rec, 0xa0))))
            isCanonical := iszero(dirty)
        }
        if (!isCanonical) revert VoucherCodecNonCanonical();
    }

    /**
     * @notice The channel id and the EIP-712 digest of the voucher under `domainSeparator`.
     * @return channelId toTypedDataHash(domainSeparator, hashStruct(ChannelConfig)).
     * @return digest toTypedDataHash(domainSeparator, hashStruct(Voucher{channelId, sequence, cumulativeAmount, callChain})).
     */
    function hashes(Record memory rec, bytes32 domainSeparator)
        internal
        pure
        returns (bytes32 channelId, bytes32 digest)
    {
        bytes32 configTypeHash = Hashing.CHANNEL_CONFIG_TYPEHASH;
        bytes32 voucherTypeHash = Hashing.VOUCHER_TYPEHASH;
        // Scratch space past the free memory pointer; nothing allocated, nothing kept.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // hashStruct(ChannelConfig) = keccak256(typeHash, caller, provider, token, feeBps, salt)
            mstore(ptr, configTypeHash)
            mcopy(add(ptr, 0x20), rec, 0xa0)
            let structHash := keccak256(ptr, 0xc0)
            // EIP-712 digest = keccak256("\x19\x01" || domainSeparator || structHash), as OZ MessageHashUtils
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            channelId := keccak256(ptr, 0x42)
            // hashStruct(Voucher) = keccak256(typeHash, channelId, sequence, cumulativeAmount, callChain)
            mstore(ptr, voucherTypeHash)
            mstore(add(ptr, 0x20), channelId)
            mcopy(add(ptr, 0x40), add(rec, 0xa0), 0x60)
            structHash := keccak256(ptr, 0xa0)
            mstore(ptr, hex"1901")
            mstore(add(ptr, 0x02), domainSeparator)
            mstore(add(ptr, 0x22), structHash)
            digest := keccak256(ptr, 0x42)
        }
    }
}
