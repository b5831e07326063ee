// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "../interfaces/IVault.sol";
import {IJobEscrow} from "../interfaces/IJobEscrow.sol";
import {IPaymentChannels} from "../interfaces/IPaymentChannels.sol";

/**
 * @title Hashing
 * @notice EIP-712 type hashes and struct hashes of every signed message. Each message has its own
 * type hash, so a signature for one kind of message can never pass as another. The type strings
 * match `protocol/typed-data.ts` field for field. (The `Voucher` struct hash is computed by
 * `VoucherCodec`, on the settlement hot path.)
 */
library Hashing {
    bytes32 internal constant WITHDRAWAL_TYPEHASH = keccak256(
        "Withdrawal(address account,address token,uint256 amount,address to,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant WITHDRAWAL_APPROVAL_TYPEHASH = keccak256(
        "WithdrawalApproval(Withdrawal withdrawal)"
        "Withdrawal(address account,address token,uint256 amount,address to,uint256 nonce,uint256 deadline)"
    );
    bytes32 internal constant ESCROW_LOCK_TYPEHASH = keccak256(
        "EscrowLock(bytes32 escrowId,address payer,address payee,address token,uint256 amount,address resolver,uint16 feeBps,uint16 resolverFeeBps,uint64 expiry)"
    );
    bytes32 internal constant ESCROW_RELEASE_TYPEHASH = keccak256("EscrowRelease(bytes32 escrowId)");
    bytes32 internal constant ESCROW_REFUND_TYPEHASH = keccak256("EscrowRefund(bytes32 escrowId)");
    bytes32 internal constant ESCROW_RULING_TYPEHASH = keccak256("EscrowRuling(bytes32 escrowId,uint16 payeeBps)");
    bytes32 internal constant CHANNEL_CONFIG_TYPEHASH = keccak256(
        "ChannelConfig(address caller,address provider,address token,uint16 feeBps,bytes32 salt)"
    );
    bytes32 internal constant CHANNEL_FUNDING_TYPEHASH = keccak256(
        "ChannelFunding(bytes32 channelId,uint256 totalDeposit)"
    );
    bytes32 internal constant VOUCHER_TYPEHASH = keccak256(
        "Voucher(bytes32 channelId,uint64 sequence,uint256 cumulativeAmount,bytes32 callChain)"
    );
    bytes32 internal constant CHANNEL_CLOSE_TYPEHASH = keccak256(
        "ChannelClose(bytes32 channelId,uint64 sequence,uint256 cumulativeAmount)"
    );
    bytes32 internal constant BATCH_TYPEHASH = keccak256("Batch(uint64 batchNumber,bytes32 opsRoot)");

    function withdrawal(IVault.Withdrawal calldata w) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAWAL_TYPEHASH, w.account, w.token, w.amount, w.to, w.nonce, w.deadline));
    }

    /// @param withdrawalHash The struct hash of the approved `Withdrawal`.
    function withdrawalApproval(bytes32 withdrawalHash) internal pure returns (bytes32) {
        return keccak256(abi.encode(WITHDRAWAL_APPROVAL_TYPEHASH, withdrawalHash));
    }

    function escrowLock(IJobEscrow.EscrowTerms calldata t) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                ESCROW_LOCK_TYPEHASH,
                t.escrowId,
                t.payer,
                t.payee,
                t.token,
                t.amount,
                t.resolver,
                t.feeBps,
                t.resolverFeeBps,
                t.expiry
            )
        );
    }

    function escrowRelease(bytes32 escrowId) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_RELEASE_TYPEHASH, escrowId));
    }

    function escrowRefund(bytes32 escrowId) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_REFUND_TYPEHASH, escrowId));
    }

    function escrowRuling(bytes32 escrowId, uint16 payeeBps) internal pure returns (bytes32) {
        return keccak256(abi.encode(ESCROW_RULING_TYPEHASH, escrowId, payeeBps));
    }

    function channelConfig(IPaymentChannels.ChannelConfig calldata c) internal pure returns (bytes32) {
        return keccak256(abi.encode(CHANNEL_CONFIG_TYPEHASH, c.caller, c.provider, c.token, c.feeBps, c.salt));
    }

    function channelFunding(bytes32 channelId, uint256 totalDeposit) internal pure returns (bytes32) {
        return keccak256(abi.encode(CHANNEL_FUNDING_TYPEHASH, channelId, totalDeposit));
    }

    function channelClose(bytes32 channelId, uint64 sequence, uint256 cumulativeAmount)
        internal
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(CHANNEL_CLOSE_TYPEHASH, channelId, sequence, cumulativeAmount));
    }

    function batch(uint64 batchNumber, bytes32 opsRoot) internal pure returns (bytes32) {
        return keccak256(abi.encode(BATCH_TYPEHASH, batchNumber, opsRoot));
    }
}
