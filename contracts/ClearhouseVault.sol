// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./interfaces/IVault.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {ISettlement} from "./interfaces/ISettlement.sol";
import {Vault} from "./Vault.sol";
import {EscrowCodec} from "./libraries/EscrowCodec.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {Settlement} from "./Settlement.sol";
import {ClearhouseVaultExtension} from "./ClearhouseVaultExtension.sol";

/**
 * @title ClearhouseVault
 * @notice The Clearhouse vault: vault balances, job escrows, payment channels and batch settlement
 * over shared internal balances (see `IVault`, `IJobEscrow`, `IPaymentChannels`, `ISettlement`).
 * This is the one address users and the coordinator call; every function of the four interfaces
 * is here.
 * @dev The whole vault does not fit the 24 KiB code limit, so it is deployed as two contracts over
 * one storage: this one carries the settlement path and every function used often, and forwards
 * the rest (admin, slow exits, permit deposits, dispute opening, close requests) by delegatecall to
 * `ClearhouseVaultExtension`, which this constructor deploys with the same parameters. Both inherit
 * the same state from `Settlement` and declare none of their own.
 */
contract ClearhouseVault is Settlement, IVault, IJobEscrow, IPaymentChannels, ISettlement {
    /// @dev The contract the cold functions run in, on this contract's storage.
    address private immutable _extension;

    /// @param p Deployment settings (see `IVault.VaultParameters`).
    constructor(VaultParameters memory p) Vault(p, address(this)) PaymentChannels(p.challengePeriod) {
        _initializeSettings(p);
        _extension = address(new ClearhouseVaultExtension(p));
    }

    /// @notice The contract that runs the vault's less used functions on the vault's storage.
    function extension() external view returns (address) {
        return _extension;
    }

    // ---------------------------------------------------------------- IVault

    /// @inheritdoc IVault
    function deposit(address token, uint256 amount) external nonReentrant whenNotPaused {
        _pullDeposit(token, msg.sender, msg.sender, amount);
    }

    /// @inheritdoc IVault
    function depositFor(address token, uint256 amount, address account) external nonReentrant whenNotPaused {
        _pullDeposit(token, msg.sender, account, amount);
    }

    /// @inheritdoc IVault
    function depositWithPermit(address, address, uint256, uint256, uint8, bytes32, bytes32) external {
        _delegateToExtension();
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
        _depositWithAuthorization(token, from, amount, validAfter, validBefore, nonce, v, r, s);
    }

    /// @inheritdoc IVault
    function payWithTransferAuthorization(address, TransferAuthorization calldata, address) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function withdraw(
        Withdrawal calldata withdrawal,
        Signature calldata ownerSignature,
        Signature calldata coordinatorSignature
    ) external nonReentrant {
        _withdraw(withdrawal, ownerSignature, coordinatorSignature);
    }

    /// @inheritdoc IVault
    function requestWithdrawal(address, uint256, address) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function executeWithdrawal(address, address) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function cancelWithdrawal(address) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function invalidateNonce(uint256) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function setTokenAllowed(address, bool) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function proposeCoordinator(address) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function applyCoordinator() external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function proposeFee(uint16) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function applyFee() external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function setTreasury(address) external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function pause() external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function unpause() external {
        _delegateToExtension();
    }

    /// @inheritdoc IVault
    function balanceOf(address account, address token) external view returns (uint256) {
        return _balanceOf(account, token);
    }

    /// @inheritdoc IVault
    function isTokenAllowed(address token) external view returns (bool) {
        return _isTokenAllowed(token);
    }

    /// @inheritdoc IVault
    function isNonceUsed(address account, uint256 nonce) external view returns (bool) {
        return _isNonceUsed(account, nonce);
    }

    /// @inheritdoc IVault
    function withdrawalRequest(address account, address token) external view returns (WithdrawalRequest memory) {
        return _withdrawalRequest(account, token);
    }

    /// @inheritdoc IVault
    function coordinator() external view returns (address) {
        return _currentCoordinator();
    }

    /// @inheritdoc IVault
    function pendingCoordinator() external view returns (address, uint64) {
        return _pendingCoordinatorChange();
    }

    /// @inheritdoc IVault
    function treasury() external view returns (address) {
        return _currentTreasury();
    }

    /// @inheritdoc IVault
    function feeBps() external view returns (uint16) {
        return _protocolFeeBps();
    }

    /// @inheritdoc IVault
    function pendingFee() external view returns (uint16, uint64) {
        return _pendingFeeChange();
    }

    /// @inheritdoc IVault
    function withdrawalDelay() external view returns (uint64) {
        return _withdrawalDelaySeconds();
    }

    /// @inheritdoc IVault
    function adminDelay() external view returns (uint64) {
        return _adminDelaySeconds();
    }

    /// @inheritdoc IVault
    function domainSeparator() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    // ---------------------------------------------------------------- IJobEscrow

    /// @inheritdoc IJobEscrow
    function lockEscrow(EscrowTerms calldata terms, Signature calldata payerSignature)
        external
        nonReentrant
        returns (bytes32, EscrowPosition memory)
    {
        return _lockEscrowAlone(terms, payerSignature);
    }

    /// @inheritdoc IJobEscrow
    function releaseEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        Signature calldata payerSignature,
        bytes32[] calldata proof
    ) external nonReentrant {
        (, uint256 fee) = _releaseEscrow(terms, position, payerSignature, proof);
        _creditTreasury(terms.token, fee);
    }

    /// @inheritdoc IJobEscrow
    function refundEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        Signature calldata payeeSignature,
        bytes32[] calldata proof
    ) external nonReentrant {
        _refundEscrow(terms, position, payeeSignature, proof);
    }

    /// @inheritdoc IJobEscrow
    function ruleEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        uint16 payeeBps,
        Signature calldata resolverSignature,
        bytes32[] calldata proof
    ) external nonReentrant {
        _creditTreasury(terms.token, _ruleEscrow(terms, position, payeeBps, resolverSignature, proof).fee);
    }

    /// @inheritdoc IJobEscrow
    function reclaimExpiredEscrow(EscrowTerms calldata terms, EscrowPosition calldata position, bytes32[] calldata proof)
        external
        nonReentrant
    {
        _reclaimExpiredEscrow(terms, position, proof);
    }

    /// @inheritdoc IJobEscrow
    function openEscrowDispute(EscrowTerms calldata, EscrowPosition calldata, Signature calldata, bytes32[] calldata)
        external
    {
        _delegateToExtension();
    }

    /// @inheritdoc IJobEscrow
    function escrowId(EscrowTerms calldata terms) external view returns (bytes32) {
        return _escrowId(EscrowCodec.load(terms));
    }

    /// @inheritdoc IJobEscrow
    function escrowSetRoot(uint256 setId) external view returns (bytes32) {
        return _escrowSetRoot(setId);
    }

    /// @inheritdoc IJobEscrow
    function isEscrowClosed(uint256 setId, uint256 index) external view returns (bool) {
        return _isEscrowClosed(setId, index);
    }

    /// @inheritdoc IJobEscrow
    function escrowRulingDeadline(bytes32 id) external view returns (uint64) {
        return _escrowRulingDeadline(id);
    }

    // ---------------------------------------------------------------- IPaymentChannels

    /// @inheritdoc IPaymentChannels
    function fundChannel(
        ChannelConfig calldata config,
        uint256 totalDeposit,
        uint256 nonce,
        Signature calldata callerSignature
    ) external nonReentrant {
        _fundChannel(config, totalDeposit, nonce, callerSignature.r, callerSignature.vs);
    }

    /// @inheritdoc IPaymentChannels
    function fundChannelWithPermit(ChannelConfig calldata, uint256, uint256, uint8, bytes32, bytes32) external {
        _delegateToExtension();
    }

    /// @inheritdoc IPaymentChannels
    function settleChannel(SignedVoucher calldata voucher) external nonReentrant {
        (address token,, uint256 fee) = _settleChannel(voucher);
        _creditTreasury(token, fee);
    }

    /// @inheritdoc IPaymentChannels
    function closeChannel(SignedVoucher calldata finalVoucher, Signature calldata providerSignature)
        external
        nonReentrant
    {
        (, uint256 fee,) = _closeChannel(finalVoucher, providerSignature);
        _creditTreasury(finalVoucher.config.token, fee);
    }

    /// @inheritdoc IPaymentChannels
    function requestChannelClose(ChannelConfig calldata) external {
        _delegateToExtension();
    }

    /// @inheritdoc IPaymentChannels
    function finalizeChannelClose(ChannelConfig calldata config) external nonReentrant {
        _finalizeChannelClose(config);
    }

    /// @inheritdoc IPaymentChannels
    function channelId(ChannelConfig calldata config) external view returns (bytes32) {
        return _channelId(config);
    }

    /// @inheritdoc IPaymentChannels
    function channel(bytes32 id) external view returns (ChannelView memory) {
        return _channelView(id);
    }

    /// @inheritdoc IPaymentChannels
    function challengePeriod() external view returns (uint64) {
        return _challengePeriodSeconds();
    }

    // ---------------------------------------------------------------- ISettlement

    /// @inheritdoc ISettlement
    function settleBatch(uint64 batchNumber, Op[] calldata ops, Signature calldata coordinatorSignature)
        external
        nonReentrant
        returns (SkippedOp[] memory)
    {
        return _settleBatch(batchNumber, ops, coordinatorSignature);
    }

    /// @inheritdoc ISettlement
    function applyBatchOps(uint64 batchNumber, Op[] calldata ops, Signature calldata)
        external
        returns (TokenTotals[] memory)
    {
        _requireSelf();
        return _applyBatchOps(batchNumber, ops);
    }

    /// @inheritdoc ISettlement
    function applyBatchOp(uint64 batchNumber, uint256 escrowIndex, Op calldata op)
        external
        returns (TokenTotals memory, bytes32)
    {
        _requireSelf();
        return _applyBatchOp(batchNumber, escrowIndex, op);
    }

    /// @inheritdoc ISettlement
    function lastBatchNumber() external view returns (uint64) {
        return _lastSettledBatchNumber();
    }

    // ---------------------------------------------------------------- internal

    function _requireSelf() private view {
        if (msg.sender != address(this)) revert SettlementOnlySelf(msg.sender);
    }

    /// @dev Runs the current call in the extension on this contract's storage and returns (or
    /// reverts with) exactly what it returns; never returns to the caller's Solidity code.
    function _delegateToExtension() private {
        address extension_ = _extension;
        assembly {
            calldatacopy(0, 0, calldatasize())
            let isSuccess := delegatecall(gas(), extension_, 0, calldatasize(), 0, 0)
            returndatacopy(0, 0, returndatasize())
            if iszero(isSuccess) {
                revert(0, returndatasize())
            }
            return(0, returndatasize())
        }
    }
}
