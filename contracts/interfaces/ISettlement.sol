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
 * `BatchSettled.totals` sums what the applied ops moved, one entry per token in order of first use.
 * The escrows a batch locks form the escrow set numbered by the batch (see `IJobEscrow`), whose
 * root is committed after the batch's last op: an escrow can be paid out from the next batch on,
 * never in the batch that locks it.
 *
 * Signatures are EIP-2098 compact (`IVault.Signature`), which keeps every op's data a static tuple
 * the vault reads in place from calldata (escrow ops that name a locked escrow end with its Merkle
 * proof, a `bytes32[]`).
 *
 * Failure: one op that fails does not stop the others. An op that reverts is skipped: its effects
 * are undone, `OpSkipped(batchNumber, index, reason)` carries its own revert data (a custom error
 * of IVault, IJobEscrow, IPaymentChannels, ISettlement or the token), and every other op applies.
 * The ops root still commits to the skipped op. So nobody can hold up other users' ops, or make the
 * coordinator pay for a reverted batch, by making one op fail before the batch lands (spending the
 * balance it needs, say). `settleBatch` returns the skipped ops, so a simulation (`eth_call`) tells
 * the settler which to leave out before it sends. Errors about the batch itself (order, signature,
 * emptiness) revert it whole, as does running out of gas (an op that fails with less than 1/64 of
 * the gas it was given left is taken for an out-of-gas failure, not skipped), so a submitter cannot
 * pick a gas limit that skips ops. A batch whose ops all fail still takes its number. Skipping
 * applies the batch a second time, op by op, after the inline attempt spent its gas: a batch sent
 * with a limit of about twice its estimate lands whichever op fails (the coordinator's settler
 * sends 9/4), and pays only for the gas it uses. Ops see the treasury's balance without the
 * batch's own fees, which are credited after the last op.
 */
interface ISettlement {
    /// @notice Kinds of batch ops. `Op.data` is the ABI encoding of the kind's values, the same
    /// values the direct function takes, in words (static values only, unless a proof follows):
    /// - EscrowLock (12): (EscrowTerms terms, Signature payerSignature) -- as `lockEscrow`
    /// - EscrowRelease (14 + proof): (EscrowTerms terms, EscrowPosition position, Signature payerSignature, bytes32[] proof) -- as `releaseEscrow`
    /// - EscrowRefund (14 + proof): (EscrowTerms terms, EscrowPosition position, Signature payeeSignature, bytes32[] proof) -- as `refundEscrow`
    /// - EscrowRuling (15 + proof): (EscrowTerms terms, EscrowPosition position, uint16 payeeBps, Signature resolverSignature, bytes32[] proof) -- as `ruleEscrow`
    /// - EscrowReclaim (12 + proof): (EscrowTerms terms, EscrowPosition position, bytes32[] proof) -- as `reclaimExpiredEscrow`
    /// - ChannelFund (9): (ChannelConfig config, uint256 totalDeposit, uint256 nonce, Signature callerSignature) -- as `fundChannel`
    /// - ChannelSettle (10): (SignedVoucher voucher) -- as `settleChannel`
    /// - ChannelClose (12): (SignedVoucher finalVoucher, Signature providerSignature) -- as `closeChannel`
    /// - ChannelFinalize (5): (ChannelConfig config) -- as `finalizeChannelClose`
    /// - Withdrawal (8): (Withdrawal withdrawal, Signature ownerSignature) -- as `withdraw`, whose
    ///   coordinator co-signature is the batch signature itself
    /// - EscrowPartialRelease (15 + proof): (EscrowTerms terms, EscrowPosition position, uint256 amount, Signature payerSignature, bytes32[] proof)
    ///   -- batch only, and only on an escrow whose signed terms set `partialRelease` (a session's; a
    ///   job's escrow refuses it, so no payer key, the coordinator's included, claws one back):
    ///   `amount` (at most the escrow) to the payee less the fee, the rest back to the payer
    /// "+ proof" is one offset word, one length word and the proof's words: the standard ABI tail.
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
        Withdrawal,
        // Appended, so no earlier kind is renumbered.
        EscrowPartialRelease
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

    /// @notice The static head of an EscrowRelease (payer's signature) or EscrowRefund (payee's) op's
    /// data, which ends with the escrow's proof.
    struct EscrowDecisionOp {
        IJobEscrow.EscrowTerms terms;
        IJobEscrow.EscrowPosition position;
        IVault.Signature signature;
    }

    /// @notice The static head of an EscrowRuling op's data, which ends with the escrow's proof.
    struct EscrowRulingOp {
        IJobEscrow.EscrowTerms terms;
        IJobEscrow.EscrowPosition position;
        uint16 payeeBps;
        IVault.Signature resolverSignature;
    }

    /// @notice The static head of an EscrowPartialRelease op's data, which ends with the escrow's proof.
    struct EscrowPartialReleaseOp {
        IJobEscrow.EscrowTerms terms;
        IJobEscrow.EscrowPosition position;
        uint256 amount;
        IVault.Signature payerSignature;
    }

    /// @notice The static head of an EscrowReclaim op's data, which ends with the escrow's proof.
    struct EscrowReclaimOp {
        IJobEscrow.EscrowTerms terms;
        IJobEscrow.EscrowPosition position;
    }

    /// @notice `Op.data` of a ChannelFund op.
    struct ChannelFundOp {
        IPaymentChannels.ChannelConfig config;
        uint256 totalDeposit;
        uint256 nonce;
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

    /// @notice What ops moved in one token, in its base units: one op's amounts, or a batch's sums.
    /// @param token The token.
    /// @param escrowLocked Amounts locked into escrows.
    /// @param escrowToPayees Net amounts credited to payees (releases, partial releases, rulings).
    /// @param escrowToPayers Amounts credited back to payers (refunds, partial releases, rulings, expiries).
    /// @param resolverFees Fees credited to resolvers by rulings.
    /// @param channelFunded Amounts moved from callers' balances into channels.
    /// @param channelSettled Gross amounts paid out of channels by vouchers (provider net + fee).
    /// @param channelRefunded Channel rests returned to callers on close.
    /// @param withdrawn Amounts that left balances through withdrawals.
    /// @param fees Protocol fees credited to the treasury.
    struct TokenTotals {
        address token;
        uint256 escrowLocked;
        uint256 escrowToPayees;
        uint256 escrowToPayers;
        uint256 resolverFees;
        uint256 channelFunded;
        uint256 channelSettled;
        uint256 channelRefunded;
        uint256 withdrawn;
        uint256 fees;
    }

    /// @notice An op that a batch skipped: its index and its own revert data.
    struct SkippedOp {
        uint256 index;
        bytes reason;
    }

    /// @notice Thrown when batch `batchNumber` arrives but `expected` is next.
    error SettlementBatchOutOfOrder(uint64 expected, uint64 batchNumber);
    /// @notice Thrown when a batch has no ops.
    error SettlementEmptyBatch();
    /// @notice Thrown when the batch signature recovers to `recovered`, not the coordinator.
    error SettlementInvalidCoordinatorSignature(address coordinator, address recovered);
    /// @notice Thrown when op `index` runs out of gas: the batch was sent with too little.
    error SettlementOutOfGas(uint256 index);
    /// @notice An op's revert reason (in `OpSkipped`) when its `kind` is unknown.
    error SettlementUnknownOpKind(uint8 kind);
    /// @notice An op's revert reason (in `OpSkipped`) when its data is `length` bytes, not `expected`.
    error SettlementMalformedOp(uint8 kind, uint256 length, uint256 expected);
    /// @notice Thrown when anyone but the vault itself calls `applyBatchOps` or `applyBatchOp`.
    error SettlementOnlySelf(address caller);

    /// @notice Emitted once per batch: what an auditor recomputes from the ops (see the contract notice).
    event BatchSettled(uint64 indexed batchNumber, bytes32 opsRoot, uint256 opCount, TokenTotals[] totals);
    /// @notice Emitted when op `index` of batch `batchNumber` reverted with `reason` and was skipped.
    event OpSkipped(uint64 indexed batchNumber, uint256 index, bytes reason);

    /**
     * @notice Applies `ops` in order as batch `batchNumber`, signed by the coordinator, skipping
     * the ops that revert.
     * @dev `coordinatorSignature` is the coordinator's EIP-712 `Batch(uint64 batchNumber, bytes32 opsRoot)`.
     * Anyone may submit a signed batch. Fees are credited to the treasury after the last op.
     * @param batchNumber Must be `lastBatchNumber() + 1`.
     * @param ops The operations, applied in order.
     * @param coordinatorSignature The coordinator's signature over the batch number and the ops root.
     * @return skipped The ops that reverted and were skipped, in order (empty when all applied).
     */
    function settleBatch(uint64 batchNumber, Op[] calldata ops, IVault.Signature calldata coordinatorSignature)
        external
        returns (SkippedOp[] memory skipped);

    /**
     * @notice Applies `ops` in order, all or nothing, and returns the totals per token. Only the
     * vault itself calls it, from `settleBatch`: when it reverts, `settleBatch` applies the ops one
     * by one instead and skips those that fail.
     * @dev Takes `settleBatch`'s parameters unchanged (the signature is checked by `settleBatch` and
     * ignored here), so `settleBatch` forwards its own calldata.
     * @param batchNumber The batch, which numbers the escrow set of its locks.
     * @param ops The batch's ops.
     * @return totals What the ops moved, per token.
     */
    function applyBatchOps(uint64 batchNumber, Op[] calldata ops, IVault.Signature calldata coordinatorSignature)
        external
        returns (TokenTotals[] memory totals);

    /**
     * @notice Applies one op. Only the vault itself calls it, from `settleBatch`, to apply a batch
     * op by op when applying it whole failed.
     * @param batchNumber The batch, which numbers the escrow set of its locks.
     * @param escrowIndex The index an escrow this op locks takes in the set.
     * @param op The op.
     * @return amounts What the op moved.
     * @return lockedEscrowId The escrow it locked (zero for other kinds).
     */
    function applyBatchOp(uint64 batchNumber, uint256 escrowIndex, Op calldata op)
        external
        returns (TokenTotals memory amounts, bytes32 lockedEscrowId);

    /// @notice The number of the last batch that landed (0 before the first).
    function lastBatchNumber() external view returns (uint64);
}
