// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {Vault} from "./Vault.sol";
import {FeeMath} from "./libraries/FeeMath.sol";
import {Hashing} from "./libraries/Hashing.sol";
import {PackedChannel} from "./libraries/PackedChannel.sol";
import {VoucherCodec} from "./libraries/VoucherCodec.sol";

/**
 * @title PaymentChannels
 * @notice One-way caller-to-provider channels with cumulative vouchers, settled into vault balances.
 * @dev Storage is one word per channel (`PackedChannel`); the config travels in calldata and its hash
 * is the id, so settling reads and writes exactly two slots: the channel and the provider's balance.
 * A closed channel is marked by `sequence == type(uint64).max` (no voucher can follow it) and its
 * deposit is lowered to what was settled, so `deposit - settled` is always what the channel holds.
 * Trust assumptions: only the caller's signature (a voucher, a funding) moves the caller's money,
 * and only to the provider and fee rate fixed in the config; the provider's signature can only
 * close early, returning money to the caller. The sequence, not the signature, makes a voucher
 * single-use: each settled voucher must be newer than the last.
 */
abstract contract PaymentChannels is Vault, IPaymentChannels {
    uint64 private immutable _challengePeriod;

    mapping(bytes32 channelId => uint256 packedState) private _channels;
    mapping(bytes32 channelId => uint64 closesAt) private _closeRequests;

    constructor(uint64 challengePeriod_) {
        _challengePeriod = challengePeriod_;
    }

    /// @inheritdoc IPaymentChannels
    function fundChannel(
        ChannelConfig calldata config,
        uint256 totalDeposit,
        Signature calldata callerSignature
    ) external {
        _fundChannel(config, totalDeposit, callerSignature.r, callerSignature.vs);
    }

    /// @inheritdoc IPaymentChannels
    function fundChannelWithPermit(
        ChannelConfig calldata config,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external nonReentrant whenNotPaused {
        bytes32 id = _channelId(config);
        if (msg.sender != config.caller) revert PaymentChannelsUnauthorized(id, msg.sender);
        _permit(config.token, msg.sender, amount, deadline, v, r, s);
        uint256 received = _pullDeposit(config.token, msg.sender, msg.sender, amount);
        // The sender is the caller, so the funding needs no signature (both parts zero).
        _fundChannel(config, uint96(_channels[id]) + received, 0, 0);
    }

    /// @inheritdoc IPaymentChannels
    function settleChannel(SignedVoucher calldata voucher) external {
        (address token,, uint256 fee) = _settleChannel(voucher);
        _creditTreasury(token, fee);
    }

    /// @inheritdoc IPaymentChannels
    function closeChannel(SignedVoucher calldata finalVoucher, Signature calldata providerSignature) external {
        (, uint256 fee,) = _closeChannel(finalVoucher, providerSignature);
        _creditTreasury(finalVoucher.config.token, fee);
    }

    /// @inheritdoc IPaymentChannels
    function requestChannelClose(ChannelConfig calldata config) external {
        bytes32 id = _channelId(config);
        if (msg.sender != config.caller) revert PaymentChannelsUnauthorized(id, msg.sender);
        _openChannelState(id);
        uint64 closesAt = _closeRequests[id];
        if (closesAt != 0) revert PaymentChannelsClosing(id, closesAt);
        closesAt = uint64(block.timestamp) + _challengePeriod;
        _closeRequests[id] = closesAt;
        emit ChannelCloseRequested(id, closesAt);
    }

    /// @inheritdoc IPaymentChannels
    function finalizeChannelClose(ChannelConfig calldata config) external {
        _finalizeChannelClose(config);
    }

    /// @inheritdoc IPaymentChannels
    function channelId(ChannelConfig calldata config) external view returns (bytes32) {
        return _channelId(config);
    }

    /// @inheritdoc IPaymentChannels
    function channel(bytes32 id) external view returns (ChannelView memory) {
        PackedChannel.State memory s = PackedChannel.unpack(_channels[id]);
        return ChannelView({
            deposit: s.deposit,
            settled: s.settled,
            sequence: s.sequence,
            closesAt: _closeRequests[id],
            isClosed: s.sequence == PackedChannel.CLOSED
        });
    }

    /// @inheritdoc IPaymentChannels
    function challengePeriod() external view returns (uint64) {
        return _challengePeriod;
    }

    // ---------------------------------------------------------------- internal

    /// @dev The channel id: the EIP-712 digest of the config under this vault's domain.
    function _channelId(ChannelConfig calldata c) internal view returns (bytes32) {
        return _hashTypedDataV4(Hashing.channelConfig(c));
    }

    /**
     * @dev Raises a channel's deposit to `totalDeposit` from the caller's balance; opens it if new.
     * `r`, `vs`: the caller's `ChannelFunding` signature, or zeros when the caller sends the transaction.
     * @return added The amount moved into the channel.
     */
    function _fundChannel(ChannelConfig calldata c, uint256 totalDeposit, bytes32 r, bytes32 vs)
        internal
        returns (uint256 added)
    {
        bytes32 id = _channelId(c);
        PackedChannel.State memory s = PackedChannel.unpack(_channels[id]);
        if (s.sequence == PackedChannel.CLOSED) revert PaymentChannelsClosed(id);
        uint64 closesAt = _closeRequests[id];
        if (closesAt != 0) revert PaymentChannelsClosing(id, closesAt);
        if (totalDeposit <= s.deposit) revert PaymentChannelsDepositNotIncreased(id, s.deposit, totalDeposit);
        if (totalDeposit > type(uint96).max) revert PaymentChannelsDepositTooLarge(totalDeposit);
        _requireAllowedToken(c.token);
        bool isNew = s.deposit == 0;
        if (isNew) _requireValidNewConfig(c);
        (bool isValid, address recovered) = _isAuthorizedBy(c.caller, Hashing.channelFunding(id, totalDeposit), r, vs);
        if (!isValid) revert PaymentChannelsInvalidSignature(id, c.caller, recovered);

        // Cannot underflow: totalDeposit > s.deposit was checked above.
        unchecked {
            added = totalDeposit - s.deposit;
        }
        _debit(c.caller, c.token, added);
        // Fits: totalDeposit < 2^96 was checked above, and settled <= the old deposit.
        _channels[id] = PackedChannel.pack(totalDeposit, s.settled, s.sequence);
        if (isNew) _emitChannelOpened(id, c);
        emit ChannelFunded(id, added, totalDeposit);
    }

    function _requireValidNewConfig(ChannelConfig calldata c) private view {
        if (c.caller == address(0) || c.provider == address(0) || c.caller == c.provider) {
            revert PaymentChannelsInvalidConfig(c.caller, c.provider);
        }
        uint16 maxFeeBps = feeBps();
        if (c.feeBps > maxFeeBps) revert PaymentChannelsFeeTooHigh(c.feeBps, maxFeeBps);
    }

    function _emitChannelOpened(bytes32 id, ChannelConfig calldata c) private {
        emit ChannelOpened(id, c.caller, c.provider, c.token, c.feeBps, c.salt);
    }

    /// @dev Settles a voucher. The caller credits `fee` to the treasury.
    /// @return token The channel's token.
    /// @return amount Newly settled gross amount (the provider got `amount - fee`).
    /// @return fee The protocol fee.
    function _settleChannel(SignedVoucher calldata v)
        internal
        returns (address token, uint256 amount, uint256 fee)
    {
        VoucherCodec.Record memory rec = VoucherCodec.load(v);
        (bytes32 id, bytes32 digest) = VoucherCodec.hashes(rec, _domainSeparatorV4());
        (amount, fee) = _applyVoucher(id, digest, rec, _channels[id]);
        token = rec.token;
    }

    /// @dev Cooperative close. The caller credits `fee` to the treasury.
    /// @return amount Gross amount settled by the final voucher (zero if it was settled already).
    /// @return fee The protocol fee on `amount`.
    /// @return refund What returned to the caller.
    function _closeChannel(SignedVoucher calldata v, Signature calldata providerSignature)
        internal
        returns (uint256 amount, uint256 fee, uint256 refund)
    {
        VoucherCodec.Record memory rec = VoucherCodec.load(v);
        (bytes32 id, bytes32 digest) = VoucherCodec.hashes(rec, _domainSeparatorV4());
        PackedChannel.State memory s = _openChannelState(id);
        (bool isValid, address recovered) = _isAuthorizedBy(
            rec.provider, Hashing.channelClose(id, rec.sequence, rec.cumulativeAmount), providerSignature
        );
        if (!isValid) revert PaymentChannelsInvalidSignature(id, rec.provider, recovered);

        if (rec.sequence != s.sequence) {
            // A newer final voucher settles first (an older one reverts as stale inside).
            (amount, fee) = _applyVoucher(id, digest, rec, _channels[id]);
            s.settled = rec.cumulativeAmount;
        } else if (rec.cumulativeAmount != s.settled) {
            revert PaymentChannelsCloseStateMismatch(id, rec.sequence, rec.cumulativeAmount);
        }
        refund = _finishClose(id, rec.caller, rec.token, s);
    }

    /// @dev Unilateral close, after the challenge period. Returns the refund.
    function _finalizeChannelClose(ChannelConfig calldata c) internal returns (uint256 refund) {
        bytes32 id = _channelId(c);
        uint64 closesAt = _closeRequests[id];
        if (closesAt == 0) revert PaymentChannelsNoCloseRequest(id);
        if (block.timestamp < closesAt) revert PaymentChannelsChallengePeriodActive(id, closesAt, block.timestamp);
        // A pending request implies an open channel: closing always deletes the request.
        refund = _finishClose(id, c.caller, c.token, PackedChannel.unpack(_channels[id]));
    }

    /// @dev Loads an open channel's state, or reverts if it is unknown or closed.
    function _openChannelState(bytes32 id) private view returns (PackedChannel.State memory s) {
        s = PackedChannel.unpack(_channels[id]);
        if (s.sequence == PackedChannel.CLOSED) revert PaymentChannelsClosed(id);
        if (s.deposit == 0) revert PaymentChannelsNotFound(id);
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
        (uint256 deposit, uint256 settled, uint64 current) = PackedChannel.fields(word);
        if (current == PackedChannel.CLOSED) revert PaymentChannelsClosed(id);
        if (deposit == 0) revert PaymentChannelsNotFound(id);
        uint64 sequence = rec.sequence;
        uint256 cumulativeAmount = rec.cumulativeAmount;
        // `sequence == CLOSED` is refused so that no voucher can look like a close.
        if (sequence <= current || sequence == PackedChannel.CLOSED) {
            revert PaymentChannelsStaleVoucher(id, current, sequence);
        }
        if (cumulativeAmount < settled) revert PaymentChannelsAmountDecreased(id, settled, cumulativeAmount);
        if (cumulativeAmount > deposit) revert PaymentChannelsInsufficientDeposit(id, deposit, cumulativeAmount);
        if (!_isSenderSigning(rec.caller, rec.r, rec.vs)) {
            (bool isValid, address recovered) = _isDigestSignedBy(rec.caller, digest, rec.r, rec.vs);
            if (!isValid) revert PaymentChannelsInvalidSignature(id, rec.caller, recovered);
        }

        // Cannot underflow: cumulativeAmount >= settled was checked above.
        unchecked {
            amount = cumulativeAmount - settled;
        }
        // feeBps <= MAX_FEE_BPS: a config only has a deposit if it passed the fee check when opened.
        fee = FeeMath.fee(amount, rec.feeBps);
        // Fits: cumulativeAmount <= deposit < 2^96.
        _channels[id] = PackedChannel.pack(deposit, cumulativeAmount, sequence);
        // Cannot underflow: fee <= amount.
        unchecked {
            _credit(rec.provider, rec.token, amount - fee);
        }
        emit ChannelSettled(id, sequence, cumulativeAmount, amount, rec.callChain);
    }

    /// @dev Closes channel `id` for good and returns the unsettled rest to `caller`.
    function _finishClose(bytes32 id, address caller, address token, PackedChannel.State memory s)
        private
        returns (uint256 refund)
    {
        // Cannot underflow: settled <= deposit holds for every stored state.
        unchecked {
            refund = s.deposit - s.settled;
        }
        _channels[id] = PackedChannel.pack(s.settled, s.settled, PackedChannel.CLOSED);
        delete _closeRequests[id];
        _credit(caller, token, refund);
        emit ChannelClosed(id, s.settled, refund);
    }
}
