// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./IVault.sol";
import {IJobEscrow} from "./IJobEscrow.sol";
import {IPaymentChannels} from "./IPaymentChannels.sol";

/**
 * @title ISettlement
 * @notice Batch settlement: the coordinator applies many escrow, channel and withdrawal operations
 * in one transaction. Batches are numbered 1, 2, 3, ... and must land in order (no gaps, no replay).
 *
 * Trust: every op carries the signature of the user whose money it moves (the same one the direct
 * function needs), so the coordinator's batch signature only orders and authorizes the batch; it
 * cannot redirect funds. The coordinator's signature is what co-signs fast withdrawals in a batch.
 *
 * Audit: `BatchSettled.opsRoot` is the root of an OpenZeppelin `StandardMerkleTree` with leaf
 * encoding `['uint256', 'uint8', 'bytes32']`, leaf `i` = `[i, ops[i].kind, keccak256(ops[i].data)]`,
 * built with `{ sortLeaves: false }` (leaves in batch order; sorted-pair node hashing as the library
 * does). Carrying the index makes the root commit to the order of the ops. In JS:
 * `StandardMerkleTree.of(ops.map((op, i) => [i, op.kind, keccak256(op.data)]), ['uint256','uint8','bytes32'], { sortLeaves: false }).root`.
 *
 * Signatures are EIP-2098 compact (`IVault.Signature`), which keeps every op's data a static tuple
 * the vault reads in place from calldata, with no decoding step.
 *
 * Failure: a batch is all or nothing. When op `i` reverts, the whole batch reverts with
 * `SettlementOpFailed(i, reason)`, `reason` being the op's own revert data (a custom error of
 * IVault, IJobEscrow, IPaymentChannels, ISettlement or the token), so the settler can drop or fix
 * op `i` and resend the same batch number. Errors about the batch itself (order, signature,
 * emptiness) are not wrapped. Simulate first (`eth_call` / `eth_estimateGas`): a failing batch
 * costs more gas than a good one, because finding the op replays the batch op by op.
 */
interface ISettlement {
    /// @notice Kinds of batch ops. `Op.data` is the ABI encoding of the kind's values, the same
    /// values the direct function takes (all static, so the encoding is their 32-byte words in order):
    /// - EscrowLock (11 words): (EscrowTerms terms, Signature payerSignature) -- as `lockEscrow`
    /// - EscrowRelease (3): (bytes32 escrowId, Signature payerSignature) -- as `releaseEscrow`
    /// - EscrowRefund (3): (bytes32 escrowId, Signature payeeSignature) -- as `refundEscrow`
    /// - EscrowRuling (4): (bytes32 escrowId, uint16 payeeBps, Signature resolverSignature) -- as `ruleEscrow`
    /// - EscrowReclaim (1): (bytes32 escrowId) -- as `reclaimExpiredEscrow`
    /// - ChannelFund (8): (ChannelConfig config, uint256 totalDeposit, Signature callerSignature) -- as `fundChannel`
    /// - ChannelSettle (10): (SignedVoucher voucher) -- as `settleChannel`
    /// - ChannelClose (12): (SignedVoucher finalVoucher, Signature providerSignature) -- as `closeChannel`
    /// - ChannelFinalize (5): (ChannelConfig config) -- as `finalizeChannelClose`
    /// - Withdrawal (8): (Withdrawal withdrawal, Signature ownerSignature) -- as `withdraw`, whose
    ///   coordinator co-signature is the batch signature itself
    /// Inside a batch every user signature is required (the vault, as sender, is never a signer).
    enum OpKind {
        EscrowLock,
        EscrowRelease,
        EscrowRefund,
        EscrowRuling,
        EscrowReclaim,
        ChannelFund,
        ChannelSettle,
        ChannelClose,
        ChannelFinalize,
        Withdrawal
    }

    /// @notice One operation of a batch. `kind` is an `OpKind`; `data` its ABI-encoded values.
    struct Op {
        uint8 kind;
        bytes data;
    }

    /// @notice `Op.data` of an EscrowLock op.
    struct EscrowLockOp {
        IJobEscrow.EscrowTerms terms;
        IVault.Signature payerSignature;
    }

    /// @notice `Op.data` of an EscrowRelease (payer's signature) or EscrowRefund (payee's) op.
    struct EscrowDecisionOp {
        bytes32 escrowId;
        IVault.Signature signature;
    }

    /// @notice `Op.data` of an EscrowRuling op.
    struct EscrowRulingOp {
        bytes32 escrowId;
        uint16 payeeBps;
        IVault.Signature resolverSignature;
    }

    /// @notice `Op.data` of a ChannelFund op.
    struct ChannelFundOp {
        IPaymentChannels.ChannelConfig config;
        uint256 totalDeposit;
        IVault.Signature callerSignature;
    }

    /// @notice `Op.data` of a ChannelClose op.
    struct ChannelCloseOp {
        IPaymentChannels.SignedVoucher finalVoucher;
        IVault.Signature providerSignature;
    }

    /// @notice `Op.data` of a Withdrawal op.
    struct WithdrawalOp {
        IVault.Withdrawal withdrawal;
        IVault.Signature ownerSignature;
    }

    /// @notice Sums over a batch's ops, in base units (added across tokens if a batch mixes them).
    /// @param escrowLocked Amounts locked into escrows.
    /// @param escrowToPayees Net amounts credited to payees (releases, rulings).
    /// @param escrowToPayers Amounts credited back to payers (refunds, rulings, expiries).
    /// @param channelFunded Amounts moved from callers' balances into channels.
    /// @param channelSettled Gross amounts paid out of channels by vouchers (provider net + fee).
    /// @param channelRefunded Channel rests returned to callers on close.
    /// @param withdrawn Tokens paid out of the vault by withdrawals.
    /// @param fees Protocol fees credited to the treasury.
    /// @param resolverFees Fees credited to resolvers by rulings.
    struct BatchTotals {
        uint256 escrowLocked;
        uint256 escrowToPayees;
        uint256 escrowToPayers;
        uint256 channelFunded;
        uint256 channelSettled;
        uint256 channelRefunded;
        uint256 withdrawn;
        uint256 fees;
        uint256 resolverFees;
    }

    /// @notice What one op did, as the batch loop sums it.
    /// @param token The token of the op (fees are credited per token at the end of the batch).
    /// @param fee Protocol fee owed to the treasury.
    /// @param a First amount (see `BatchTotals` by kind: locked / to payee / to payer / funded / settled / withdrawn).
    /// @param b Second amount (to payer on a ruling, refund on a channel close).
    /// @param c Third amount (resolver fee on a ruling).
    struct OpResult {
        address token;
        uint256 fee;
        uint256 a;
        uint256 b;
        uint256 c;
    }

    /// @notice Thrown when batch `batchNumber` arrives but `expected` is next.
    error SettlementBatchOutOfOrder(uint64 expected, uint64 batchNumber);
    /// @notice Thrown when a batch has no ops.
    error SettlementEmptyBatch();
    /// @notice Thrown when the batch signature recovers to `recovered`, not the coordinator.
    error SettlementInvalidCoordinatorSignature(address coordinator, address recovered);
    /// @notice Thrown when op `index` reverts; `reason` is the op's own revert data.
    error SettlementOpFailed(uint256 index, bytes reason);
    /// @notice Thrown (wrapped in `SettlementOpFailed`) for an op of unknown `kind`.
    error SettlementUnknownOpKind(uint8 kind);
    /// @notice Thrown (wrapped in `SettlementOpFailed`) when an op's data is `length` bytes, not `expected`.
    error SettlementMalformedOp(uint8 kind, uint256 length, uint256 expected);
    /// @notice Thrown when anyone but the vault itself calls `applyBatchOps` or `applyBatchOp`.
    error SettlementOnlySelf(address caller);

    /// @notice Emitted once per batch: what an auditor recomputes from the ops (see the contract notice).
    event BatchSettled(uint64 indexed batchNumber, bytes32 opsRoot, uint256 opCount, BatchTotals totals);

    /**
     * @notice Applies `ops` in order as batch `batchNumber`, signed by the coordinator.
     * @dev `coordinatorSignature` is the coordinator's EIP-712 `Batch(uint64 batchNumber, bytes32 opsRoot)`.
     * Anyone may submit a signed batch. Reverts with `SettlementOpFailed(i, reason)` naming the first
     * failing op. Fees are credited to the treasury after the last op.
     * @param batchNumber Must be `lastBatchNumber() + 1`.
     * @param ops The operations, applied in order.
     * @param coordinatorSignature The coordinator's signature over the batch number and the ops root.
     */
    function settleBatch(uint64 batchNumber, Op[] calldata ops, IVault.Signature calldata coordinatorSignature)
        external;

    /**
     * @notice Applies `ops` in order and returns the totals. Only the vault itself calls it, from
     * `settleBatch`, so that a failing batch can be caught and its failing op searched for.
     * @dev Takes `settleBatch`'s parameters unchanged (the batch number and signature are checked
     * by `settleBatch` and ignored here), so `settleBatch` forwards its own calldata.
     * @param ops The batch's ops.
     * @return totals The batch totals.
     */
    function applyBatchOps(uint64 batchNumber, Op[] calldata ops, IVault.Signature calldata coordinatorSignature)
        external
        returns (BatchTotals memory totals);

    /**
     * @notice Applies one op. Only the vault itself calls it, from `settleBatch`, when replaying a
     * failed batch op by op to name the op that fails.
     * @param op The op.
     * @return result What the op did.
     */
    function applyBatchOp(Op calldata op) external returns (OpResult memory result);

    /// @notice The number of the last batch that landed (0 before the first).
    function lastBatchNumber() external view returns (uint64);
}
