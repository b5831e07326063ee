// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./interfaces/IVault.sol";
import {IJobEscrow} from "./interfaces/IJobEscrow.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {Vault} from "./Vault.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {Settlement} from "./Settlement.sol";

/**
 * @title ClearhouseVaultExtension
 * @notice The less used half of `ClearhouseVault`: admin settings, slow withdrawals, nonce
 * invalidation, permit deposits, payments with a transfer authorization (x402), dispute opening and channel close requests. Each function here is
 * the implementation of the `IVault`, `IJobEscrow` or `IPaymentChannels` function of the same
 * name, which `ClearhouseVault` forwards here by delegatecall; see the interfaces for what each does.
 * @dev Deployed by the vault's constructor with the vault's own parameters, so its immutables (the
 * delays, the EIP-712 domain of the vault) are the vault's. It inherits the vault's state and
 * declares none; every function reverts unless it runs on the vault's storage, so calling this
 * contract directly does nothing.
 */
contract ClearhouseVaultExtension is Settlement {
    /// @param p The vault's deployment settings; the deployer (`msg.sender`) is the vault.
    constructor(IVault.VaultParameters memory p) Vault(p, msg.sender) PaymentChannels(p.challengePeriod) {}

    modifier onlyThroughVault() {
        _requireVaultContext();
        _;
    }

    /// @dev `IVault.depositWithPermit`.
    function depositWithPermit(
        address token,
        address owner,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external onlyThroughVault nonReentrant whenNotPaused {
        _depositWithPermit(token, owner, amount, deadline, v, r, s);
    }

    /// @dev `IVault.payWithTransferAuthorization`.
    function payWithTransferAuthorization(
        address token,
        IVault.TransferAuthorization calldata authorization,
        address payee
    ) external onlyThroughVault nonReentrant whenNotPaused {
        _payWithTransferAuthorization(token, authorization, payee);
    }

    /// @dev `IVault.requestWithdrawal`.
    function requestWithdrawal(address token, uint256 amount, address to) external onlyThroughVault nonReentrant {
        _requestWithdrawal(token, amount, to);
    }

    /// @dev `IVault.executeWithdrawal`.
    function executeWithdrawal(address account, address token) external onlyThroughVault nonReentrant {
        _executeWithdrawal(account, token);
    }

    /// @dev `IVault.cancelWithdrawal`.
    function cancelWithdrawal(address token) external onlyThroughVault nonReentrant {
        _cancelWithdrawal(token);
    }

    /// @dev `IVault.invalidateNonce`.
    function invalidateNonce(uint256 nonce) external onlyThroughVault nonReentrant {
        _invalidateNonce(nonce);
    }

    /// @dev `IVault.setTokenAllowed`.
    function setTokenAllowed(address token, bool allowed) external onlyThroughVault onlyOwner {
        _setTokenAllowed(token, allowed);
    }

    /// @dev `IVault.proposeCoordinator`.
    function proposeCoordinator(address coordinator_) external onlyThroughVault onlyOwner {
        _proposeCoordinator(coordinator_);
    }

    /// @dev `IVault.applyCoordinator`.
    function applyCoordinator() external onlyThroughVault onlyOwner {
        _applyCoordinator();
    }

    /// @dev `IVault.proposeFee`.
    function proposeFee(uint16 feeBps_) external onlyThroughVault onlyOwner {
        _proposeFee(feeBps_);
    }

    /// @dev `IVault.applyFee`.
    function applyFee() external onlyThroughVault onlyOwner {
        _applyFee();
    }

    /// @dev `IVault.setTreasury`.
    function setTreasury(address treasury_) external onlyThroughVault onlyOwner {
        _setTreasury(treasury_);
    }

    /// @dev `IVault.pause`.
    function pause() external onlyThroughVault onlyOwner {
        _pause();
    }

    /// @dev `IVault.unpause`.
    function unpause() external onlyThroughVault onlyOwner {
        _unpause();
    }

    /// @dev `IJobEscrow.openEscrowDispute`.
    function openEscrowDispute(
        IJobEscrow.EscrowTerms calldata terms,
        IJobEscrow.EscrowPosition calldata position,
        IVault.Signature calldata payeeSignature,
        bytes32[] calldata proof
    ) external onlyThroughVault nonReentrant {
        _openEscrowDispute(terms, position, payeeSignature, proof);
    }

    /// @dev `IPaymentChannels.fundChannelWithPermit`.
    function fundChannelWithPermit(
        IPaymentChannels.ChannelConfig calldata config,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external onlyThroughVault nonReentrant whenNotPaused {
        _fundChannelWithPermit(config, amount, deadline, v, r, s);
    }

    /// @dev `IPaymentChannels.requestChannelClose`.
    function requestChannelClose(IPaymentChannels.ChannelConfig calldata config)
        external
        onlyThroughVault
        nonReentrant
    {
        _requestChannelClose(config);
    }
}
