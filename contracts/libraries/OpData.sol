// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";
import {ISettlement} from "../interfaces/ISettlement.sol";

/**
 * @title OpData
 * @notice Reads a batch op's data in place from calldata. Every op's data is the ABI encoding of its
 * kind's values (see `ISettlement.OpKind`): a static tuple, followed for the escrow ops that name a
 * locked escrow by its proof, a `bytes32[]` in the standard ABI tail (one offset word, one length
 * word, the elements). Once the length is exactly right, a calldata pointer to the data's first byte
 * reads the static fields in place: no decoding step, no copy, and nothing outside `data` (whose
 * hash is the op's leaf in the ops root) can be read. Each reader returns what `abi.decode` would
 * for canonical data; Solidity still checks every field's encoding when it is read, so data with
 * dirty high bits reverts as `abi.decode` would.
 */
library OpData {
    /// @notice Words of `EscrowLockOp`: EscrowTerms (10) + Signature (2).
    uint256 internal constant ESCROW_LOCK_WORDS = 12;
    /// @notice Static words of `EscrowDecisionOp`: EscrowTerms (10) + EscrowPosition (2) + Signature (2).
    uint256 internal constant ESCROW_DECISION_WORDS = 14;
    /// @notice Static words of `EscrowRulingOp`: EscrowTerms (10) + EscrowPosition (2) + payeeBps (1) + Signature (2).
    uint256 internal constant ESCROW_RULING_WORDS = 15;
    /// @notice Static words of `EscrowPartialReleaseOp`: EscrowTerms (10) + EscrowPosition (2) + amount (1) + Signature (2).
    uint256 internal constant ESCROW_PARTIAL_RELEASE_WORDS = 15;
    /// @notice Static words of `EscrowReclaimOp`: EscrowTerms (10) + EscrowPosition (2).
    uint256 internal constant ESCROW_RECLAIM_WORDS = 12;
    /// @notice Words of `ChannelFundOp`: ChannelConfig (5) + totalDeposit + nonce + Signature (2).
    uint256 internal constant CHANNEL_FUND_WORDS = 9;
    /// @notice Words of `SignedVoucher`: ChannelConfig (5) + sequence + cumulativeAmount + callChain + Signature (2).
    uint256 internal constant SIGNED_VOUCHER_WORDS = 10;
    /// @notice `SIGNED_VOUCHER_WORDS * 32`, as a literal: Solidity does not fold the product of constants.
    uint256 internal constant SIGNED_VOUCHER_BYTES = 320;
    /// @notice Words of `ChannelCloseOp`: SignedVoucher (10) + Signature (2).
    uint256 internal constant CHANNEL_CLOSE_WORDS = 12;
    /// @notice Words of `ChannelConfig`.
    uint256 internal constant CHANNEL_CONFIG_WORDS = 5;
    /// @notice Words of `WithdrawalOp`: Withdrawal (6) + Signature (2).
    uint256 internal constant WITHDRAWAL_WORDS = 8;
    /// @dev More proof elements than any tree of a batch under the per-transaction gas cap can need.
    uint256 private constant _MAX_PROOF_LENGTH = 64;

    /**
     * @notice `ops[i].kind` and `ops[i].data` of a batch `OpsMerkle.root` has read, for `i < ops.length`.
     * @dev Reads the offsets exactly as `root` does (as Solidity's calldata accessors do, without
     * their range checks), so it sees the ops the root commits to: `applyBatchOps` runs only on
     * `settleBatch`'s calldata, forwarded unchanged after `root` read it and the coordinator's
     * signature over the root was checked. `root` also refused a `kind` with high bits set.
     */
    function at(ISettlement.Op[] calldata ops, uint256 i) internal pure returns (uint8 kind, bytes calldata data) {
        assembly ("memory-safe") {
            let element := add(ops.offset, calldataload(add(ops.offset, shl(5, i))))
            kind := calldataload(element)
            data.offset := add(add(element, calldataload(add(element, 0x20))), 0x20)
            data.length := calldataload(sub(data.offset, 0x20))
        }
    }

    /// @notice `abi.decode(data, (ISettlement.EscrowLockOp))`.
    function escrowLock(uint8 kind, bytes calldata data) internal pure returns (ISettlement.EscrowLockOp calldata o) {
        _requireLength(kind, data, ESCROW_LOCK_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (EscrowTerms, EscrowPosition, Signature, bytes32[]))`.
    function escrowDecision(uint8 kind, bytes calldata data)
        internal
        pure
        returns (ISettlement.EscrowDecisionOp calldata o, bytes32[] calldata proof)
    {
        proof = _proof(kind, data, ESCROW_DECISION_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (EscrowTerms, EscrowPosition, uint16, Signature, bytes32[]))`.
    function escrowRuling(uint8 kind, bytes calldata data)
        internal
        pure
        returns (ISettlement.EscrowRulingOp calldata o, bytes32[] calldata proof)
    {
        proof = _proof(kind, data, ESCROW_RULING_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (EscrowTerms, EscrowPosition, uint256, Signature, bytes32[]))`.
    function escrowPartialRelease(uint8 kind, bytes calldata data)
        internal
        pure
        returns (ISettlement.EscrowPartialReleaseOp calldata o, bytes32[] calldata proof)
    {
        proof = _proof(kind, data, ESCROW_PARTIAL_RELEASE_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (EscrowTerms, EscrowPosition, bytes32[]))`.
    function escrowReclaim(uint8 kind, bytes calldata data)
        internal
        pure
        returns (ISettlement.EscrowReclaimOp calldata o, bytes32[] calldata proof)
    {
        proof = _proof(kind, data, ESCROW_RECLAIM_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (ISettlement.ChannelFundOp))`.
    function channelFund(uint8 kind, bytes calldata data) internal pure returns (ISettlement.ChannelFundOp calldata o) {
        _requireLength(kind, data, CHANNEL_FUND_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (IPaymentChannels.SignedVoucher))`.
    function signedVoucher(uint8 kind, bytes calldata data)
        internal
        pure
        returns (IPaymentChannels.SignedVoucher calldata v)
    {
        // Not `_requireLength`: this runs once per op of every batch, and the call costs more than the check.
        if (data.length != SIGNED_VOUCHER_BYTES) {
            revert ISettlement.SettlementMalformedOp(kind, data.length, SIGNED_VOUCHER_BYTES);
        }
        assembly ("memory-safe") {
            v := data.offset
        }
    }

    /// @notice `abi.decode(data, (ISettlement.ChannelCloseOp))`.
    function channelClose(uint8 kind, bytes calldata data) internal pure returns (ISettlement.ChannelCloseOp calldata o) {
        _requireLength(kind, data, CHANNEL_CLOSE_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @notice `abi.decode(data, (IPaymentChannels.ChannelConfig))`.
    function channelConfig(uint8 kind, bytes calldata data)
        internal
        pure
        returns (IPaymentChannels.ChannelConfig calldata c)
    {
        _requireLength(kind, data, CHANNEL_CONFIG_WORDS);
        assembly ("memory-safe") {
            c := data.offset
        }
    }

    /// @notice `abi.decode(data, (ISettlement.WithdrawalOp))`.
    function withdrawal(uint8 kind, bytes calldata data) internal pure returns (ISettlement.WithdrawalOp calldata o) {
        _requireLength(kind, data, WITHDRAWAL_WORDS);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    function _requireLength(uint8 kind, bytes calldata data, uint256 words) private pure {
        // Cannot overflow: `words` is one of the constants above.
        unchecked {
            if (data.length != words * 32) revert ISettlement.SettlementMalformedOp(kind, data.length, words * 32);
        }
    }

    /**
     * @dev The `bytes32[]` after `words` static words: checks that the offset word points right after
     * itself (the canonical encoding) and that the data ends exactly with the array's last element.
     */
    function _proof(uint8 kind, bytes calldata data, uint256 words) private pure returns (bytes32[] calldata proof) {
        // The static words, then the array's offset word: where the array's length word must be.
        uint256 tail = (words + 1) * 32;
        if (data.length < tail + 32) revert ISettlement.SettlementMalformedOp(kind, data.length, tail + 32);
        uint256 offset;
        uint256 length;
        assembly ("memory-safe") {
            offset := calldataload(add(data.offset, mul(words, 32)))
            length := calldataload(add(data.offset, tail))
        }
        // Fits: length is at most _MAX_PROOF_LENGTH once the first check passes.
        uint256 expected = length > _MAX_PROOF_LENGTH ? type(uint256).max : tail + 32 + length * 32;
        if (offset != tail || data.length != expected) {
            revert ISettlement.SettlementMalformedOp(kind, data.length, expected);
        }
        assembly ("memory-safe") {
            proof.offset := add(data.offset, add(tail, 32))
            proof.length := length
        }
    }
}
