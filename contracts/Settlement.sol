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
import {VoucherCodec} from "./libraries/VoucherCodec.sol";

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
    /// @dev `ISettlement.settleBatch`.
    function _settleBatch(uint64 batchNumber, ISettlement.Op[] calldata ops, IVault.Signature calldata coordinatorSignature)
        internal
        returns (ISettlement.SkippedOp[] memory skipped)
    {
        uint64 expected = _lastSettledBatchNumber() + 1;
        if (batchNumber != expected) revert ISettlement.SettlementBatchOutOfOrder(expected, batchNumber);
        if (ops.length == 0) revert ISettlement.SettlementEmptyBatch();
        bytes32 root = OpsMerkle.root(ops);
        address coordinator_ = _currentCoordinator();
        address recovered = _recover(Hashing.batch(batchNumber, root), coordinatorSignature);
        if (recovered != coordinator_) revert ISettlement.SettlementInvalidCoordinatorSignature(coordinator_, recovered);
        _setLastSettledBatchNumber(batchNumber);

        (bool isApplied, bytes memory returned) = _callSelfWithThisCalldata(ISettlement.applyBatchOps.selector);
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
        // Allocated before the loop, whose per-op memory is reused (see below).
        totals = _newTotals(ops.length);
        bytes32[] memory escrowLeaves = new bytes32[](ops.length);
        ISettlement.TokenTotals memory amounts;
        ISettlement.TokenTotals memory current;
        uint256 tokenCount;
        uint256 escrowCount;
        for (uint256 i; i < ops.length; ) {
            (uint8 kind, bytes calldata data) = OpData.at(ops, i);
            amounts = _clear(amounts);
            if (kind == uint8(ISettlement.OpKind.ChannelSettle)) {
                // The hot path, kept out of the generic per-op bookkeeping below: a run of channel
                // settlements in one token, settled in one loop and summed into `amounts`. It
                // releases the memory it used (the run's voucher list) before it returns.
                i = _settleChannelRun(ops, i, amounts);
            } else {
                uint256 freeMemory = _freeMemoryPointer();
                bytes32 lockedEscrowId = _applyOp(batchNumber, escrowCount, kind, data, amounts);
                // Nothing the op allocated outlives it (its results are in `amounts`, allocated
                // before the loop), so the next op reuses the memory instead of growing it, and
                // paying for it, batch-long.
                _setFreeMemoryPointer(freeMemory);
                if (lockedEscrowId != 0) escrowCount = _appendEscrowLeaf(escrowLeaves, escrowCount, lockedEscrowId);
                // Cannot overflow: i < ops.length.
                unchecked {
                    ++i;
                }
            }
            if (tokenCount == 0 || amounts.token != current.token) {
                (current, tokenCount) = _totalsOf(totals, tokenCount, amounts.token);
            }
            _add(current, amounts);
        }
        _finishBatchOps(batchNumber, totals, tokenCount, escrowLeaves, escrowCount);
    }

    /**
     * @dev Settles op `start`, a ChannelSettle op, and the ChannelSettle ops right after it whose
     * vouchers name the same token, each as `_applyOp` would, in one `_settleVouchers` loop, and
     * writes what they moved into `amounts` (zeroed by the caller).
     * @return end The index of the first op after the run.
     */
    function _settleChannelRun(ISettlement.Op[] calldata ops, uint256 start, ISettlement.TokenTotals memory amounts)
        private
        returns (uint256 end)
    {
        IPaymentChannels.SignedVoucher calldata first;
        {
            (, bytes calldata data) = OpData.at(ops, start);
            first = OpData.signedVoucher(uint8(ISettlement.OpKind.ChannelSettle), data);
        }
        // Read before `_settleVouchers` checks the voucher's encoding: a dirty token word differs
        // from every clean one, so it only ends the run, and its op then reverts on its own.
        address token = VoucherCodec.token(first);
        uint256[] memory vouchers;
        assembly ("memory-safe") {
            // The vouchers' calldata offsets, in memory at the free memory pointer: `first`, then
            // each next op that continues the run: a ChannelSettle op (kind 6) whose data is one
            // voucher (320 bytes: `OpData.SIGNED_VOUCHER_BYTES`) naming `token`, read as
            // `OpData.at` reads it. An op that does not, well formed or not, is left to the
            // caller's loop.
            function collect(list, head, lastHead, heads, tokenWord) -> next {
                let cursor := add(list, 0x20)
                for {} lt(head, lastHead) {} {
                    head := add(head, 0x20)
                    let element := add(heads, calldataload(head))
                    let data := add(element, calldataload(add(element, 0x20)))
                    let isRunGoingOn := and(eq(calldataload(element), 6), eq(calldataload(data), 320))
                    if iszero(and(isRunGoingOn, eq(calldataload(add(data, 0x60)), tokenWord))) {
                        break
                    }
                    cursor := add(cursor, 0x20)
                    mstore(cursor, add(data, 0x20))
                }
                mstore(0x40, add(cursor, 0x20))
                next := cursor
            }
            vouchers := mload(0x40)
            mstore(add(vouchers, 0x20), first)
            // Head words: op `start`'s, up to the last op's.
            let heads := ops.offset
            let last := collect(vouchers, add(heads, shl(5, start)), add(heads, shl(5, sub(ops.length, 1))), heads, token)
            let count := shr(5, sub(last, vouchers))
            mstore(vouchers, count)
            end := add(start, count)
        }
        (amounts.channelSettled, amounts.fees) = _settleVouchers(vouchers, _domainSeparatorV4());
        amounts.token = token;
        // The offsets are not needed any more: the next op reuses their memory.
        assembly ("memory-safe") {
            mstore(0x40, vouchers)
        }
    }

    /// @dev `ISettlement.applyBatchOp`: one op, for the per-op path.
    function _applyBatchOp(uint64 batchNumber, uint256 escrowIndex, ISettlement.Op calldata op)
        internal
        returns (ISettlement.TokenTotals memory amounts, bytes32 lockedEscrowId)
    {
        lockedEscrowId = _applyOp(batchNumber, escrowIndex, op.kind, op.data, amounts);
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
        } else if (kind == uint8(ISettlement.OpKind.EscrowPartialRelease)) {
            (ISettlement.EscrowPartialReleaseOp calldata o, bytes32[] calldata proof) =
                OpData.escrowPartialRelease(kind, data);
            (amounts.escrowToPayees, amounts.fees, amounts.escrowToPayers) =
                _partiallyReleaseEscrow(o.terms, o.position, o.amount, o.payerSignature, proof);
            amounts.token = o.terms.token;
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

    /**
     * @dev An array of `length` entries for `_totalsOf` to fill, without the `length` zeroed structs
     * `new ISettlement.TokenTotals[](length)` would allocate and never use (`_totalsOf` appends an
     * entry per token, and only the first `tokenCount` entries are ever read).
     */
    function _newTotals(uint256 length) private pure returns (ISettlement.TokenTotals[] memory totals) {
        assembly ("memory-safe") {
            totals := mload(0x40)
            mstore(totals, length)
            // Null pointers (calldata past its end reads as zeros), so no entry points at stale memory.
            calldatacopy(add(totals, 0x20), calldatasize(), shl(5, length))
            mstore(0x40, add(add(totals, 0x20), shl(5, length)))
        }
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

    /**
     * @dev Calls this contract with this call's own calldata under `selector` (a function with the
     * same parameters), which costs one copy of the calldata into memory instead of re-encoding
     * every op (`bytes.concat(selector, msg.data[4:])` would copy it twice). The returned bytes
     * overwrite the copy, which the call no longer needs.
     */
    function _callSelfWithThisCalldata(bytes4 selector) private returns (bool isSuccess, bytes memory returned) {
        assembly ("memory-safe") {
            returned := mload(0x40)
            mstore(returned, selector)
            calldatacopy(add(returned, 0x04), 0x04, sub(calldatasize(), 0x04))
            isSuccess := call(gas(), address(), 0, returned, calldatasize(), 0, 0)
            mstore(returned, returndatasize())
            returndatacopy(add(returned, 0x20), 0, returndatasize())
            mstore(0x40, add(add(returned, 0x20), and(add(returndatasize(), 0x1f), not(0x1f))))
        }
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
