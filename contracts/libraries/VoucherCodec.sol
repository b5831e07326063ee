// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";
import {Hashing} from "./Hashing.sol";

/**
 * @title VoucherCodec
 * @notice Hashes a `SignedVoucher` straight from calldata and reads its fields there, for the
 * settlement hot path.
 * @dev Solidity's accessors for nested calldata struct members re-derive and re-check each field on
 * every access. A voucher's ABI encoding is ten static words at a fixed calldata offset (the caller
 * of every function here has already checked that all ten are there: the ABI decoder of a direct
 * call, `OpData` in a batch), so `hashes` copies them into scratch memory as it hashes them and
 * checks them once for canonical encoding; after that, each field is one `calldataload`. The hashes
 * equal `Hashing.channelConfig` / the EIP-712 `Voucher` struct hash over the same values.
 * `PaymentChannels._settleVouchers` hashes vouchers the same way, inline, in its batch loop; this
 * library serves the cooperative close and names the errors of a voucher that loop refused.
 * Ordering: the field readers may only be used on a voucher that `hashes` accepted, which is what
 * makes a raw `calldataload` return the value the typed accessor would.
 */
library VoucherCodec {
    /// @notice Thrown when a voucher word is not a canonical ABI encoding of its type.
    error VoucherCodecNonCanonical();

    /**
     * @notice The channel id and the EIP-712 digest of voucher `v` under `domainSeparator`; reverts
     * unless every word of `v` is canonically encoded.
     * @return channelId toTypedDataHash(domainSeparator, hashStruct(ChannelConfig)).
     * @return digest toTypedDataHash(domainSeparator, hashStruct(Voucher{channelId, sequence, cumulativeAmount, callChain})).
     */
    function hashes(IPaymentChannels.SignedVoucher calldata v, bytes32 domainSeparator)
        internal
        pure
        returns (bytes32 channelId, bytes32 digest)
    {
        bytes32 configTypeHash = Hashing.CHANNEL_CONFIG_TYPEHASH;
        bytes32 voucherTypeHash = Hashing.VOUCHER_TYPEHASH;
        bool isCanonical;
        // Scratch space past the free memory pointer; nothing allocated, nothing kept.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            // Each EIP-712 digest = keccak256("\x19\x01" || domainSeparator || structHash), as OZ
            // MessageHashUtils: the 34-byte prefix is written once, past the struct area, and each
            // struct hash after it.
            let prefixed := add(ptr, 0xc0)
            mstore(prefixed, hex"1901")
            mstore(add(prefixed, 0x02), domainSeparator)
            // hashStruct(ChannelConfig) = keccak256(typeHash, caller, provider, token, feeBps, salt)
            mstore(ptr, configTypeHash)
            calldatacopy(add(ptr, 0x20), v, 0xa0)
            mstore(add(prefixed, 0x22), keccak256(ptr, 0xc0))
            channelId := keccak256(prefixed, 0x42)
            // hashStruct(Voucher) = keccak256(typeHash, channelId, sequence, cumulativeAmount, callChain)
            mstore(ptr, voucherTypeHash)
            mstore(add(ptr, 0x20), channelId)
            calldatacopy(add(ptr, 0x40), add(v, 0xa0), 0x60)
            mstore(add(prefixed, 0x22), keccak256(ptr, 0xa0))
            digest := keccak256(prefixed, 0x42)
            // Addresses fit 160 bits, feeBps 16, sequence 64: dirty high bits would let two byte
            // strings (two op hashes) mean the same voucher.
            let addresses := or(or(calldataload(v), calldataload(add(v, 0x20))), calldataload(add(v, 0x40)))
            let dirty := or(shr(160, addresses), shr(16, calldataload(add(v, 0x60))))
            isCanonical := iszero(or(dirty, shr(64, calldataload(add(v, 0xa0)))))
        }
        if (!isCanonical) revert VoucherCodecNonCanonical();
    }

    /// @notice `v.config.caller` of a voucher `hashes` accepted.
    function caller(IPaymentChannels.SignedVoucher calldata v) internal pure returns (address value) {
        assembly ("memory-safe") {
            value := calldataload(v)
        }
    }

    /// @notice `v.config.provider` of a voucher `hashes` accepted.
    function provider(IPaymentChannels.SignedVoucher calldata v) internal pure returns (address value) {
        assembly ("memory-safe") {
            value := calldataload(add(v, 0x20))
        }
    }

    /// @notice `v.config.token` of a voucher `hashes` accepted.
    function token(IPaymentChannels.SignedVoucher calldata v) internal pure returns (address value) {
        assembly ("memory-safe") {
            value := calldataload(add(v, 0x40))
        }
    }

    /// @notice `v.cumulativeAmount`.
    function cumulativeAmount(IPaymentChannels.SignedVoucher calldata v) internal pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := calldataload(add(v, 0xc0))
        }
    }

    /// @notice `v.signature`'s two words.
    function signature(IPaymentChannels.SignedVoucher calldata v) internal pure returns (bytes32 r, bytes32 vs) {
        assembly ("memory-safe") {
            r := calldataload(add(v, 0x100))
            vs := calldataload(add(v, 0x120))
        }
    }
}
