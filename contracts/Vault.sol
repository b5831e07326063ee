// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {IVault} from "./interfaces/IVault.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";
import {CompactECDSA} from "./libraries/CompactECDSA.sol";
import {FeeMath} from "./libraries/FeeMath.sol";
import {Hashing} from "./libraries/Hashing.sol";

/**
 * @title Vault
 * @notice Internal balances, deposits, withdrawals and admin settings of the Clearhouse vault: the
 * state and logic `IVault` describes, as internal functions that `ClearhouseVault` and its
 * `ClearhouseVaultExtension` expose.
 * @dev Both contracts inherit this state through `Settlement` and declare none of their own, so
 * the extension, which runs by delegatecall on the vault's storage, sees the same layout (a test
 * compares the two compiled layouts). EIP-712 domain: name "Clearhouse", version "1", chain id, the
 * vault (no salt); the extension builds it for the vault that deployed it, not for itself.
 * Trust assumptions of this part:
 * - Only allowlisted tokens come in. An allowlisted token is trusted to report `balanceOf` honestly;
 *   the rest of its behaviour is defended against: SafeERC20 for missing return values, crediting
 *   the vault's balance delta on the way in and charging any extra the vault's balance lost on the
 *   way out to the withdrawing account (so a fee on transfer never comes out of other users'
 *   money), a reentrancy guard on every state-changing entry point, and payouts only ever to an
 *   address the account chose.
 * - The owner can pause deposits, change the allowlist and the treasury, and (after `adminDelay`,
 *   longer than both exit delays, so users can leave first) rotate the coordinator and change the
 *   protocol fee up to `MAX_FEE_BPS`. The owner cannot move any account's balance.
 * - The coordinator can only co-sign: fast withdrawals and settlement batches. It cannot move any
 *   balance without the owner's own signature on the movement. It alone spends a transfer
 *   authorization made out to the vault (an x402 payment), which is no balance yet: the signer
 *   paid the vault for a call, and the coordinator names the provider it paid for.
 */
abstract contract Vault is Ownable2Step, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;
    using BitMaps for BitMaps.BitMap;

    /// @notice The highest protocol fee the owner can ever set, in basis points (10%).
    uint16 public constant MAX_FEE_BPS = 1_000;
    /// @notice The shortest withdrawal delay or challenge period a deployment may have: time for a
    /// counterparty (the coordinator, a provider) to see an exit coming and settle what it holds.
    uint64 public constant MIN_EXIT_DELAY = 1 hours;
    /// @notice The longest withdrawal delay or challenge period a deployment may have: the bound of
    /// trust property 4 (every user exits within a bounded delay).
    uint64 public constant MAX_EXIT_DELAY = 30 days;
    /// @notice How much longer than both exit delays the admin delay must be: the time a user has,
    /// once a coordinator or fee change is proposed, to ask to exit before it applies.
    uint64 public constant ADMIN_DELAY_MARGIN = 1 days;
    /// @notice The longest admin delay a deployment may have.
    uint64 public constant MAX_ADMIN_DELAY = 90 days;

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("Clearhouse");
    bytes32 private constant _VERSION_HASH = keccak256("1");

    /// @dev The vault whose storage this code runs on: `ClearhouseVault` itself, or the vault that
    /// deployed the extension. It is the EIP-712 verifying contract of both.
    address private immutable _vault;
    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;
    uint64 private immutable _withdrawalDelay;
    uint64 private immutable _adminDelay;

    mapping(address account => mapping(address token => uint256 amount)) private _balances;
    mapping(address account => BitMaps.BitMap nonces) private _usedNonces;
    mapping(address account => mapping(address token => IVault.WithdrawalRequest request)) private _withdrawalRequests;
    mapping(address token => bool allowed) private _allowedTokens;

    address private _coordinator;
    uint16 private _feeBps;
    address private _treasury;
    /// @dev `Settlement`'s counter of landed batches, declared here to share the treasury's slot:
    /// every batch reads both, so it pays one cold storage read for the two.
    uint64 private _lastBatchNumber;
    address private _pendingCoordinator;
    uint64 private _coordinatorEffectiveAt;
    uint16 private _pendingFeeBps;
    uint64 private _feeEffectiveAt;

    /// @dev Checks the deployment's delays and fixes them, with the vault `vault_`, as immutables.
    constructor(IVault.VaultParameters memory p, address vault_) Ownable(p.owner) {
        _requireDelayInRange(p.withdrawalDelay, MIN_EXIT_DELAY, MAX_EXIT_DELAY);
        _requireDelayInRange(p.challengePeriod, MIN_EXIT_DELAY, MAX_EXIT_DELAY);
        uint64 longestExit = p.withdrawalDelay > p.challengePeriod ? p.withdrawalDelay : p.challengePeriod;
        // Longer by a margin: a user who sees a change proposed has that margin to notice and ask
        // to exit, and the exit still completes before the change applies.
        _requireDelayInRange(p.adminDelay, longestExit + ADMIN_DELAY_MARGIN, MAX_ADMIN_DELAY);
        _vault = vault_;
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        _withdrawalDelay = p.withdrawalDelay;
        _adminDelay = p.adminDelay;
    }

    // ---------------------------------------------------------------- deployment

    /// @dev Writes the deployment's settings to storage (the vault's constructor only).
    function _initializeSettings(IVault.VaultParameters memory p) internal {
        if (p.coordinator == address(0) || p.treasury == address(0)) revert IVault.VaultZeroAddress();
        if (p.feeBps > MAX_FEE_BPS) revert IVault.VaultFeeTooHigh(p.feeBps, MAX_FEE_BPS);
        _coordinator = p.coordinator;
        _treasury = p.treasury;
        _feeBps = p.feeBps;
        emit IVault.CoordinatorChanged(address(0), p.coordinator);
        emit IVault.TreasuryChanged(address(0), p.treasury);
        emit IVault.FeeChanged(0, p.feeBps);
        for (uint256 i; i < p.tokens.length; ++i) {
            _setTokenAllowed(p.tokens[i], true);
        }
    }

    /// @dev Reverts unless this code runs on the vault's storage (the extension called directly does not).
    function _requireVaultContext() internal view {
        if (address(this) != _vault) revert IVault.VaultOnlyThroughVault();
    }

    function _requireDelayInRange(uint64 delay, uint64 min, uint64 max) private pure {
        if (delay < min || delay > max) revert IVault.VaultDelayOutOfRange(delay, min, max);
    }

    // ---------------------------------------------------------------- deposits

    /**
     * @dev Pulls `amount` of `token` from `from` and credits `account` with what arrived.
     * @return received The balance delta of the vault: less than `amount` for fee-on-transfer tokens.
     */
    function _pullDeposit(address token, address from, address account, uint256 amount)
        internal
        returns (uint256 received)
    {
        _requireDepositable(token, account, amount);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransferFrom(from, address(this), amount);
        received = IERC20(token).balanceOf(address(this)) - before;
        _creditDeposit(token, account, from, received);
    }

    /// @dev `IVault.depositWithPermit`: pulls from `owner` on its permit; on the standing allowance
    /// only when `owner` sends the transaction.
    function _depositWithPermit(
        address token,
        address owner,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) internal {
        _permitOrOwner(token, owner, amount, deadline, v, r, s);
        _pullDeposit(token, owner, owner, amount);
    }

    /// @dev `IVault.depositWithAuthorization`.
    function _depositWithAuthorization(
        address token,
        address from,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) internal {
        _requireDepositable(token, from, amount);
        uint256 before = IERC20(token).balanceOf(address(this));
        // `receiveWithAuthorization` pays only its caller, this vault, and only from the signer, who
        // is the one credited: the submitter cannot redirect it.
        IERC3009(token).receiveWithAuthorization(from, address(this), amount, validAfter, validBefore, nonce, v, r, s);
        _creditDeposit(token, from, from, IERC20(token).balanceOf(address(this)) - before);
    }

    /// @dev `IVault.payWithTransferAuthorization`.
    function _payWithTransferAuthorization(
        address token,
        IVault.TransferAuthorization calldata authorization,
        address payee
    ) internal {
        if (msg.sender != _coordinator) revert IVault.VaultNotCoordinator(msg.sender);
        _requireDepositable(token, payee, authorization.value);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC3009(token).transferWithAuthorization(
            authorization.from,
            address(this),
            authorization.value,
            authorization.validAfter,
            authorization.validBefore,
            authorization.nonce,
            authorization.v,
            authorization.r,
            authorization.s
        );
        uint256 received = IERC20(token).balanceOf(address(this)) - before;
        // Checked: `received` is not bounded by a 96-bit escrow or channel field here.
        uint256 fee = (received * _feeBps) / FeeMath.BPS;
        _credit(payee, token, received - fee);
        _creditTreasury(token, fee);
        emit IVault.PaidWithAuthorization(authorization.from, token, payee, authorization.nonce, received, fee);
    }

    /**
     * @dev Uses `owner`'s EIP-2612 permit. A permit that fails (front-run, already used) is
     * tolerated only when `owner` sends the transaction, since then the standing allowance it
     * spends is its own to spend; for anyone else it reverts.
     */
    function _permitOrOwner(
        address token,
        address owner,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) internal {
        try IERC20Permit(token).permit(owner, address(this), amount, deadline, v, r, s) {}
        catch {
            if (msg.sender != owner) revert IVault.VaultPermitFailed(token, owner);
        }
    }

    // ---------------------------------------------------------------- withdrawals

    /// @dev `IVault.withdraw`: checks the coordinator's approval, then pays the signed withdrawal.
    function _withdraw(
        IVault.Withdrawal calldata w,
        IVault.Signature calldata ownerSignature,
        IVault.Signature calldata coordinatorSignature
    ) internal {
        bytes32 structHash = Hashing.withdrawal(w);
        address coordinator_ = _coordinator;
        address recovered = _recover(Hashing.withdrawalApproval(structHash), coordinatorSignature);
        if (recovered != coordinator_) revert IVault.VaultInvalidSignature(coordinator_, recovered);
        _withdrawSigned(w, structHash, ownerSignature);
    }

    /**
     * @dev Pays out a fast withdrawal whose coordinator approval was already checked.
     * @return spent What left the account's balance (the amount, plus any transfer fee).
     */
    function _withdrawSigned(IVault.Withdrawal calldata w, bytes32 structHash, IVault.Signature calldata ownerSignature)
        internal
        returns (uint256 spent)
    {
        if (block.timestamp > w.deadline) revert IVault.VaultSignatureExpired(w.deadline, block.timestamp);
        if (w.amount == 0) revert IVault.VaultZeroAmount();
        (bool isValid, address recovered) = _isAuthorizedBy(w.account, structHash, ownerSignature);
        if (!isValid) revert IVault.VaultInvalidSignature(w.account, recovered);
        _useNonce(w.account, w.nonce);
        spent = _payOut(w.account, w.token, w.to, w.amount);
        emit IVault.Withdrawn(w.account, w.token, w.to, spent, w.nonce);
    }

    /// @dev `IVault.requestWithdrawal` for the sender.
    function _requestWithdrawal(address token, uint256 amount, address to) internal {
        if (amount == 0) revert IVault.VaultZeroAmount();
        if (to == address(0) || to == address(this)) revert IVault.VaultZeroAddress();
        // Cannot overflow: the delay is at most MAX_EXIT_DELAY, far from the end of uint64 time.
        uint64 executableAt = uint64(block.timestamp) + _withdrawalDelay;
        _withdrawalRequests[msg.sender][token] = IVault.WithdrawalRequest(amount, to, executableAt);
        emit IVault.WithdrawalRequested(msg.sender, token, to, amount, executableAt);
    }

    /// @dev `IVault.executeWithdrawal`: pays min(requested, balance) and consumes the request.
    function _executeWithdrawal(address account, address token) internal {
        IVault.WithdrawalRequest memory request = _withdrawalRequests[account][token];
        if (request.executableAt == 0) revert IVault.VaultNoWithdrawalRequest(account, token);
        if (block.timestamp < request.executableAt) {
            revert IVault.VaultWithdrawalNotReady(account, token, request.executableAt, block.timestamp);
        }
        delete _withdrawalRequests[account][token];
        uint256 balance = _balances[account][token];
        uint256 amount = request.amount < balance ? request.amount : balance;
        uint256 spent = amount == 0 ? 0 : _payOut(account, token, request.to, amount);
        emit IVault.WithdrawalExecuted(account, token, request.to, spent);
    }

    /// @dev `IVault.cancelWithdrawal` for the sender.
    function _cancelWithdrawal(address token) internal {
        if (_withdrawalRequests[msg.sender][token].executableAt == 0) {
            revert IVault.VaultNoWithdrawalRequest(msg.sender, token);
        }
        delete _withdrawalRequests[msg.sender][token];
        emit IVault.WithdrawalCancelled(msg.sender, token);
    }

    /// @dev `IVault.invalidateNonce` for the sender.
    function _invalidateNonce(uint256 nonce) internal {
        _useNonce(msg.sender, nonce);
        emit IVault.NonceInvalidated(msg.sender, nonce);
    }

    /**
     * @dev Pays `amount` of `account`'s `token` to `to`. The balance is debited before the token is
     * called; if the token took more than `amount` out of the vault (a fee charged to the sender),
     * the extra is debited too, so the account, not the other users, bears it.
     * @return spent What left the vault: `amount`, or more for a fee-charging token.
     */
    function _payOut(address account, address token, address to, uint256 amount) internal returns (uint256 spent) {
        if (to == address(0) || to == address(this)) revert IVault.VaultZeroAddress();
        uint256 balance = _balances[account][token];
        _debit(account, token, amount);
        uint256 before = IERC20(token).balanceOf(address(this));
        IERC20(token).safeTransfer(to, amount);
        spent = before - IERC20(token).balanceOf(address(this));
        if (spent > amount) {
            if (balance < spent) revert IVault.VaultInsufficientBalance(account, token, balance, spent);
            // Cannot underflow: balance >= spent was checked just above, and amount was debited.
            unchecked {
                _balances[account][token] = balance - spent;
            }
        } else {
            spent = amount;
        }
    }

    // ---------------------------------------------------------------- admin

    /// @dev `IVault.proposeCoordinator`.
    function _proposeCoordinator(address coordinator_) internal {
        if (coordinator_ == address(0)) revert IVault.VaultZeroAddress();
        // Cannot overflow: the delay is at most MAX_ADMIN_DELAY.
        uint64 effectiveAt = uint64(block.timestamp) + _adminDelay;
        _pendingCoordinator = coordinator_;
        _coordinatorEffectiveAt = effectiveAt;
        emit IVault.CoordinatorChangeProposed(coordinator_, effectiveAt);
    }

    /// @dev `IVault.applyCoordinator`.
    function _applyCoordinator() internal {
        _requireChangeReady(_coordinatorEffectiveAt);
        address previous = _coordinator;
        address current = _pendingCoordinator;
        _coordinator = current;
        delete _pendingCoordinator;
        delete _coordinatorEffectiveAt;
        emit IVault.CoordinatorChanged(previous, current);
    }

    /// @dev `IVault.proposeFee`.
    function _proposeFee(uint16 feeBps_) internal {
        if (feeBps_ > MAX_FEE_BPS) revert IVault.VaultFeeTooHigh(feeBps_, MAX_FEE_BPS);
        // Cannot overflow: the delay is at most MAX_ADMIN_DELAY.
        uint64 effectiveAt = uint64(block.timestamp) + _adminDelay;
        _pendingFeeBps = feeBps_;
        _feeEffectiveAt = effectiveAt;
        emit IVault.FeeChangeProposed(feeBps_, effectiveAt);
    }

    /// @dev `IVault.applyFee`.
    function _applyFee() internal {
        _requireChangeReady(_feeEffectiveAt);
        uint16 previous = _feeBps;
        uint16 current = _pendingFeeBps;
        _feeBps = current;
        delete _pendingFeeBps;
        delete _feeEffectiveAt;
        emit IVault.FeeChanged(previous, current);
    }

    function _requireChangeReady(uint64 effectiveAt) private view {
        if (effectiveAt == 0) revert IVault.VaultNoPendingChange();
        if (block.timestamp < effectiveAt) revert IVault.VaultChangeNotReady(effectiveAt, block.timestamp);
    }

    /// @dev `IVault.setTreasury`.
    function _setTreasury(address treasury_) internal {
        if (treasury_ == address(0)) revert IVault.VaultZeroAddress();
        address previous = _treasury;
        _treasury = treasury_;
        emit IVault.TreasuryChanged(previous, treasury_);
    }

    /// @dev Puts `token` on or off the allowlist.
    function _setTokenAllowed(address token, bool allowed) internal {
        if (token == address(0)) revert IVault.VaultZeroAddress();
        _allowedTokens[token] = allowed;
        emit IVault.TokenAllowlistUpdated(token, allowed);
    }

    // ---------------------------------------------------------------- reads

    function _balanceOf(address account, address token) internal view returns (uint256) {
        return _balances[account][token];
    }

    function _isTokenAllowed(address token) internal view returns (bool) {
        return _allowedTokens[token];
    }

    function _isNonceUsed(address account, uint256 nonce) internal view returns (bool) {
        return _usedNonces[account].get(nonce);
    }

    function _withdrawalRequest(address account, address token) internal view returns (IVault.WithdrawalRequest memory) {
        return _withdrawalRequests[account][token];
    }

    function _currentCoordinator() internal view returns (address) {
        return _coordinator;
    }

    function _pendingCoordinatorChange() internal view returns (address, uint64) {
        return (_pendingCoordinator, _coordinatorEffectiveAt);
    }

    function _currentTreasury() internal view returns (address) {
        return _treasury;
    }

    /// @dev The number of the last settlement batch that landed (0 before the first).
    function _lastSettledBatchNumber() internal view returns (uint64) {
        return _lastBatchNumber;
    }

    /// @dev Records batch `batchNumber` as the last that landed (`Settlement` only).
    function _setLastSettledBatchNumber(uint64 batchNumber) internal {
        _lastBatchNumber = batchNumber;
    }

    function _protocolFeeBps() internal view returns (uint16) {
        return _feeBps;
    }

    function _pendingFeeChange() internal view returns (uint16, uint64) {
        return (_pendingFeeBps, _feeEffectiveAt);
    }

    function _withdrawalDelaySeconds() internal view returns (uint64) {
        return _withdrawalDelay;
    }

    function _adminDelaySeconds() internal view returns (uint64) {
        return _adminDelay;
    }

    // ---------------------------------------------------------------- shared helpers

    /// @dev The EIP-712 domain separator: name "Clearhouse", version "1", this chain, the vault.
    /// Recomputed if the chain id changes (a fork), so signatures never carry over between chains.
    function _domainSeparatorV4() internal view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, _vault));
    }

    /// @dev The EIP-712 digest of `structHash` under the vault's domain.
    function _hashTypedDataV4(bytes32 structHash) internal view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(_domainSeparatorV4(), structHash);
    }

    /// @dev Adds `amount` to `account`'s balance of `token`.
    function _credit(address account, address token, uint256 amount) internal {
        // `_balances[account][token] += amount`, unchecked, with the two mapping hashes in scratch
        // space: every channel settlement of a batch credits a provider. Cannot overflow: every
        // balance is backed by tokens this vault holds (deposits credit what arrived, moves between
        // accounts conserve the total), and no token supply exceeds 2^256 - 1.
        assembly ("memory-safe") {
            mstore(0x00, and(account, 0xffffffffffffffffffffffffffffffffffffffff))
            mstore(0x20, _balances.slot)
            mstore(0x20, keccak256(0x00, 0x40))
            mstore(0x00, and(token, 0xffffffffffffffffffffffffffffffffffffffff))
            let slot := keccak256(0x00, 0x40)
            sstore(slot, add(sload(slot), amount))
        }
    }

    /// @dev The storage slot of the `_balances` mapping, for code that computes a balance's slot itself.
    function _balancesSlot() internal pure returns (uint256 slot) {
        assembly ("memory-safe") {
            slot := _balances.slot
        }
    }

    /// @dev Takes `amount` from `account`'s balance of `token`, or reverts with what it holds.
    function _debit(address account, address token, uint256 amount) internal {
        uint256 balance = _balances[account][token];
        if (balance < amount) revert IVault.VaultInsufficientBalance(account, token, balance, amount);
        // Cannot underflow: checked just above.
        unchecked {
            _balances[account][token] = balance - amount;
        }
    }

    /// @dev Credits protocol fee `amount` of `token` to the treasury.
    function _creditTreasury(address token, uint256 amount) internal {
        if (amount != 0) _credit(_treasury, token, amount);
    }

    /// @dev Reverts unless `token` is allowlisted.
    function _requireAllowedToken(address token) internal view {
        if (!_allowedTokens[token]) revert IVault.VaultTokenNotAllowed(token);
    }

    /// @dev The signer of EIP-712 struct `structHash` under this domain; zero when the signature
    /// has a high `s` or does not recover (`CompactECDSA`, as OpenZeppelin ECDSA).
    function _recover(bytes32 structHash, IVault.Signature calldata signature) internal view returns (address recovered) {
        recovered = CompactECDSA.recover(_hashTypedDataV4(structHash), signature.r, signature.vs);
    }

    /// @dev As `_isAuthorizedBy(signer, structHash, r, vs)` with `signature`'s parts.
    function _isAuthorizedBy(address signer, bytes32 structHash, IVault.Signature calldata signature)
        internal
        view
        returns (bool isValid, address recovered)
    {
        return _isAuthorizedBy(signer, structHash, signature.r, signature.vs);
    }

    /**
     * @dev Whether `signer` authorized `structHash`: by signature, or by sending this transaction
     * itself with an empty (all-zero) signature. The vault is never a signer, so the calls the vault
     * makes to itself (batch ops) always need real signatures.
     * @return isValid Whether it is authorized.
     * @return recovered Who signed (`signer` when it sent the transaction).
     */
    function _isAuthorizedBy(address signer, bytes32 structHash, bytes32 r, bytes32 vs)
        internal
        view
        returns (bool isValid, address recovered)
    {
        if (_isSenderSigning(signer, r, vs)) return (true, signer);
        return _isDigestSignedBy(signer, _hashTypedDataV4(structHash), r, vs);
    }

    /// @dev Whether `signer` sends this transaction itself and passed no signature.
    function _isSenderSigning(address signer, bytes32 r, bytes32 vs) internal view returns (bool) {
        return r == 0 && vs == 0 && signer == msg.sender && signer != address(this);
    }

    /// @dev Whether (`r`, `vs`) is `signer`'s signature of the EIP-712 `digest`.
    function _isDigestSignedBy(address signer, bytes32 digest, bytes32 r, bytes32 vs)
        internal
        view
        returns (bool isValid, address recovered)
    {
        recovered = CompactECDSA.recover(digest, r, vs);
        isValid = recovered == signer && recovered != address(0);
    }

    /// @dev Marks `nonce` of `account` used, or reverts if it was.
    function _useNonce(address account, uint256 nonce) internal {
        BitMaps.BitMap storage nonces = _usedNonces[account];
        if (nonces.get(nonce)) revert IVault.VaultNonceUsed(account, nonce);
        nonces.set(nonce);
    }

    /// @dev Checks a deposit's token, account and amount.
    function _requireDepositable(address token, address account, uint256 amount) private view {
        _requireAllowedToken(token);
        if (amount == 0) revert IVault.VaultZeroAmount();
        if (account == address(0) || account == address(this)) revert IVault.VaultZeroAddress();
    }

    function _creditDeposit(address token, address account, address from, uint256 received) private {
        _credit(account, token, received);
        emit IVault.Deposited(account, token, from, received);
    }
}
