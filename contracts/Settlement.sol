// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./interfaces/IVault.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {JobEscrow} from "./JobEscrow.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {FeeMath} from "./libraries/FeeMath.sol";
import {Hashing} from "./libraries/Hashing.sol";
import {OpData} from "./libraries/OpData.sol";
import {OpsMerkle} from "./libraries/OpsMerkle.sol";

/**
 * @title Settlement
 * @notice Numbered, coordinator-signed batches of escrow, channel and withdrawal operations (see
 * `ISettlement`), on top of every part of the vault.
 * @dev Execution: `_settleBatch` checks the batch (number, ops root, coordinator signature), then
 * applies all ops inline inside one call from the vault to itself (`applyBatchOps`). If that call
 * reverts, nothing of it stays, and the ops are applied again one per self-call (`applyBatchOp`),
 * each caught on its own: an op that reverts is skipped (`OpSkipped`), the others apply. The happy
 * path so pays one internal call per batch instead of one per op; the per-op path runs only when
 * some op fails (normally never: the settler simulates first and leaves failing ops out).
 * Both paths account the same way: each op yields what it moved in its token, summed per token in
 * memory, and the protocol fees are credited to the treasury from those sums after the last op, so
 * no op ever sees the batch's own fees, whichever path ran, and a batch of one token writes the
 * treasury's balance once. The escrows a batch locks become set `batchNumber`, whose root is
 * committed after the last op, in either path.
 * Ordering: the batch number is consumed and the signature checked before any op runs.
 * Trust assumptions: the coordinator's signature authorizes the batch (order, inclusion, and
 * co-signing fast withdrawals); every op still checks the signature of the user whose money it
 * moves, exactly as the direct function does, and ops run with the vault as `msg.sender`, which is
 * never a signer, so no op passes without its signature.
 */
abstract contract Settlement is JobEscrow, PaymentChannels {
    uint64 private _lastBatchNumber;

    /// @dev `ISettlement.settleBatch`.
    function _settleBatch(uint64 batchNumber, ISettlement.Op[] calldata ops, IVault.Signature calldata coordinatorSignature)
        internal
        returns (ISettlement.SkippedOp[] memory skipped)
    {
        uint64 expected = _lastBatchNumber + 1;
        if (batchNumber != expected) revert ISettlement.SettlementBatchOutOfOrder(expected, batchNumber);
        if (ops.length == 0) revert ISettlement.SettlementEmptyBatch();
        bytes32 root = OpsMerkle.root(ops);
        address coordinator_ = _currentCoordinator();
        address recovered = _recover(Hashing.batch(batchNumber, root), coordinatorSignature);
        if (recovered != coordinator_) revert ISettlement.SettlementInvalidCoordinatorSignature(coordinator_, recovered);
        _lastBatchNumber = batchNumber;

        // Forward this call's own calldata under `applyBatchOps`'s selector (same parameters), which
        // costs one memory copy instead of re-encoding every op.
        (bool isApplied, bytes memory returned) =
            address(this).call(bytes.concat(ISettlement.applyBatchOps.selector, msg.data[4:]));
        ISettlement.TokenTotals[] memory totals;
        if (isApplied) {
            totals = abi.decode(returned, (ISettlement.TokenTotals[]));
            skipped = new ISettlement.SkippedOp[](0);
        } else {
            (totals, skipped) = _applyOpsOneByOne(batchNumber, ops);
        }
        for (uint256 i; i < totals.length; ++i) {
            _creditTreasury(totals[i].token, totals[i].fees);
        }
        emit ISettlement.BatchSettled(batchNumber, root, ops.length, totals);
    }

    /**
     * @dev `ISettlement.applyBatchOps`: every op inline, all or nothing.
     * @return totals What the ops moved, per token, in order of first use.
     */
    function _applyBatchOps(uint64 batchNumber, ISettlement.Op[] calldata ops)
        internal
        returns (ISettlement.TokenTotals[] memory totals)
    {
        uint256 count = ops.length;
        // Allocated before the loop, whose per-op memory is reused (see below).
        totals = new ISettlement.TokenTotals[](count);
        bytes32[] memory escrowLeaves = new bytes32[](count);
        ISettlement.TokenTotals memory amounts;
        ISettlement.TokenTotals memory current;
        uint256 tokenCount;
        uint256 escrowCount;
        for (uint256 i; i < count; ++i) {
            ISettlement.Op calldata op = ops[i];
            uint8 kind = op.kind;
            uint256 freeMemory = _freeMemoryPointer();
            if (kind == uint8(ISettlement.OpKind.ChannelSettle)) {
                // The hot path, kept out of the generic per-op bookkeeping below.
                (address token, uint256 amount, uint256 fee) = _settleChannel(OpData.signedVoucher(kind, op.data));
                // Nothing the op allocated outlives it (its results are on the stack), so the next op
                // reuses the memory instead of growing it, and paying for it, batch-long.
                _setFreeMemoryPointer(freeMemory);
                if (tokenCount == 0 || token != current.token) (current, tokenCount) = _totalsOf(totals, tokenCount, token);
                // Cannot overflow: settled amounts are parts of the tokens this vault holds.
                unchecked {
                    current.channelSettled += amount;
                    current.fees += fee;
                }
            } else {
                amounts = _clear(amounts);
                bytes32 lockedEscrowId = _applyOp(batchNumber, escrowCount, kind, op.data, amounts);
                _setFreeMemoryPointer(freeMemory);
                if (lockedEscrowId != 0) escrowCount = _appendEscrowLeaf(escrowLeaves, escrowCount, lockedEscrowId);
                if (tokenCount == 0 || amounts.token != current.token) {
                    (current, tokenCount) = _totalsOf(totals, tokenCount, amounts.token);
                }
                _add(current, amounts);
            }
        }
        _finishBatchOps(batchNumber, totals, tokenCount, escrowLeaves, escrowCount);
    }

    /// @dev `ISettlement.applyBatchOp`: one op, for the per-op path.
    function _applyBatchOp(uint64 batchNumber, uint256 escrowIndex, ISettlement.Op calldata op)
        internal
        returns (ISettlement.TokenTotals memory amounts, bytes32 lockedEscrowId)
    {
        lockedEscrowId = _applyOp(batchNumber, escrowIndex, op.kind, op.data, amounts);
    }

    function _lastSettledBatchNumber() internal view returns (uint64) {
        return _lastBatchNumber;
    }

    // ---------------------------------------------------------------- internal

    /**
     * @dev The per-op path: each op in its own self-call, so one that reverts is undone alone and
     * skipped. An op that fails with at most 1/64 of the gas it started with left ran out of gas
     * (EIP-150 leaves the caller 1/64): that reverts the whole batch, because skipping it would
     * let whoever sends the batch choose which ops to drop by the gas limit.
     */
    function _applyOpsOneByOne(uint64 batchNumber, ISettlement.Op[] calldata ops)
        private
        returns (ISettlement.TokenTotals[] memory totals, ISettlement.SkippedOp[] memory skipped)
    {
        uint256 count = ops.length;
        totals = new ISettlement.TokenTotals[](count);
        skipped = new ISettlement.SkippedOp[](count);
        bytes32[] memory escrowLeaves = new bytes32[](count);
        uint256 tokenCount;
        uint256 skippedCount;
        uint256 escrowCount;
        for (uint256 i; i < count; ++i) {
            uint256 gasBefore = gasleft();
            try ISettlement(address(this)).applyBatchOp(batchNumber, escrowCount, ops[i]) returns (
                ISettlement.TokenTotals memory amounts, bytes32 lockedEscrowId
            ) {
                if (lockedEscrowId != 0) escrowCount = _appendEscrowLeaf(escrowLeaves, escrowCount, lockedEscrowId);
                ISettlement.TokenTotals memory sums;
                (sums, tokenCount) = _totalsOf(totals, tokenCount, amounts.token);
                _add(sums, amounts);
            } catch (bytes memory reason) {
                if (gasleft() <= gasBefore / 64) revert ISettlement.SettlementOutOfGas(i);
                skipped[skippedCount++] = ISettlement.SkippedOp(i, reason);
                emit ISettlement.OpSkipped(batchNumber, i, reason);
            }
        }
        assembly ("memory-safe") {
            mstore(skipped, skippedCount)
        }
        _finishBatchOps(batchNumber, totals, tokenCount, escrowLeaves, escrowCount);
    }

    /// @dev Puts the leaf of escrow `escrowId` at index `count` of the set being built; returns the new count.
    function _appendEscrowLeaf(bytes32[] memory leaves, uint256 count, bytes32 escrowId)
        private
        pure
        returns (uint256)
    {
        leaves[count] = OpsMerkle.escrowLeaf(count, escrowId);
        return count + 1;
    }

    /// @dev Commits the batch's escrow set, if it locked any, and trims `totals` to `tokenCount`.
    function _finishBatchOps(
        uint64 batchNumber,
        ISettlement.TokenTotals[] memory totals,
        uint256 tokenCount,
        bytes32[] memory escrowLeaves,
        uint256 escrowCount
    ) private {
        if (escrowCount != 0) {
            _commitEscrowSet(batchNumber, OpsMerkle.rootOfLeaves(escrowLeaves, escrowCount), escrowCount);
        }
        assembly ("memory-safe") {
            mstore(totals, tokenCount)
        }
    }

    /**
     * @dev Applies one op of kind `kind` with data `data`, writing what it moved into `amounts`
     * (zeroed by the caller). An escrow lock takes `escrowIndex` in set `batchNumber`.
     * @return lockedEscrowId The escrow a lock op locked; zero for other kinds.
     */
    function _applyOp(
        uint64 batchNumber,
        uint256 escrowIndex,
        uint8 kind,
        bytes calldata data,
        ISettlement.TokenTotals memory amounts
    ) private returns (bytes32 lockedEscrowId) {
        // Channel settlement first: it is by far the most frequent op.
        if (kind == uint8(ISettlement.OpKind.ChannelSettle)) {
            (amounts.token, amounts.channelSettled, amounts.fees) = _settleChannel(OpData.signedVoucher(kind, data));
        } else if (kind <= uint8(ISettlement.OpKind.EscrowReclaim)) {
            lockedEscrowId = _applyEscrowOp(batchNumber, escrowIndex, kind, data, amounts);
        } else if (kind == uint8(ISettlement.OpKind.ChannelFund)) {
            ISettlement.ChannelFundOp calldata o = OpData.channelFund(kind, data);
            amounts.channelFunded =
                _fundChannel(o.config, o.totalDeposit, o.nonce, o.callerSignature.r, o.callerSignature.vs);
            amounts.token = o.config.token;
        } else if (kind == uint8(ISettlement.OpKind.ChannelClose)) {
            ISettlement.ChannelCloseOp calldata o = OpData.channelClose(kind, data);
            (amounts.channelSettled, amounts.fees, amounts.channelRefunded) =
                _closeChannel(o.finalVoucher, o.providerSignature);
            amounts.token = o.finalVoucher.config.token;
        } else if (kind == uint8(ISettlement.OpKind.ChannelFinalize)) {
            IPaymentChannels.ChannelConfig calldata c = OpData.channelConfig(kind, data);
            amounts.channelRefunded = _finalizeChannelClose(c);
            amounts.token = c.token;
        } else if (kind == uint8(ISettlement.OpKind.Withdrawal)) {
            ISettlement.WithdrawalOp calldata o = OpData.withdrawal(kind, data);
            // The coordinator's batch signature is the co-signature a fast withdrawal needs.
            amounts.withdrawn = _withdrawSigned(o.withdrawal, Hashing.withdrawal(o.withdrawal), o.ownerSignature);
            amounts.token = o.withdrawal.token;
        } else {
            revert ISettlement.SettlementUnknownOpKind(kind);
        }
    }

    /// @dev `_applyOp` for the escrow kinds (EscrowLock to EscrowReclaim).
    function _applyEscrowOp(
        uint64 batchNumber,
        uint256 escrowIndex,
        uint8 kind,
        bytes calldata data,
        ISettlement.TokenTotals memory amounts
    ) private returns (bytes32 lockedEscrowId) {
        if (kind == uint8(ISettlement.OpKind.EscrowLock)) {
            ISettlement.EscrowLockOp calldata o = OpData.escrowLock(kind, data);
            lockedEscrowId = _lockEscrow(o.terms, o.payerSignature, batchNumber, escrowIndex);
            amounts.token = o.terms.token;
            amounts.escrowLocked = o.terms.amount;
        } else if (kind == uint8(ISettlement.OpKind.EscrowRelease)) {
            (ISettlement.EscrowDecisionOp calldata o, bytes32[] calldata proof) = OpData.escrowDecision(kind, data);
            (amounts.escrowToPayees, amounts.fees) = _releaseEscrow(o.terms, o.position, o.signature, proof);
            amounts.token = o.terms.token;
        } else if (kind == uint8(ISettlement.OpKind.EscrowRefund)) {
            (ISettlement.EscrowDecisionOp calldata o, bytes32[] calldata proof) = OpData.escrowDecision(kind, data);
            amounts.escrowToPayers = _refundEscrow(o.terms, o.position, o.signature, proof);
            amounts.token = o.terms.token;
        } else if (kind == uint8(ISettlement.OpKind.EscrowRuling)) {
            (ISettlement.EscrowRulingOp calldata o, bytes32[] calldata proof) = OpData.escrowRuling(kind, data);
            FeeMath.RulingSplit memory split =
                _ruleEscrow(o.terms, o.position, o.payeeBps, o.resolverSignature, proof);
            amounts.token = o.terms.token;
            amounts.escrowToPayees = split.payeeAmount;
            amounts.escrowToPayers = split.payerAmount;
            amounts.fees = split.fee;
            amounts.resolverFees = split.resolverFee;
        } else {
            (ISettlement.EscrowReclaimOp calldata o, bytes32[] calldata proof) = OpData.escrowReclaim(kind, data);
            amounts.escrowToPayers = _reclaimExpiredEscrow(o.terms, o.position, proof);
            amounts.token = o.terms.token;
        }
    }

    /**
     * @dev The entry of `token` in `totals` (its first `tokenCount` entries), appended if new.
     * @return sums The entry.
     * @return newCount `tokenCount`, plus one if it was appended.
     */
    function _totalsOf(ISettlement.TokenTotals[] memory totals, uint256 tokenCount, address token)
        private
        pure
        returns (ISettlement.TokenTotals memory sums, uint256 newCount)
    {
        for (uint256 i; i < tokenCount; ++i) {
            if (totals[i].token == token) return (totals[i], tokenCount);
        }
        sums.token = token;
        totals[tokenCount] = sums;
        newCount = tokenCount + 1;
    }

    /// @dev Adds one op's `amounts` to the same token's `sums`.
    function _add(ISettlement.TokenTotals memory sums, ISettlement.TokenTotals memory amounts) private pure {
        // Cannot overflow: every amount is a part of the tokens this vault holds.
        unchecked {
            sums.escrowLocked += amounts.escrowLocked;
            sums.escrowToPayees += amounts.escrowToPayees;
            sums.escrowToPayers += amounts.escrowToPayers;
            sums.resolverFees += amounts.resolverFees;
            sums.channelFunded += amounts.channelFunded;
            sums.channelSettled += amounts.channelSettled;
            sums.channelRefunded += amounts.channelRefunded;
            sums.withdrawn += amounts.withdrawn;
            sums.fees += amounts.fees;
        }
    }

    /// @dev Zeroes a scratch `amounts` for the next op and returns it.
    function _clear(ISettlement.TokenTotals memory amounts) private pure returns (ISettlement.TokenTotals memory) {
        assembly ("memory-safe") {
            // Ten words: the token and nine amounts.
            mstore(amounts, 0)
            mstore(add(amounts, 0x20), 0)
            mstore(add(amounts, 0x40), 0)
            mstore(add(amounts, 0x60), 0)
            mstore(add(amounts, 0x80), 0)
            mstore(add(amounts, 0xa0), 0)
            mstore(add(amounts, 0xc0), 0)
            mstore(add(amounts, 0xe0), 0)
            mstore(add(amounts, 0x100), 0)
            mstore(add(amounts, 0x120), 0)
        }
        return amounts;
    }

    function _freeMemoryPointer() private pure returns (uint256 pointer) {
        assembly ("memory-safe") {
            pointer := mload(0x40)
        }
    }

    function _setFreeMemoryPointer(uint256 pointer) private pure {
        assembly ("memory-safe") {
            mstore(0x40, pointer)
        }
    }
}
