// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IVault} from "./interfaces/IVault.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {Vault} from "./Vault.sol";
import {EscrowCodec} from "./libraries/EscrowCodec.sol";
import {FeeMath} from "./libraries/FeeMath.sol";
import {Hashing} from "./libraries/Hashing.sol";
import {OpsMerkle} from "./libraries/OpsMerkle.sol";

/**
 * @title JobEscrow
 * @notice Escrows per job assignment, funded from and paid into vault balances (see `IJobEscrow`).
 * @dev Storage per escrow is one bit: escrows locked together share one Merkle root (see
 * `IJobEscrow`), and a bitmap over (set, index) marks the ones paid out. A lock writes no escrow
 * record at all (its cost is the payer's balance and nonce); the terms come back in calldata and
 * are read once into memory (`EscrowCodec`). A set of several escrows also sets a marker bit in its
 * first bitmap word when it is committed, so that word is never written from zero later: the
 * first payout of each set costs what the others do, and the set pays the first write once.
 * Trust assumptions: the payer's signed lock names the payee, the resolver and both fee rates, so
 * it is the payer who agrees to the resolver; the payee agreed to the same terms off-chain when it
 * took the job, and may refund them. Every payout goes to an internal balance, never to a token
 * transfer, so a token that blacklists one party can never block the other's escrow. An escrow id
 * is the digest of terms that include a payer nonce the lock consumes, so a lock lands once; a
 * paid-out escrow's bit never clears, so it is paid once.
 */
abstract contract JobEscrow is Vault {
    using BitMaps for BitMaps.BitMap;

    /// @notice The highest resolver fee an escrow may carry, in basis points (10%).
    uint16 public constant MAX_RESOLVER_FEE_BPS = 1_000;
    /// @notice How long an on-chain dispute keeps the payer from reclaiming an escrow.
    uint64 public constant DISPUTE_RULING_PERIOD = 14 days;
    /// @notice Set ids from here on belong to direct locks; below it they are batch numbers.
    uint256 public constant DIRECT_SET_BASE = 1 << 64;

    mapping(uint256 setId => bytes32 root) private _escrowSetRoots;
    /// @dev Keyed by `setId << 32 | (index + 1)`; key `setId << 32` is the set's marker. Sets hold
    /// fewer than 2^32 - 1 escrows.
    BitMaps.BitMap private _closedEscrows;
    mapping(bytes32 escrowId => uint64 rulingDeadline) private _rulingDeadlines;
    uint64 private _directSetCount;

    /// @dev Indexes of a set are below this, so `index + 1` fits the 32 bits of a bitmap key.
    uint256 private constant _MAX_SET_SIZE = (1 << 32) - 1;

    /// @dev The id of the escrow with terms `t`: the EIP-712 digest of the payer's `EscrowLock`.
    function _escrowId(EscrowCodec.Terms memory t) internal view returns (bytes32) {
        return _hashTypedDataV4(EscrowCodec.structHash(t));
    }

    /**
     * @dev Locks a new escrow from the payer's balance at `index` of set `setId`; the caller commits
     * the set's root. Consumes the payer's nonce.
     * @return escrowId The new escrow's id.
     */
    function _lockEscrow(
        IJobEscrow.EscrowTerms calldata terms,
        IVault.Signature calldata payerSignature,
        uint256 setId,
        uint256 index
    ) internal returns (bytes32 escrowId) {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        if (t.payee == address(0) || t.payee == t.payer || t.resolver == t.payer || t.resolver == t.payee) {
            revert IJobEscrow.JobEscrowInvalidParties(t.payer, t.payee, t.resolver);
        }
        _requireAllowedToken(t.token);
        // Zero is refused so that nobody can open an escrow that costs nothing; the 96-bit bound
        // keeps `FeeMath` products far from overflow.
        if (t.amount == 0 || t.amount > type(uint96).max) revert IJobEscrow.JobEscrowInvalidAmount(t.amount);
        uint16 maxFeeBps = _protocolFeeBps();
        if (t.feeBps > maxFeeBps) revert IJobEscrow.JobEscrowFeeTooHigh(t.feeBps, maxFeeBps);
        if (t.resolverFeeBps > MAX_RESOLVER_FEE_BPS) {
            revert IJobEscrow.JobEscrowResolverFeeTooHigh(t.resolverFeeBps, MAX_RESOLVER_FEE_BPS);
        }
        if (t.expiry <= block.timestamp) revert IJobEscrow.JobEscrowExpiryInPast(t.expiry, block.timestamp);
        // The escrow id is the very digest the payer signs.
        escrowId = _escrowId(t);
        if (!_isSenderSigning(t.payer, payerSignature.r, payerSignature.vs)) {
            (bool isValid, address recovered) =
                _isDigestSignedBy(t.payer, escrowId, payerSignature.r, payerSignature.vs);
            if (!isValid) revert IJobEscrow.JobEscrowInvalidSignature(escrowId, t.payer, recovered);
        }

        _useNonce(t.payer, t.nonce);
        _debit(t.payer, t.token, t.amount);
        _emitEscrowLocked(escrowId, t, setId, index);
    }

    /// @dev `IJobEscrow.lockEscrow`: a lock alone in a new set, whose root is its leaf.
    function _lockEscrowAlone(IJobEscrow.EscrowTerms calldata t, IVault.Signature calldata payerSignature)
        internal
        returns (bytes32 escrowId, IJobEscrow.EscrowPosition memory position)
    {
        // Cannot overflow: a uint64 count of transactions.
        unchecked {
            position.setId = DIRECT_SET_BASE + ++_directSetCount;
        }
        escrowId = _lockEscrow(t, payerSignature, position.setId, 0);
        _commitEscrowSet(position.setId, OpsMerkle.escrowLeaf(0, escrowId), 1);
    }

    /// @dev Records the root of set `setId` of `count` escrows (and, for several, the set's marker bit).
    function _commitEscrowSet(uint256 setId, bytes32 root, uint256 count) internal {
        _escrowSetRoots[setId] = root;
        if (count > 1) _closedEscrows.set(setId << 32);
        emit IJobEscrow.EscrowSetCommitted(setId, root, count);
    }

    /// @dev Pays a locked escrow to its payee on the payer's word. The caller credits `fee` to the treasury.
    function _releaseEscrow(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        IVault.Signature calldata payerSignature,
        bytes32[] calldata proof
    ) internal returns (uint256 payeeAmount, uint256 fee) {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        bytes32 escrowId = _closeEscrow(t, position, proof);
        _requireSignedBy(t.payer, escrowId, Hashing.escrowRelease(escrowId), payerSignature);
        (payeeAmount, fee) = FeeMath.takeFee(t.amount, t.feeBps);
        _credit(t.payee, t.token, payeeAmount);
        emit IJobEscrow.EscrowReleased(escrowId, t.payee, payeeAmount, fee);
    }

    /**
     * @dev Pays `amount` of a locked escrow to its payee (less the fee on `amount` only) and the rest
     * back to its payer, on the payer's word; closes the escrow. The caller credits `fee` to the treasury.
     */
    function _partiallyReleaseEscrow(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        uint256 amount,
        IVault.Signature calldata payerSignature,
        bytes32[] calldata proof
    ) internal returns (uint256 payeeAmount, uint256 fee, uint256 payerAmount) {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        bytes32 escrowId = _closeEscrow(t, position, proof);
        // The flag is in the terms the escrow id hashes, so only the payer's signed lock sets it.
        if (!t.partialRelease) revert IJobEscrow.JobEscrowPartialReleaseNotAllowed(escrowId);
        if (amount > t.amount) revert IJobEscrow.JobEscrowPartialReleaseTooLarge(escrowId, amount, t.amount);
        _requireSignedBy(t.payer, escrowId, Hashing.escrowPartialRelease(escrowId, amount), payerSignature);
        (payeeAmount, fee) = FeeMath.takeFee(amount, t.feeBps);
        // Cannot underflow: amount <= t.amount, checked above.
        unchecked {
            payerAmount = t.amount - amount;
        }
        _credit(t.payee, t.token, payeeAmount);
        _credit(t.payer, t.token, payerAmount);
        emit IJobEscrow.EscrowPartiallyReleased(escrowId, t.payee, payeeAmount, fee, payerAmount);
    }

    /// @dev Returns a locked escrow to its payer on the payee's word.
    function _refundEscrow(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        IVault.Signature calldata payeeSignature,
        bytes32[] calldata proof
    ) internal returns (uint256 amount) {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        bytes32 escrowId = _closeEscrow(t, position, proof);
        _requireSignedBy(t.payee, escrowId, Hashing.escrowRefund(escrowId), payeeSignature);
        amount = t.amount;
        _credit(t.payer, t.token, amount);
        emit IJobEscrow.EscrowRefunded(escrowId, t.payer, amount);
    }

    /// @dev Applies the resolver's ruling, crediting payee, payer and resolver. The caller credits
    /// `split.fee` to the treasury.
    function _ruleEscrow(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        uint16 payeeBps,
        IVault.Signature calldata resolverSignature,
        bytes32[] calldata proof
    ) internal returns (FeeMath.RulingSplit memory split) {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        bytes32 escrowId = _closeEscrow(t, position, proof);
        address resolver = t.resolver;
        if (resolver == address(0)) revert IJobEscrow.JobEscrowNoResolver(escrowId);
        if (payeeBps > FeeMath.BPS) revert IJobEscrow.JobEscrowInvalidRuling(escrowId, payeeBps);
        _requireSignedBy(resolver, escrowId, Hashing.escrowRuling(escrowId, payeeBps), resolverSignature);
        split = FeeMath.splitRuling(t.amount, payeeBps, t.feeBps, t.resolverFeeBps);
        _credit(t.payee, t.token, split.payeeAmount);
        _credit(t.payer, t.token, split.payerAmount);
        _credit(resolver, t.token, split.resolverFee);
        emit IJobEscrow.EscrowRuled(
            escrowId, payeeBps, split.payeeAmount, split.payerAmount, split.fee, split.resolverFee
        );
    }

    /// @dev Returns an expired escrow to its payer; a rule of the contract, no signature needed.
    function _reclaimExpiredEscrow(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        bytes32[] calldata proof
    ) internal returns (uint256 amount) {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        bytes32 escrowId = _closeEscrow(t, position, proof);
        uint64 reclaimableAt = t.expiry;
        uint64 rulingDeadline = _rulingDeadlines[escrowId];
        if (rulingDeadline > reclaimableAt) reclaimableAt = rulingDeadline;
        if (block.timestamp < reclaimableAt) {
            revert IJobEscrow.JobEscrowNotReclaimable(escrowId, reclaimableAt, block.timestamp);
        }
        amount = t.amount;
        _credit(t.payer, t.token, amount);
        emit IJobEscrow.EscrowExpired(escrowId, t.payer, amount);
    }

    /// @dev `IJobEscrow.openEscrowDispute`.
    function _openEscrowDispute(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        IVault.Signature calldata payeeSignature,
        bytes32[] calldata proof
    ) internal {
        EscrowCodec.Terms memory t = EscrowCodec.load(terms);
        bytes32 escrowId = _requireLocked(t, position, proof);
        if (t.resolver == address(0)) revert IJobEscrow.JobEscrowNoResolver(escrowId);
        if (block.timestamp >= t.expiry) revert IJobEscrow.JobEscrowDisputeTooLate(escrowId, t.expiry, block.timestamp);
        uint64 existing = _rulingDeadlines[escrowId];
        if (existing != 0) revert IJobEscrow.JobEscrowAlreadyDisputed(escrowId, existing);
        _requireSignedBy(t.payee, escrowId, Hashing.escrowDispute(escrowId), payeeSignature);
        // Cannot overflow: a timestamp plus 14 days.
        uint64 rulingDeadline = uint64(block.timestamp) + DISPUTE_RULING_PERIOD;
        _rulingDeadlines[escrowId] = rulingDeadline;
        emit IJobEscrow.EscrowDisputed(escrowId, rulingDeadline);
    }

    function _escrowSetRoot(uint256 setId) internal view returns (bytes32) {
        return _escrowSetRoots[setId];
    }

    function _isEscrowClosed(uint256 setId, uint256 index) internal view returns (bool) {
        return index < _MAX_SET_SIZE && _closedEscrows.get(_closedKey(setId, index));
    }

    function _escrowRulingDeadline(bytes32 escrowId) internal view returns (uint64) {
        return _rulingDeadlines[escrowId];
    }

    /// @dev Checks that the escrow with terms `t` is locked at `position` and not paid out, then
    /// marks it paid out. Effects first: the caller's payout follows.
    function _closeEscrow(
        EscrowCodec.Terms memory t,
        IJobEscrow.EscrowPosition calldata position,
        bytes32[] calldata proof
    ) private returns (bytes32 escrowId) {
        escrowId = _requireLocked(t, position, proof);
        _closedEscrows.set(_closedKey(position.setId, position.index));
    }

    /// @dev The escrow's id, once its proof places it at `position` and it was not paid out.
    function _requireLocked(
        EscrowCodec.Terms memory t,
        IJobEscrow.EscrowPosition calldata position,
        bytes32[] calldata proof
    ) private view returns (bytes32 escrowId) {
        escrowId = _escrowId(t);
        uint256 setId = position.setId;
        uint256 index = position.index;
        bytes32 root = _escrowSetRoots[setId];
        // The index is inside the leaf, so a proof cannot move an escrow to another index (and with
        // it, to another bit); an unknown set has a zero root, which no proof reaches.
        if (
            root == 0 || index >= _MAX_SET_SIZE
                || !MerkleProof.verifyCalldata(proof, root, OpsMerkle.escrowLeaf(index, escrowId))
        ) {
            revert IJobEscrow.JobEscrowUnknown(escrowId, setId, index);
        }
        if (_closedEscrows.get(_closedKey(setId, index))) revert IJobEscrow.JobEscrowClosed(escrowId);
    }

    function _requireSignedBy(address signer, bytes32 escrowId, bytes32 structHash, IVault.Signature calldata signature)
        private
        view
    {
        (bool isValid, address recovered) = _isAuthorizedBy(signer, structHash, signature);
        if (!isValid) revert IJobEscrow.JobEscrowInvalidSignature(escrowId, signer, recovered);
    }

    function _emitEscrowLocked(bytes32 escrowId, EscrowCodec.Terms memory t, uint256 setId, uint256 index)
        private
    {
        emit IJobEscrow.EscrowLocked(
            escrowId,
            t.payer,
            t.payee,
            setId,
            index,
            t.token,
            t.amount,
            t.resolver,
            t.feeBps,
            t.resolverFeeBps,
            t.expiry,
            t.nonce,
            t.partialRelease
        );
    }

    function _closedKey(uint256 setId, uint256 index) private pure returns (uint256) {
        // Cannot overflow: set ids are below 2^65 and indexes below 2^32 - 1 (checked by callers).
        unchecked {
            return setId << 32 | (index + 1);
        }
    }
}
