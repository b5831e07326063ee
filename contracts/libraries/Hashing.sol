// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "../interfaces/IVault.sol";
import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";

/**
 * @title Hashing
 * @notice EIP-712 type hashes and struct hashes (`hashStruct`) of every signed message. Each message
 * has its own type hash, so a signature for one kind of message can never pass as another. The type
 * strings match `protocol/typed-data.ts` field for field. (The `Voucher` and `EscrowLock` struct
 * hashes are computed by `VoucherCodec` and `EscrowCodec`, on the settlement path.)
 * @dev Callers turn a struct hash into the digest that is signed with the vault's domain separator
 * (`Vault._hashTypedDataV4`).
 */
library Hashing {
    /// @notice Type hash of the account owner's fast withdrawal.
    bytes32 internal constant WITHDRAWAL_TYPEHASH = keccak256(
        "Withdrawal(address account,address token,uint256 amount,address to,uint256 nonce,uint256 deadline)"
    );
    /// @notice Type hash of the coordinator's co-signature of a fast withdrawal outside a batch.
    bytes32 internal constant WITHDRAWAL_APPROVAL_TYPEHASH = keccak256(
        "WithdrawalApproval(Withdrawal withdrawal)"
        "Withdrawal(address account,address token,uint256 amount,address to,uint256 nonce,uint256 deadline)"
    );
    /// @notice Type hash of the payer's escrow lock; the digest of a lock is the escrow's id.
    bytes32 internal constant ESCROW_LOCK_TYPEHASH = keccak256(
        "EscrowLock(address payer,address payee,address token,uint256 amount,address resolver,uint16 feeBps,uint16 resolverFeeBps,uint64 expiry,uint256 nonce,bool partialRelease)"
    );
    /// @notice Type hash of the payer's release of an escrow to the payee.
    bytes32 internal constant ESCROW_RELEASE_TYPEHASH = keccak256("EscrowRelease(bytes32 escrowId)");
    /// @notice Type hash of the payer's release of `amount` of an escrow to the payee, the rest back to itself.
    bytes32 internal constant ESCROW_PARTIAL_RELEASE_TYPEHASH =
        keccak256("EscrowPartialRelease(bytes32 escrowId,uint256 amount)");
    /// @notice Type hash of the payee's refund of an escrow to the payer.
    bytes32 internal constant ESCROW_REFUND_TYPEHASH = keccak256("EscrowRefund(bytes32 escrowId)");
    /// @notice Type hash of the resolver's ruling on an escrow.
    bytes32 internal constant ESCROW_RULING_TYPEHASH = keccak256("EscrowRuling(bytes32 escrowId,uint16 payeeBps)");
    /// @notice Type hash of the payee's on-chain dispute of an escrow.
    bytes32 internal constant ESCROW_DISPUTE_TYPEHASH = keccak256("EscrowDispute(bytes32 escrowId)");
    /// @notice Type hash of a channel's config; nobody signs it, its digest is the channel's id.
    bytes32 internal constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address caller,address provider,address token,uint16 feeBps,bytes32 salt)"
    );
    /// @notice Type hash of the caller's funding of a channel up to a total.
    bytes32 internal constant CHANNEL_FUNDING_TYPEHASH = keccak256(
        "ChannelFunding(bytes32 channelId,uint256 totalDeposit,uint256 nonce)"
    );
    /// @notice Type hash of the caller's cumulative voucher.
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(bytes32 channelId,uint64 sequence,uint256 cumulativeAmount,bytes32 callChain)"
    );
    /// @notice Type hash of the provider's cooperative close at a final amount.
    bytes32 internal constant CHANNEL_CLOSE_TYPEHASH = keccak256(
        "ChannelClose(bytes32 channelId,uint256 cumulativeAmount)"
    );
    /// @notice Type hash of the coordinator's signature of a settlement batch.
    bytes32 internal constant BATCH_TYPEHASH = keccak256("Batch(uint64 batchNumber,bytes32 opsRoot)");

    /// @notice hashStruct of a `Withdrawal`.
    function withdrawal(IVault.Withdrawal calldata w) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAWAL_TYPEHASH, w.account, w.token, w.amount, w.to, w.nonce, w.deadline));
    }

    /// @notice hashStruct of a `WithdrawalApproval` of the `Withdrawal` with struct hash `withdrawalHash`.
    function withdrawalApproval(bytes32 withdrawalHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAWAL_APPROVAL_TYPEHASH, withdrawalHash));
    }

    /// @notice hashStruct of an `EscrowRelease` of escrow `escrowId`.
    function escrowRelease(bytes32 escrowId) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_RELEASE_TYPEHASH, escrowId));
    }

    /// @notice hashStruct of an `EscrowPartialRelease` of `amount` of escrow `escrowId`.
    function escrowPartialRelease(bytes32 escrowId, uint256 amount) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_PARTIAL_RELEASE_TYPEHASH, escrowId, amount));
    }

    /// @notice hashStruct of an `EscrowRefund` of escrow `escrowId`.
    function escrowRefund(bytes32 escrowId) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_REFUND_TYPEHASH, escrowId));
    }

    /// @notice hashStruct of an `EscrowRuling` giving the payee `payeeBps` of escrow `escrowId`.
    function escrowRuling(bytes32 escrowId, uint16 payeeBps) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_RULING_TYPEHASH, escrowId, payeeBps));
    }

    /// @notice hashStruct of an `EscrowDispute` of escrow `escrowId`.
    function escrowDispute(bytes32 escrowId) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_DISPUTE_TYPEHASH, escrowId));
    }

    /// @notice hashStruct of a `ChannelConfig`.
    function channelConfig(IPaymentChannels.ChannelConfig calldata c) internal pure returns (bytes32) {
        return keccak256(abi.encode(CHANNEL_CONFIG_TYPEHASH, c.caller, c.provider, c.token, c.feeBps, c.salt));
    }

    /// @notice hashStruct of a `ChannelFunding` of channel `channelId` up to `totalDeposit`.
    function channelFunding(bytes32 channelId, uint256 totalDeposit, uint256 nonce) internal pure returns (bytes32) {
        return keccak256(abi.encode(CHANNEL_FUNDING_TYPEHASH, channelId, totalDeposit, nonce));
    }

    /// @notice hashStruct of a `ChannelClose` of channel `channelId` at `cumulativeAmount`.
    function channelClose(bytes32 channelId, uint256 cumulativeAmount) internal pure returns (bytes32) {
        return keccak256(abi.encode(CHANNEL_CLOSE_TYPEHASH, channelId, cumulativeAmount));
    }

    /// @notice hashStruct of a `Batch` numbered `batchNumber` with ops root `opsRoot`.
    function batch(uint64 batchNumber, bytes32 opsRoot) internal pure returns (bytes32) {
        return keccak256(abi.encode(BATCH_TYPEHASH, batchNumber, opsRoot));
    }
}
