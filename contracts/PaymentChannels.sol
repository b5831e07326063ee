// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./interfaces/IVault.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {Vault} from "./Vault.sol";
import {FeeMath} from "./libraries/FeeMath.sol";
import {Hashing} from "./libraries/Hashing.sol";
import {PackedChannel} from "./libraries/PackedChannel.sol";
import {VoucherCodec} from "./libraries/VoucherCodec.sol";

/**
 * @title PaymentChannels
 * @notice One-way caller-to-provider channels with cumulative vouchers, settled into vault balances
 * (see `IPaymentChannels`).
 * @dev Storage is one word per channel (`PackedChannel`); the config travels in calldata and its hash
 * is the id, so settling reads and writes exactly two slots: the channel and the provider's balance.
 * A closed channel's deposit is lowered to what was settled, so `deposit - settled` is always what
 * the channel holds.
 * Trust assumptions: only the caller's signature (a voucher, a funding) moves the caller's money,
 * and only to the provider and fee rate fixed in the config; the provider's signature can only
 * close, returning the unsettled rest to the caller. A voucher is single-use because it must raise
 * the settled amount, which it then becomes; the order of vouchers is the order of their amounts,
 * which only the caller's payments raise, so the caller cannot make the provider's newest voucher
 * stale by signing another.
 */
abstract contract PaymentChannels is Vault {
    uint64 private immutable _challengePeriod;

    mapping(bytes32 channelId => uint256 packedState) private _channels;
    mapping(bytes32 channelId => uint64 closesAt) private _closeRequests;

    /// @dev The deployment's challenge period, checked against its bounds by `Vault`.
    constructor(uint64 challengePeriod_) {
        _challengePeriod = challengePeriod_;
    }

    /// @dev The channel id: the EIP-712 digest of the config under the vault's domain.
    function _channelId(IPaymentChannels.ChannelConfig calldata c) internal view returns (bytes32) {
        return _hashTypedDataV4(Hashing.channelConfig(c));
    }

    /**
     * @dev Raises a channel's deposit to `totalDeposit` from the caller's balance; opens it if new.
     * `r`, `vs`: the caller's `ChannelFunding` signature with `nonce`, which it consumes, or zeros
     * when the caller sends the transaction (then `nonce` is not used).
     * @return added The amount moved into the channel.
     */
    function _fundChannel(
        IPaymentChannels.ChannelConfig calldata c,
        uint256 totalDeposit,
        uint256 nonce,
        bytes32 r,
        bytes32 vs
    ) internal returns (uint256 added) {
        bytes32 id = _channelId(c);
        (uint256 deposit, uint256 settled, bool isClosed) = PackedChannel.fields(_channels[id]);
        if (isClosed) revert IPaymentChannels.PaymentChannelsClosed(id);
        uint64 closesAt = _closeRequests[id];
        if (closesAt != 0) revert IPaymentChannels.PaymentChannelsClosing(id, closesAt);
        if (totalDeposit <= deposit) {
            revert IPaymentChannels.PaymentChannelsDepositNotIncreased(id, deposit, totalDeposit);
        }
        if (totalDeposit > type(uint96).max) revert IPaymentChannels.PaymentChannelsDepositTooLarge(totalDeposit);
        _requireAllowedToken(c.token);
        bool isNew = deposit == 0;
        if (isNew) _requireValidNewConfig(c);
        if (!_isSenderSigning(c.caller, r, vs)) _useSignedFunding(id, c.caller, totalDeposit, nonce, r, vs);

        // Cannot underflow: totalDeposit > deposit was checked above.
        unchecked {
            added = totalDeposit - deposit;
        }
        _debit(c.caller, c.token, added);
        // Fits: totalDeposit < 2^96 was checked above, and settled <= the old deposit.
        _channels[id] = PackedChannel.pack(totalDeposit, settled);
        if (isNew) _emitChannelOpened(id, c);
        emit IPaymentChannels.ChannelFunded(id, added, totalDeposit);
    }

    /// @dev Checks `caller`'s `ChannelFunding` signature and consumes its nonce.
    function _useSignedFunding(bytes32 id, address caller, uint256 totalDeposit, uint256 nonce, bytes32 r, bytes32 vs)
        private
    {
        bytes32 digest = _hashTypedDataV4(Hashing.channelFunding(id, totalDeposit, nonce));
        (bool isValid, address recovered) = _isDigestSignedBy(caller, digest, r, vs);
        if (!isValid) revert IPaymentChannels.PaymentChannelsInvalidSignature(id, caller, recovered);
        _useNonce(caller, nonce);
    }

    /// @dev `IPaymentChannels.fundChannelWithPermit`: the sender must be the caller.
    function _fundChannelWithPermit(
        IPaymentChannels.ChannelConfig calldata c,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) internal {
        bytes32 id = _channelId(c);
        if (msg.sender != c.caller) revert IPaymentChannels.PaymentChannelsUnauthorized(id, msg.sender);
        _permitOrOwner(c.token, msg.sender, amount, deadline, v, r, s);
        uint256 received = _pullDeposit(c.token, msg.sender, msg.sender, amount);
        // The sender is the caller, so the funding needs no signature (both parts zero).
        _fundChannel(c, uint96(_channels[id]) + received, 0, 0, 0);
    }

    function _requireValidNewConfig(IPaymentChannels.ChannelConfig calldata c) private view {
        if (c.caller == address(0) || c.provider == address(0) || c.caller == c.provider) {
            revert IPaymentChannels.PaymentChannelsInvalidConfig(c.caller, c.provider);
        }
        uint16 maxFeeBps = _protocolFeeBps();
        if (c.feeBps > maxFeeBps) revert IPaymentChannels.PaymentChannelsFeeTooHigh(c.feeBps, maxFeeBps);
    }

    function _emitChannelOpened(bytes32 id, IPaymentChannels.ChannelConfig calldata c) private {
        emit IPaymentChannels.ChannelOpened(id, c.caller, c.provider, c.token, c.feeBps, c.salt);
    }

    /// @dev Settles a voucher. The caller credits `fee` to the treasury.
    /// @return token The channel's token.
    /// @return amount Newly settled gross amount (the provider got `amount - fee`).
    /// @return fee The protocol fee.
    function _settleChannel(IPaymentChannels.SignedVoucher calldata v)
        internal
        returns (address token, uint256 amount, uint256 fee)
    {
        VoucherCodec.Record memory rec = VoucherCodec.load(v);
        (bytes32 id, bytes32 digest) = VoucherCodec.hashes(rec, _domainSeparatorV4());
        (amount, fee) = _applyVoucher(id, digest, rec, _channels[id]);
        token = rec.token;
    }

    /**
     * @dev Cooperative close. The caller credits `fee` to the treasury.
     * @return amount Gross amount settled by the final voucher (zero if it was settled already).
     * @return fee The protocol fee on `amount`.
     * @return refund What returned to the caller.
     */
    function _closeChannel(IPaymentChannels.SignedVoucher calldata v, IVault.Signature calldata providerSignature)
        internal
        returns (uint256 amount, uint256 fee, uint256 refund)
    {
        VoucherCodec.Record memory rec = VoucherCodec.load(v);
        (bytes32 id, bytes32 digest) = VoucherCodec.hashes(rec, _domainSeparatorV4());
        uint256 word = _channels[id];
        (uint256 deposit, uint256 settled) = _requireOpen(id, word);
        (bool isValid, address recovered) =
            _isAuthorizedBy(rec.provider, Hashing.channelClose(id, rec.cumulativeAmount), providerSignature);
        if (!isValid) revert IPaymentChannels.PaymentChannelsInvalidSignature(id, rec.provider, recovered);

        if (rec.cumulativeAmount > settled) {
            // A final voucher above the settled amount settles first (the caller's signature is checked there).
            (amount, fee) = _applyVoucher(id, digest, rec, word);
            settled = rec.cumulativeAmount;
        } else if (rec.cumulativeAmount < settled) {
            revert IPaymentChannels.PaymentChannelsCloseBelowSettled(id, settled, rec.cumulativeAmount);
        }
        refund = _finishClose(id, rec.caller, rec.token, deposit, settled);
    }

    /// @dev `IPaymentChannels.requestChannelClose` by the sender, who must be the caller.
    function _requestChannelClose(IPaymentChannels.ChannelConfig calldata c) internal {
        bytes32 id = _channelId(c);
        if (msg.sender != c.caller) revert IPaymentChannels.PaymentChannelsUnauthorized(id, msg.sender);
        _requireOpen(id, _channels[id]);
        uint64 closesAt = _closeRequests[id];
        if (closesAt != 0) revert IPaymentChannels.PaymentChannelsClosing(id, closesAt);
        // Cannot overflow: the period is at most MAX_EXIT_DELAY.
        closesAt = uint64(block.timestamp) + _challengePeriod;
        _closeRequests[id] = closesAt;
        emit IPaymentChannels.ChannelCloseRequested(id, closesAt);
    }

    /// @dev Unilateral close, after the challenge period. Returns the refund.
    function _finalizeChannelClose(IPaymentChannels.ChannelConfig calldata c) internal returns (uint256 refund) {
        bytes32 id = _channelId(c);
        uint64 closesAt = _closeRequests[id];
        if (closesAt == 0) revert IPaymentChannels.PaymentChannelsNoCloseRequest(id);
        if (block.timestamp < closesAt) {
            revert IPaymentChannels.PaymentChannelsChallengePeriodActive(id, closesAt, block.timestamp);
        }
        // A pending request implies an open channel: closing always deletes the request.
        (uint256 deposit, uint256 settled,) = PackedChannel.fields(_channels[id]);
        refund = _finishClose(id, c.caller, c.token, deposit, settled);
    }

    function _channelView(bytes32 id) internal view returns (IPaymentChannels.ChannelView memory) {
        (uint256 deposit, uint256 settled, bool isClosed) = PackedChannel.fields(_channels[id]);
        return IPaymentChannels.ChannelView({
            deposit: deposit,
            settled: settled,
            closesAt: _closeRequests[id],
            isClosed: isClosed
        });
    }

    function _challengePeriodSeconds() internal view returns (uint64) {
        return _challengePeriod;
    }

    /// @dev The deposit and settled amount of open channel `id` (state `word`), or a revert if it
    /// is unknown or closed.
    function _requireOpen(bytes32 id, uint256 word) private pure returns (uint256 deposit, uint256 settled) {
        bool isClosed;
        (deposit, settled, isClosed) = PackedChannel.fields(word);
        if (isClosed) revert IPaymentChannels.PaymentChannelsClosed(id);
        if (deposit == 0) revert IPaymentChannels.PaymentChannelsNotFound(id);
    }

    /**
     * @dev Validates and applies voucher `rec` (EIP-712 digest `digest`) on channel `id`, whose
     * packed state is `word`, crediting the provider. Hot path of batch settlement: one storage
     * read (the caller passes `word`), one signature recovery, two storage writes (channel word,
     * provider balance), one event.
     */
    function _applyVoucher(bytes32 id, bytes32 digest, VoucherCodec.Record memory rec, uint256 word)
        private
        returns (uint256 amount, uint256 fee)
    {
        (uint256 deposit, uint256 settled) = _requireOpen(id, word);
        uint256 cumulativeAmount = rec.cumulativeAmount;
        // Only a voucher that pays more displaces the settled one: the caller cannot void the
        // provider's newer voucher with one that pays nothing new.
        if (cumulativeAmount <= settled) {
            revert IPaymentChannels.PaymentChannelsVoucherNotNewer(id, settled, cumulativeAmount);
        }
        if (cumulativeAmount > deposit) {
            revert IPaymentChannels.PaymentChannelsInsufficientDeposit(id, deposit, cumulativeAmount);
        }
        if (!_isSenderSigning(rec.caller, rec.r, rec.vs)) {
            (bool isValid, address recovered) = _isDigestSignedBy(rec.caller, digest, rec.r, rec.vs);
            if (!isValid) revert IPaymentChannels.PaymentChannelsInvalidSignature(id, rec.caller, recovered);
        }

        // Cannot underflow: cumulativeAmount > settled was checked above.
        unchecked {
            amount = cumulativeAmount - settled;
        }
        // feeBps <= MAX_FEE_BPS: a config only has a deposit if it passed the fee check when opened.
        fee = FeeMath.fee(amount, rec.feeBps);
        // Fits: cumulativeAmount <= deposit < 2^96.
        _channels[id] = PackedChannel.pack(deposit, cumulativeAmount);
        // Cannot underflow: fee <= amount.
        unchecked {
            _credit(rec.provider, rec.token, amount - fee);
        }
        emit IPaymentChannels.ChannelSettled(id, rec.sequence, cumulativeAmount, amount, rec.callChain);
    }

    /// @dev Closes channel `id` for good and returns the unsettled rest to `caller`.
    function _finishClose(bytes32 id, address caller, address token, uint256 deposit, uint256 settled)
        private
        returns (uint256 refund)
    {
        // Cannot underflow: settled <= deposit holds for every stored state.
        unchecked {
            refund = deposit - settled;
        }
        _channels[id] = PackedChannel.packClosed(settled);
        delete _closeRequests[id];
        _credit(caller, token, refund);
        emit IPaymentChannels.ChannelClosed(id, settled, refund);
    }
}
