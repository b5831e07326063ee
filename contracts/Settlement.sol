// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ISettlement} from "./interfaces/ISettlement.sol";
import {JobEscrow} from "./JobEscrow.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {Hashing} from "./libraries/Hashing.sol";
import {OpsMerkle} from "./libraries/OpsMerkle.sol";

/**
 * @title Settlement
 * @notice Numbered, coordinator-signed batches of escrow, channel and withdrawal operations.
 * @dev Execution: `settleBatch` checks the batch (number, ops root, coordinator signature), then
 * applies all ops inline inside one call from the vault to itself (`applyBatchOps`). If that call
 * reverts, it replays the ops one per self-call (`applyBatchOp`) on the same untouched state, finds
 * the first op that reverts and reverts with `SettlementOpFailed(index, reason)`. The happy path so
 * pays one internal call per batch instead of one per op; the search only runs when the batch
 * fails anyway (normally in the settler's simulation, not on chain).
 * Ordering: the batch number is consumed and the signature checked before any op runs; protocol
 * fees are summed per token in memory and credited to the treasury after the last op, so a batch
 * of one token writes the treasury's balance once. Ops see the treasury's balance without the
 * batch's own fees.
 * Trust assumptions: the coordinator's signature authorizes the batch (order, inclusion, and
 * co-signing fast withdrawals); every op still checks the signature of the user whose money it
 * moves, exactly as the direct function does, and ops run with the vault as `msg.sender`, which is
 * never a signer, so no op passes without its signature.
 */
abstract contract Settlement is JobEscrow, PaymentChannels, ISettlement {
    uint64 private _lastBatchNumber;

    /// @inheritdoc ISettlement
    function settleBatch(uint64 batchNumber, Op[] calldata ops, Signature calldata coordinatorSignature)
        external
        nonReentrant
    {
        uint64 expected = _lastBatchNumber + 1;
        if (batchNumber != expected) revert SettlementBatchOutOfOrder(expected, batchNumber);
        if (ops.length == 0) revert SettlementEmptyBatch();
        bytes32 root = OpsMerkle.root(ops);
        address coordinator_ = coordinator();
        address recovered = _recover(Hashing.batch(batchNumber, root), coordinatorSignature);
        if (recovered != coordinator_) revert SettlementInvalidCoordinatorSignature(coordinator_, recovered);
        _lastBatchNumber = batchNumber;

        // Forward this call's own calldata under `applyBatchOps`'s selector (same parameters), which
        // costs one memory copy instead of re-encoding every op.
        (bool isApplied, bytes memory returned) =
            address(this).call(bytes.concat(this.applyBatchOps.selector, msg.data[4:]));
        if (!isApplied) _revertNamingFailedOp(ops, returned);
        emit BatchSettled(batchNumber, root, ops.length, abi.decode(returned, (BatchTotals)));
    }

    /// @inheritdoc ISettlement
    function applyBatchOps(uint64, Op[] calldata ops, Signature calldata)
        external
        returns (BatchTotals memory totals)
    {
        if (msg.sender != address(this)) revert SettlementOnlySelf(msg.sender);
        address feeToken;
        uint256 pendingFee;
        uint256 count = ops.length;
        for (uint256 i; i < count; ++i) {
            Op calldata op = ops[i];
            uint8 kind = op.kind;
            uint256 freeMemory = _freeMemoryPointer();
            address token;
            uint256 fee;
            if (kind == uint8(OpKind.ChannelSettle)) {
                // The hot path, kept out of the generic `OpResult` bookkeeping below.
                uint256 amount;
                (token, amount, fee) = _settleChannel(_asSignedVoucher(kind, op.data));
                // Cannot overflow: settled amounts are parts of the tokens this vault holds.
                unchecked {
                    totals.channelSettled += amount;
                    totals.fees += fee;
                }
            } else {
                OpResult memory result = _applyOp(kind, op.data);
                _addToTotals(totals, kind, result);
                (token, fee) = (result.token, result.fee);
            }
            if (fee != 0) {
                if (token != feeToken) {
                    _creditTreasury(feeToken, pendingFee);
                    feeToken = token;
                    pendingFee = fee;
                } else {
                    // Cannot overflow: fees are parts of amounts the vault holds.
                    unchecked {
                        pendingFee += fee;
                    }
                }
            }
            // Nothing the op allocated outlives this iteration (its result was just consumed), so
            // the next op reuses the memory instead of growing it, and paying for it, batch-long.
            _setFreeMemoryPointer(freeMemory);
        }
        _creditTreasury(feeToken, pendingFee);
    }

    /// @inheritdoc ISettlement
    function applyBatchOp(Op calldata op) external returns (OpResult memory) {
        if (msg.sender != address(this)) revert SettlementOnlySelf(msg.sender);
        return _applyOp(op.kind, op.data);
    }

    /// @inheritdoc ISettlement
    function lastBatchNumber() external view returns (uint64) {
        return _lastBatchNumber;
    }

    // ---------------------------------------------------------------- internal

    /// @dev Applies one op of kind `kind` with data `data`; returns what it did.
    function _applyOp(uint8 kind, bytes calldata data) private returns (OpResult memory result) {
        // Channel settlement first: it is by far the most frequent op.
        if (kind == uint8(OpKind.ChannelSettle)) {
            (result.token, result.a, result.fee) = _settleChannel(_asSignedVoucher(kind, data));
        } else if (kind == uint8(OpKind.EscrowLock)) {
            EscrowLockOp calldata o = _asEscrowLockOp(kind, data);
            result.token = o.terms.token;
            result.a = _lockEscrow(o.terms, o.payerSignature);
        } else if (kind == uint8(OpKind.EscrowRelease)) {
            EscrowDecisionOp calldata o = _asEscrowDecisionOp(kind, data);
            (result.token, result.a, result.fee) = _releaseEscrow(o.escrowId, o.signature);
        } else if (kind == uint8(OpKind.EscrowRefund)) {
            EscrowDecisionOp calldata o = _asEscrowDecisionOp(kind, data);
            (result.token, result.a) = _refundEscrow(o.escrowId, o.signature);
        } else if (kind == uint8(OpKind.EscrowRuling)) {
            EscrowRulingOp calldata o = _asEscrowRulingOp(kind, data);
            uint256[4] memory parts;
            (result.token, parts) = _ruleEscrow(o.escrowId, o.payeeBps, o.resolverSignature);
            (result.a, result.b, result.fee, result.c) = (parts[0], parts[1], parts[2], parts[3]);
        } else if (kind == uint8(OpKind.EscrowReclaim)) {
            _requireLength(kind, data, 32);
            (result.token, result.a) = _reclaimExpiredEscrow(bytes32(data));
        } else if (kind == uint8(OpKind.ChannelFund)) {
            ChannelFundOp calldata o = _asChannelFundOp(kind, data);
            result.token = o.config.token;
            result.a = _fundChannel(o.config, o.totalDeposit, o.callerSignature.r, o.callerSignature.vs);
        } else if (kind == uint8(OpKind.ChannelClose)) {
            ChannelCloseOp calldata o = _asChannelCloseOp(kind, data);
            result.token = o.finalVoucher.config.token;
            (result.a, result.fee, result.b) = _closeChannel(o.finalVoucher, o.providerSignature);
        } else if (kind == uint8(OpKind.ChannelFinalize)) {
            ChannelConfig calldata c = _asChannelConfig(kind, data);
            result.token = c.token;
            result.b = _finalizeChannelClose(c);
        } else if (kind == uint8(OpKind.Withdrawal)) {
            WithdrawalOp calldata o = _asWithdrawalOp(kind, data);
            // The coordinator's batch signature is the co-signature a fast withdrawal needs.
            _withdrawSigned(o.withdrawal, Hashing.withdrawal(o.withdrawal), o.ownerSignature);
            result.token = o.withdrawal.token;
            result.a = o.withdrawal.amount;
        } else {
            revert SettlementUnknownOpKind(kind);
        }
    }

    /**
     * @dev The batch reverted with `batchReason`: replays its ops one per self-call on the same
     * state and reverts with `SettlementOpFailed(i, reason)` for the first op that reverts. If none
     * does alone (the batch ran out of gas, say), re-throws `batchReason` as it was.
     */
    function _revertNamingFailedOp(Op[] calldata ops, bytes memory batchReason) private {
        for (uint256 i; i < ops.length; ++i) {
            try this.applyBatchOp(ops[i]) {} catch (bytes memory reason) {
                revert SettlementOpFailed(i, reason);
            }
        }
        assembly ("memory-safe") {
            revert(add(batchReason, 0x20), mload(batchReason))
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

    // Op data views. Every op's data is a static ABI tuple, so once its length is exactly the
    // tuple's size, a calldata pointer to its first byte reads the fields in place: no decoding,
    // no copy, and nothing outside `data` (whose hash is the op's leaf) can be read.

    function _requireLength(uint8 kind, bytes calldata data, uint256 expected) private pure {
        if (data.length != expected) revert SettlementMalformedOp(kind, data.length, expected);
    }

    function _asSignedVoucher(uint8 kind, bytes calldata data) private pure returns (SignedVoucher calldata v) {
        _requireLength(kind, data, 10 * 32);
        assembly ("memory-safe") {
            v := data.offset
        }
    }

    function _asEscrowLockOp(uint8 kind, bytes calldata data) private pure returns (EscrowLockOp calldata o) {
        _requireLength(kind, data, 11 * 32);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    function _asEscrowDecisionOp(uint8 kind, bytes calldata data) private pure returns (EscrowDecisionOp calldata o) {
        _requireLength(kind, data, 3 * 32);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    function _asEscrowRulingOp(uint8 kind, bytes calldata data) private pure returns (EscrowRulingOp calldata o) {
        _requireLength(kind, data, 4 * 32);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    function _asChannelFundOp(uint8 kind, bytes calldata data) private pure returns (ChannelFundOp calldata o) {
        _requireLength(kind, data, 8 * 32);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    function _asChannelCloseOp(uint8 kind, bytes calldata data) private pure returns (ChannelCloseOp calldata o) {
        _requireLength(kind, data, 12 * 32);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    function _asChannelConfig(uint8 kind, bytes calldata data) private pure returns (ChannelConfig calldata c) {
        _requireLength(kind, data, 5 * 32);
        assembly ("memory-safe") {
            c := data.offset
        }
    }

    function _asWithdrawalOp(uint8 kind, bytes calldata data) private pure returns (WithdrawalOp calldata o) {
        _requireLength(kind, data, 8 * 32);
        assembly ("memory-safe") {
            o := data.offset
        }
    }

    /// @dev Adds one op's amounts to the batch totals (see `BatchTotals` for what each field sums).
    function _addToTotals(BatchTotals memory t, uint8 kind, OpResult memory r) private pure {
        // Cannot overflow: every amount is a part of the tokens this vault holds.
        unchecked {
            t.fees += r.fee;
            if (kind == uint8(OpKind.ChannelSettle)) {
                t.channelSettled += r.a;
            } else if (kind == uint8(OpKind.EscrowLock)) {
                t.escrowLocked += r.a;
            } else if (kind == uint8(OpKind.EscrowRelease)) {
                t.escrowToPayees += r.a;
            } else if (kind == uint8(OpKind.EscrowRefund) || kind == uint8(OpKind.EscrowReclaim)) {
                t.escrowToPayers += r.a;
            } else if (kind == uint8(OpKind.EscrowRuling)) {
                t.escrowToPayees += r.a;
                t.escrowToPayers += r.b;
                t.resolverFees += r.c;
            } else if (kind == uint8(OpKind.ChannelFund)) {
                t.channelFunded += r.a;
            } else if (kind == uint8(OpKind.ChannelClose) || kind == uint8(OpKind.ChannelFinalize)) {
                t.channelSettled += r.a;
                t.channelRefunded += r.b;
            } else {
                t.withdrawn += r.a;
            }
        }
    }
}
