// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {Vault} from "./Vault.sol";
import {FeeMath} from "./libraries/FeeMath.sol";
import {Hashing} from "./libraries/Hashing.sol";

/**
 * @title JobEscrow
 * @notice Escrows per job assignment, funded from and paid into vault balances.
 * @dev Trust assumptions: the payer's signed lock names the payee, the resolver and both fee rates,
 * so it is the payer who agrees to the resolver; the payee agreed to the same terms off-chain when it
 * took the job. Every payout goes to an internal balance, never to a token transfer, so a token that
 * blacklists one party can never block the other's escrow. An escrow id is used once forever: its
 * status never returns to `None`, which is what stops a signature from being replayed.
 */
abstract contract JobEscrow is Vault, IJobEscrow {
    /// @notice The highest resolver fee an escrow may carry, in basis points (10%).
    uint16 public constant MAX_RESOLVER_FEE_BPS = 1_000;

    mapping(bytes32 escrowId => Escrow escrow) private _escrows;

    /// @inheritdoc IJobEscrow
    function lockEscrow(EscrowTerms calldata terms, Signature calldata payerSignature) external {
        _lockEscrow(terms, payerSignature);
    }

    /// @inheritdoc IJobEscrow
    function releaseEscrow(bytes32 escrowId, Signature calldata payerSignature) external {
        (address token,, uint256 fee) = _releaseEscrow(escrowId, payerSignature);
        _creditTreasury(token, fee);
    }

    /// @inheritdoc IJobEscrow
    function refundEscrow(bytes32 escrowId, Signature calldata payeeSignature) external {
        _refundEscrow(escrowId, payeeSignature);
    }

    /// @inheritdoc IJobEscrow
    function ruleEscrow(bytes32 escrowId, uint16 payeeBps, Signature calldata resolverSignature) external {
        (address token, uint256[4] memory parts) = _ruleEscrow(escrowId, payeeBps, resolverSignature);
        _creditTreasury(token, parts[2]);
    }

    /// @inheritdoc IJobEscrow
    function reclaimExpiredEscrow(bytes32 escrowId) external {
        _reclaimExpiredEscrow(escrowId);
    }

    /// @inheritdoc IJobEscrow
    function escrow(bytes32 escrowId) external view returns (Escrow memory) {
        return _escrows[escrowId];
    }

    // ---------------------------------------------------------------- internal

    /// @dev Locks a new escrow from the payer's balance. Returns the amount locked.
    function _lockEscrow(EscrowTerms calldata t, Signature calldata payerSignature) internal returns (uint256) {
        if (_escrows[t.escrowId].status != EscrowStatus.None) revert JobEscrowAlreadyExists(t.escrowId);
        if (t.payee == address(0) || t.payee == t.payer) revert JobEscrowInvalidParties(t.payer, t.payee);
        _requireAllowedToken(t.token);
        if (t.amount > type(uint96).max) revert JobEscrowAmountTooLarge(t.amount);
        uint16 maxFeeBps = feeBps();
        if (t.feeBps > maxFeeBps) revert JobEscrowFeeTooHigh(t.feeBps, maxFeeBps);
        if (t.resolverFeeBps > MAX_RESOLVER_FEE_BPS) {
            revert JobEscrowResolverFeeTooHigh(t.resolverFeeBps, MAX_RESOLVER_FEE_BPS);
        }
        if (t.expiry <= block.timestamp) revert JobEscrowExpiryInPast(t.expiry, block.timestamp);
        (bool isValid, address recovered) = _isAuthorizedBy(t.payer, Hashing.escrowLock(t), payerSignature);
        if (!isValid) revert JobEscrowInvalidSignature(t.escrowId, t.payer, recovered);

        _debit(t.payer, t.token, t.amount);
        _escrows[t.escrowId] = Escrow({
            payer: t.payer,
            expiry: t.expiry,
            feeBps: t.feeBps,
            status: EscrowStatus.Locked,
            payee: t.payee,
            amount: uint96(t.amount), // Fits: checked against type(uint96).max above.
            token: t.token,
            resolverFeeBps: t.resolverFeeBps,
            resolver: t.resolver
        });
        emit EscrowLocked(
            t.escrowId, t.payer, t.payee, t.token, t.amount, t.resolver, t.feeBps, t.resolverFeeBps, t.expiry
        );
        return t.amount;
    }

    /// @dev Pays a locked escrow to its payee on the payer's word. The caller credits `fee` to the treasury.
    function _releaseEscrow(bytes32 escrowId, Signature calldata payerSignature)
        internal
        returns (address token, uint256 payeeAmount, uint256 fee)
    {
        Escrow storage e = _lockedEscrow(escrowId);
        address payer = e.payer;
        (bool isValid, address recovered) = _isAuthorizedBy(payer, Hashing.escrowRelease(escrowId), payerSignature);
        if (!isValid) revert JobEscrowInvalidSignature(escrowId, payer, recovered);

        e.status = EscrowStatus.Released;
        token = e.token;
        address payee = e.payee;
        (payeeAmount, fee) = FeeMath.takeFee(e.amount, e.feeBps);
        _credit(payee, token, payeeAmount);
        emit EscrowReleased(escrowId, payee, payeeAmount, fee);
    }

    /// @dev Returns a locked escrow to its payer on the payee's word.
    function _refundEscrow(bytes32 escrowId, Signature calldata payeeSignature)
        internal
        returns (address token, uint256 amount)
    {
        Escrow storage e = _lockedEscrow(escrowId);
        address payee = e.payee;
        (bool isValid, address recovered) = _isAuthorizedBy(payee, Hashing.escrowRefund(escrowId), payeeSignature);
        if (!isValid) revert JobEscrowInvalidSignature(escrowId, payee, recovered);

        e.status = EscrowStatus.Refunded;
        (token, amount) = _returnToPayer(e);
        emit EscrowRefunded(escrowId, e.payer, amount);
    }

    /**
     * @dev Applies the resolver's ruling. The caller credits the protocol fee to the treasury.
     * @return token The escrow's token.
     * @return parts [payee net, payer amount, protocol fee, resolver fee], summing to the escrow.
     */
    function _ruleEscrow(bytes32 escrowId, uint16 payeeBps, Signature calldata resolverSignature)
        internal
        returns (address token, uint256[4] memory parts)
    {
        Escrow storage e = _lockedEscrow(escrowId);
        address resolver = e.resolver;
        if (resolver == address(0)) revert JobEscrowNoResolver(escrowId);
        if (payeeBps > FeeMath.BPS) revert JobEscrowInvalidRuling(escrowId, payeeBps);
        (bool isValid, address recovered) =
            _isAuthorizedBy(resolver, Hashing.escrowRuling(escrowId, payeeBps), resolverSignature);
        if (!isValid) revert JobEscrowInvalidSignature(escrowId, resolver, recovered);

        e.status = EscrowStatus.Ruled;
        token = e.token;
        (parts[0], parts[1], parts[2], parts[3]) =
            FeeMath.splitRuling(e.amount, payeeBps, e.feeBps, e.resolverFeeBps);
        _credit(e.payee, token, parts[0]);
        _credit(e.payer, token, parts[1]);
        _credit(resolver, token, parts[3]);
        emit EscrowRuled(escrowId, payeeBps, parts[0], parts[1], parts[2], parts[3]);
    }

    /// @dev Returns an expired escrow to its payer; a rule of the contract, no signature needed.
    function _reclaimExpiredEscrow(bytes32 escrowId) internal returns (address token, uint256 amount) {
        Escrow storage e = _lockedEscrow(escrowId);
        uint64 expiry = e.expiry;
        if (block.timestamp < expiry) revert JobEscrowNotExpired(escrowId, expiry, block.timestamp);
        e.status = EscrowStatus.Expired;
        (token, amount) = _returnToPayer(e);
        emit EscrowExpired(escrowId, e.payer, amount);
    }

    function _lockedEscrow(bytes32 escrowId) private view returns (Escrow storage e) {
        e = _escrows[escrowId];
        if (e.status != EscrowStatus.Locked) revert JobEscrowNotLocked(escrowId, e.status);
    }

    function _returnToPayer(Escrow storage e) private returns (address token, uint256 amount) {
        token = e.token;
        amount = e.amount;
        _credit(e.payer, token, amount);
    }
}
