// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";
import {Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {MessageHashUtils} from "@openzeppelin/contracts/utils/cryptography/MessageHashUtils.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";
import {IVault} from "./interfaces/IVault.sol";
import {IERC3009} from "./interfaces/IERC3009.sol";
import {Hashing} from "./libraries/Hashing.sol";

/**
 * @title Vault
 * @notice Internal balances, deposits, withdrawals and admin settings of the Clearhouse vault.
 * @dev EIP-712 domain: name "Clearhouse", version "1", chain id, this contract (no salt). The domain
 * is built here rather than with OpenZeppelin's `EIP712` to leave out ERC-5267's string-returning
 * `eip712Domain()`, whose bytecode the one-contract vault cannot spare under the 24 KiB limit.
 * Trust assumptions of this part:
 * - Only allowlisted tokens come in. An allowlisted token is trusted to report `balanceOf` honestly;
 *   everything else about it (missing return values, fees on transfer, re-entrant hooks,
 *   blacklists) is defended against: SafeERC20, crediting the balance delta, a reentrancy guard on
 *   every state-changing entry point, and payouts only ever to an address the account chose.
 * - The owner can pause deposits, change the allowlist and the treasury, and (after `adminDelay`)
 *   rotate the coordinator and change the protocol fee up to `MAX_FEE_BPS`. The owner cannot move
 *   any account's balance.
 * - The coordinator can only co-sign: fast withdrawals and settlement batches. It cannot move any
 *   balance without the owner's own signature on the movement.
 */
abstract contract Vault is IVault, Ownable2Step, Pausable, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The highest protocol fee the owner can ever set, in basis points (10%).
    uint16 public constant MAX_FEE_BPS = 1_000;

    bytes32 private constant _DOMAIN_TYPEHASH =
        keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
    bytes32 private constant _NAME_HASH = keccak256("Clearhouse");
    bytes32 private constant _VERSION_HASH = keccak256("1");

    uint256 private immutable _cachedChainId;
    bytes32 private immutable _cachedDomainSeparator;
    uint64 private immutable _withdrawalDelay;
    uint64 private immutable _adminDelay;

    mapping(address account => mapping(address token => uint256 amount)) private _balances;
    mapping(address account => mapping(uint256 word => uint256 bits)) private _nonceBitmaps;
    mapping(address account => mapping(address token => WithdrawalRequest request)) private _withdrawalRequests;
    mapping(address token => bool allowed) private _allowedTokens;

    address private _coordinator;
    uint16 private _feeBps;
    address private _treasury;
    address private _pendingCoordinator;
    uint64 private _coordinatorEffectiveAt;
    uint16 private _pendingFeeBps;
    uint64 private _feeEffectiveAt;

    constructor(
        address initialOwner,
        address coordinator_,
        address treasury_,
        uint16 feeBps_,
        uint64 withdrawalDelay_,
        uint64 adminDelay_
    ) Ownable(initialOwner) {
        _cachedChainId = block.chainid;
        _cachedDomainSeparator = _buildDomainSeparator();
        if (coordinator_ == address(0) || treasury_ == address(0)) revert VaultZeroAddress();
        if (feeBps_ > MAX_FEE_BPS) revert VaultFeeTooHigh(feeBps_, MAX_FEE_BPS);
        _coordinator = coordinator_;
        _treasury = treasury_;
        _feeBps = feeBps_;
        _withdrawalDelay = withdrawalDelay_;
        _adminDelay = adminDelay_;
        emit CoordinatorChanged(address(0), coordinator_);
        emit TreasuryChanged(address(0), treasury_);
        emit FeeChanged(0, feeBps_);
    }

    // ---------------------------------------------------------------- deposits

    /// @inheritdoc IVault
    function deposit(address token, uint256 amount) external nonReentrant whenNotPaused {
        _pullDeposit(token, msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IVault
    function depositFor(address token, uint256 amount, address account) external nonReentrant whenNotPaused {
        _pullDeposit(token, msg.sender, account, amount);
    }

    /// @inheritdoc IVault
    function depositWithPermit(
        address token,
        address owner,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant whenNotPaused {
        _permit(token, owner, amount, deadline, v, r, s);
        _pullDeposit(token, owner, owner, amount);
    }

    /// @inheritdoc IVault
    function depositWithAuthorization(
        address token,
        address from,
        uint256 amount,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant whenNotPaused {
        _requireDepositable(token, from, amount);
        uint256 before = IERC20(token).balanceOf(address(this));
        // `receiveWithAuthorization` pays only its caller, this vault, and only from the signer, who
        // is the one credited: the submitter cannot redirect it.
        IERC3009(token).receiveWithAuthorization(from, address(this), amount, validAfter, validBefore, nonce, v, r, s);
        _creditDeposit(token, from, from, IERC20(token).balanceOf(address(this)) - before);
    }

    // ---------------------------------------------------------------- withdrawals

    /// @inheritdoc IVault
    function withdraw(
        Withdrawal calldata withdrawal,
        Signature calldata ownerSignature,
        Signature calldata coordinatorSignature
    ) external nonReentrant {
        bytes32 structHash = Hashing.withdrawal(withdrawal);
        address coordinator_ = _coordinator;
        address recovered = _recover(Hashing.withdrawalApproval(structHash), coordinatorSignature);
        if (recovered != coordinator_) revert VaultInvalidSignature(coordinator_, recovered);
        _withdrawSigned(withdrawal, structHash, ownerSignature);
    }

    /// @inheritdoc IVault
    function requestWithdrawal(address token, uint256 amount, address to) external {
        if (amount == 0) revert VaultZeroAmount();
        if (to == address(0)) revert VaultZeroAddress();
        uint64 executableAt = uint64(block.timestamp) + _withdrawalDelay;
        _withdrawalRequests[msg.sender][token] = WithdrawalRequest(amount, to, executableAt);
        emit WithdrawalRequested(msg.sender, token, to, amount, executableAt);
    }

    /// @inheritdoc IVault
    function executeWithdrawal(address account, address token) external nonReentrant {
        WithdrawalRequest memory request = _withdrawalRequests[account][token];
        if (request.executableAt == 0) revert VaultNoWithdrawalRequest(account, token);
        if (block.timestamp < request.executableAt) {
            revert VaultWithdrawalNotReady(account, token, request.executableAt, block.timestamp);
        }
        delete _withdrawalRequests[account][token];
        uint256 balance = _balances[account][token];
        uint256 amount = request.amount < balance ? request.amount : balance;
        // Effects before the transfer: the balance is debited before the token is called.
        _debit(account, token, amount);
        emit Withdrawn(account, token, request.to, amount);
        if (amount != 0) IERC20(token).safeTransfer(request.to, amount);
    }

    /// @inheritdoc IVault
    function cancelWithdrawal(address token) external {
        if (_withdrawalRequests[msg.sender][token].executableAt == 0) revert VaultNoWithdrawalRequest(msg.sender, token);
        delete _withdrawalRequests[msg.sender][token];
        emit WithdrawalCancelled(msg.sender, token);
    }

    /// @inheritdoc IVault
    function invalidateNonce(uint256 nonce) external {
        _useNonce(msg.sender, nonce);
        emit NonceInvalidated(msg.sender, nonce);
    }

    // ---------------------------------------------------------------- admin

    /// @inheritdoc IVault
    function setTokenAllowed(address token, bool allowed) external onlyOwner {
        _setTokenAllowed(token, allowed);
    }

    /// @inheritdoc IVault
    function proposeCoordinator(address coordinator_) external onlyOwner {
        if (coordinator_ == address(0)) revert VaultZeroAddress();
        uint64 effectiveAt = uint64(block.timestamp) + _adminDelay;
        _pendingCoordinator = coordinator_;
        _coordinatorEffectiveAt = effectiveAt;
        emit CoordinatorChangeProposed(coordinator_, effectiveAt);
    }

    /// @inheritdoc IVault
    function applyCoordinator() external onlyOwner {
        uint64 effectiveAt = _coordinatorEffectiveAt;
        if (effectiveAt == 0) revert VaultNoPendingChange();
        if (block.timestamp < effectiveAt) revert VaultChangeNotReady(effectiveAt, block.timestamp);
        address previous = _coordinator;
        _coordinator = _pendingCoordinator;
        delete _pendingCoordinator;
        delete _coordinatorEffectiveAt;
        emit CoordinatorChanged(previous, _coordinator);
    }

    /// @inheritdoc IVault
    function proposeFee(uint16 feeBps_) external onlyOwner {
        if (feeBps_ > MAX_FEE_BPS) revert VaultFeeTooHigh(feeBps_, MAX_FEE_BPS);
        uint64 effectiveAt = uint64(block.timestamp) + _adminDelay;
        _pendingFeeBps = feeBps_;
        _feeEffectiveAt = effectiveAt;
        emit FeeChangeProposed(feeBps_, effectiveAt);
    }

    /// @inheritdoc IVault
    function applyFee() external onlyOwner {
        uint64 effectiveAt = _feeEffectiveAt;
        if (effectiveAt == 0) revert VaultNoPendingChange();
        if (block.timestamp < effectiveAt) revert VaultChangeNotReady(effectiveAt, block.timestamp);
        uint16 previous = _feeBps;
        _feeBps = _pendingFeeBps;
        delete _pendingFeeBps;
        delete _feeEffectiveAt;
        emit FeeChanged(previous, _feeBps);
    }

    /// @inheritdoc IVault
    function setTreasury(address treasury_) external onlyOwner {
        if (treasury_ == address(0)) revert VaultZeroAddress();
        emit TreasuryChanged(_treasury, treasury_);
        _treasury = treasury_;
    }

    /// @inheritdoc IVault
    function pause() external onlyOwner {
        _pause();
    }

    /// @inheritdoc IVault
    function unpause() external onlyOwner {
        _unpause();
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IVault
    function balanceOf(address account, address token) external view returns (uint256) {
        return _balances[account][token];
    }

    /// @inheritdoc IVault
    function isTokenAllowed(address token) external view returns (bool) {
        return _allowedTokens[token];
    }

    /// @inheritdoc IVault
    function isNonceUsed(address account, uint256 nonce) external view returns (bool) {
        return _nonceBitmaps[account][nonce >> 8] & (1 << (nonce & 0xff)) != 0;
    }

    /// @inheritdoc IVault
    function withdrawalRequest(address account, address token) external view returns (WithdrawalRequest memory) {
        return _withdrawalRequests[account][token];
    }

    /// @inheritdoc IVault
    function coordinator() public view returns (address) {
        return _coordinator;
    }

    /// @inheritdoc IVault
    function pendingCoordinator() external view returns (address, uint64) {
        return (_pendingCoordinator, _coordinatorEffectiveAt);
    }

    /// @inheritdoc IVault
    function treasury() external view returns (address) {
        return _treasury;
    }

    /// @inheritdoc IVault
    function feeBps() public view returns (uint16) {
        return _feeBps;
    }

    /// @inheritdoc IVault
    function pendingFee() external view returns (uint16, uint64) {
        return (_pendingFeeBps, _feeEffectiveAt);
    }

    /// @inheritdoc IVault
    function withdrawalDelay() external view returns (uint64) {
        return _withdrawalDelay;
    }

    /// @inheritdoc IVault
    function adminDelay() external view returns (uint64) {
        return _adminDelay;
    }

    /// @inheritdoc IVault
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- internal

    /// @dev The EIP-712 domain separator: name "Clearhouse", version "1", this chain, this contract.
    /// Recomputed if the chain id changes (a fork), so signatures never carry over between chains.
    function _domainSeparatorV4() internal view returns (bytes32) {
        return block.chainid == _cachedChainId ? _cachedDomainSeparator : _buildDomainSeparator();
    }

    function _buildDomainSeparator() private view returns (bytes32) {
        return keccak256(abi.encode(_DOMAIN_TYPEHASH, _NAME_HASH, _VERSION_HASH, block.chainid, address(this)));
    }

    /// @dev The EIP-712 digest of `structHash` under this vault's domain.
    function _hashTypedDataV4(bytes32 structHash) internal view returns (bytes32) {
        return MessageHashUtils.toTypedDataHash(_domainSeparatorV4(), structHash);
    }

    /// @dev Adds `amount` to `account`'s balance of `token`.
    function _credit(address account, address token, uint256 amount) internal {
        // Cannot overflow: every balance is backed by tokens this vault holds (deposits credit what
        // arrived, moves between accounts conserve the total), and no token supply exceeds 2^256 - 1.
        unchecked {
            _balances[account][token] += amount;
        }
    }

    /// @dev Takes `amount` from `account`'s balance of `token`, or reverts with what it holds.
    function _debit(address account, address token, uint256 amount) internal {
        uint256 balance = _balances[account][token];
        if (balance < amount) revert VaultInsufficientBalance(account, token, balance, amount);
        // Cannot underflow: checked just above.
        unchecked {
            _balances[account][token] = balance - amount;
        }
    }

    /// @dev Credits protocol fee `amount` of `token` to the treasury.
    function _creditTreasury(address token, uint256 amount) internal {
        if (amount != 0) _credit(_treasury, token, amount);
    }

    /// @dev Puts `token` on or off the allowlist.
    function _setTokenAllowed(address token, bool allowed) internal {
        if (token == address(0)) revert VaultZeroAddress();
        _allowedTokens[token] = allowed;
        emit TokenAllowlistUpdated(token, allowed);
    }

    /// @dev Reverts unless `token` is allowlisted.
    function _requireAllowedToken(address token) internal view {
        if (!_allowedTokens[token]) revert VaultTokenNotAllowed(token);
    }

    /// @dev The signer of EIP-712 struct `structHash` under this domain; zero when the signature is
    /// malformed, has a high `s` or does not recover (OpenZeppelin ECDSA).
    function _recover(bytes32 structHash, Signature calldata signature) internal view returns (address) {
        return _recover(structHash, signature.r, signature.vs);
    }

    function _recover(bytes32 structHash, bytes32 r, bytes32 vs) internal view returns (address recovered) {
        (recovered,,) = ECDSA.tryRecover(_hashTypedDataV4(structHash), r, vs);
    }

    /// @dev As `_isAuthorizedBy(signer, structHash, r, vs)` with `signature`'s parts.
    function _isAuthorizedBy(address signer, bytes32 structHash, Signature calldata signature)
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
        pure
        returns (bool isValid, address recovered)
    {
        (recovered,,) = ECDSA.tryRecover(digest, r, vs);
        isValid = recovered == signer && recovered != address(0);
    }

    /// @dev Marks `nonce` of `account` used, or reverts if it was.
    function _useNonce(address account, uint256 nonce) internal {
        uint256 word = nonce >> 8;
        uint256 bit = 1 << (nonce & 0xff);
        uint256 bits = _nonceBitmaps[account][word];
        if (bits & bit != 0) revert VaultNonceUsed(account, nonce);
        _nonceBitmaps[account][word] = bits | bit;
    }

    /// @dev Pays out a fast withdrawal whose coordinator approval was already checked.
    function _withdrawSigned(Withdrawal calldata w, bytes32 structHash, Signature calldata ownerSignature) internal {
        if (block.timestamp > w.deadline) revert VaultSignatureExpired(w.deadline, block.timestamp);
        if (w.amount == 0) revert VaultZeroAmount();
        if (w.to == address(0)) revert VaultZeroAddress();
        (bool isValid, address recovered) = _isAuthorizedBy(w.account, structHash, ownerSignature);
        if (!isValid) revert VaultInvalidSignature(w.account, recovered);
        _useNonce(w.account, w.nonce);
        // Effects before the transfer: nonce and balance are final before the token is called.
        _debit(w.account, w.token, w.amount);
        emit Withdrawn(w.account, w.token, w.to, w.amount);
        IERC20(w.token).safeTransfer(w.to, w.amount);
    }

    /// @dev Checks a deposit's token, account and amount.
    function _requireDepositable(address token, address account, uint256 amount) internal view {
        _requireAllowedToken(token);
        if (amount == 0) revert VaultZeroAmount();
        if (account == address(0) || account == address(this)) revert VaultZeroAddress();
    }

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

    function _creditDeposit(address token, address account, address from, uint256 received) private {
        _credit(account, token, received);
        emit Deposited(account, token, from, received);
    }

    /// @dev Uses an EIP-2612 permit; a failed permit (front-run, already used) is ignored, and the
    /// transfer that follows fails by itself if the allowance is short.
    function _permit(address token, address owner, uint256 amount, uint256 deadline, uint8 v, bytes32 r, bytes32 s)
        internal
    {
        try IERC20Permit(token).permit(owner, address(this), amount, deadline, v, r, s) {} catch {}
    }
}
