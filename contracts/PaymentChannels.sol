// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./interfaces/IVault.sol";
import {IPaymentChannels} from "./interfaces/IPaymentChannels.sol";
import {Vault} from "./Vault.sol";
import {Hashing} from "./libraries/Hashing.sol";
import {PackedChannel} from "./libraries/PackedChannel.sol";
import {VoucherCodec} from "./libraries/VoucherCodec.sol";

/**
 * @title PaymentChannels
 * @notice One-way caller-to-provider channels with cumulative vouchers, settled into vault balances
 * (see `IPaymentChannels`).
 * @dev Storage is one word per channel (`PackedChannel`), at the storage slot named by the channel's
 * id (`_channelWord`); the config travels in calldata and its hash is the id, so settling reads and
 * writes exactly two slots: the channel and the provider's balance.
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
        (uint256 deposit, uint256 settled, bool isClosed) = PackedChannel.fields(_channelWord(id));
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
        _setChannelWord(id, PackedChannel.pack(totalDeposit, settled));
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
        _fundChannel(c, uint96(_channelWord(id)) + received, 0, 0, 0);
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
        uint256[] memory vouchers = new uint256[](1);
        assembly ("memory-safe") {
            mstore(add(vouchers, 0x20), v)
        }
        (amount, fee) = _settleVouchers(vouchers, _domainSeparatorV4());
        token = VoucherCodec.token(v);
    }

    /**
     * @dev Settles the vouchers at calldata offsets `vouchers`, in order, each as `settleChannel`
     * settles one, and returns the gross amount they settled in all and the protocol fees on it,
     * which the caller credits to the treasury. Each offset must start ten words of calldata (its
     * caller checked the length: the ABI decoder of a direct call, `OpData.signedVoucher` in a
     * batch).
     * This is the hot path of batch settlement, run for every voucher of a batch, so it is one
     * assembly loop: per voucher, the EIP-712 hashes of `VoucherCodec.hashes`, one storage read
     * (the channel), the checks, one signature recovery (`CompactECDSA.recover`, inline),
     * two storage writes (the channel word, the provider's balance) and the `ChannelSettled`
     * event. The checks, all of which a voucher must pass: its encoding is canonical, its channel
     * is open and funded, it raises the settled amount to at most the deposit, and the caller
     * signed it (or sends this transaction itself with an empty signature, as `_isSenderSigning`
     * allows). At the first voucher that fails one, the loop stops and `_revertUnsettled` makes
     * the same checks in Solidity to name the error; the vouchers before it are undone with the
     * revert.
     */
    function _settleVouchers(uint256[] memory vouchers, bytes32 domainSeparator)
        internal
        returns (uint256 settled, uint256 fees)
    {
        uint256 refused;
        bytes32 configTypeHash = Hashing.CHANNEL_CONFIG_TYPEHASH;
        bytes32 voucherTypeHash = Hashing.VOUCHER_TYPEHASH;
        bytes32 topic = IPaymentChannels.ChannelSettled.selector;
        uint256 balancesSlot = _balancesSlot();
        assembly ("memory-safe") {
            // Scratch memory past the free memory pointer, at `ptr` (offsets in hex):
            //  000-020 the ChannelConfig type hash, then from 020 the voucher's first eight words
            //          (caller, provider, token, feeBps, salt, sequence, cumulativeAmount,
            //          callChain), so 000-0c0 is the ChannelConfig struct to hash; then the Voucher
            //          type hash and the channel id overwrite words 080-0c0 (feeBps and salt, no
            //          longer needed), so 080-120 is the Voucher struct to hash; last, 0c0-140 is the
            //          event's data (sequence, cumulativeAmount, amount, callChain);
            //  140-182 "\x19\x01" || domainSeparator || structHash, the EIP-712 digest's preimage
            //          (as OZ MessageHashUtils);
            //  1a0-220 ecrecover's input (digest, v, r, s);
            //  220-2a0 the constants the loop reads.
            let ptr := mload(0x40)
            mstore(add(ptr, 0x140), hex"1901")
            mstore(add(ptr, 0x142), domainSeparator)
            mstore(add(ptr, 0x220), configTypeHash)
            mstore(add(ptr, 0x240), voucherTypeHash)
            mstore(add(ptr, 0x260), topic)
            mstore(add(ptr, 0x280), balancesSlot)

            // Settles the vouchers whose offsets are the words from `cursor` to `end`, in order, or
            // stops at the first one refused (`stoppedAt` < `end`; it wrote nothing).
            function settleAll(cursor, end, scratch) -> total, feeTotal, stoppedAt {
                for {} lt(cursor, end) { cursor := add(cursor, 0x20) } {
                    let v := mload(cursor)
                    // id = hashStruct(ChannelConfig) under the domain: keccak256(typeHash, caller,
                    // provider, token, feeBps, salt).
                    mstore(scratch, mload(add(scratch, 0x220)))
                    calldatacopy(add(scratch, 0x20), v, 0x100)
                    mstore(add(scratch, 0x162), keccak256(scratch, 0xc0))
                    let id := keccak256(add(scratch, 0x140), 0x42)
                    // word = _channelWord(id): PackedChannel's deposit (bits 0-95), settled (96-191)
                    // and closed flag (bit 192, the only one above 191).
                    let word := sload(id)
                    // The checks, in as few steps as they allow:
                    // - settled < cumulativeAmount <= deposit. Only a voucher that pays more
                    //   displaces the settled one: the caller cannot void the provider's newer
                    //   voucher with one that pays nothing new. This also refuses a closed channel
                    //   (its flag puts `shr(96, word)`, otherwise the settled amount, above every
                    //   deposit) and an unfunded one (deposit 0).
                    // - The caller's signature over the voucher's digest: a high s (EIP-2) or one
                    //   that does not recover is refused, as by `CompactECDSA.recover`. Or, with an
                    //   empty signature, `_isSenderSigning`: the caller sends this transaction
                    //   itself, and is not this contract (the sender of every batch op).
                    // - A canonical encoding: a sequence of 64 bits (it is emitted as a uint64). A
                    //   dirty word in the config names a channel nobody funded (funding hashes the
                    //   config's typed values, so every funded id is over clean words), so it is
                    //   refused as unfunded.
                    {
                        let isRefused := iszero(gt(mload(add(scratch, 0xe0)), shr(96, word)))
                        isRefused := or(isRefused, gt(mload(add(scratch, 0xe0)), and(word, 0xffffffffffffffffffffffff)))
                        isRefused := or(isRefused, shr(64, mload(add(scratch, 0xc0))))
                        // digest = hashStruct(Voucher) under the domain: keccak256(typeHash,
                        // channelId, sequence, cumulativeAmount, callChain), as ecrecover's first
                        // input word.
                        mstore(add(scratch, 0x80), mload(add(scratch, 0x240)))
                        mstore(add(scratch, 0xa0), id)
                        mstore(add(scratch, 0x162), keccak256(add(scratch, 0x80), 0xa0))
                        mstore(add(scratch, 0x1a0), keccak256(add(scratch, 0x140), 0x42))
                        if iszero(isRefused) {
                            // ecrecover's input, words 2 and 3: r and vs (then s).
                            calldatacopy(add(scratch, 0x1e0), add(v, 0x100), 0x40)
                            let vs := mload(add(scratch, 0x200))
                            switch or(mload(add(scratch, 0x1e0)), vs)
                            case 0 {
                                isRefused := iszero(and(eq(mload(add(scratch, 0x20)), caller()), iszero(eq(mload(add(scratch, 0x20)), address()))))
                            }
                            default {
                                // v = 27 + the top bit of vs; s = the rest.
                                mstore(add(scratch, 0x1c0), add(shr(255, vs), 27))
                                mstore(add(scratch, 0x200), and(vs, 0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff))
                                mstore(0x00, 0)
                                // As Solidity's `ecrecover`: a failed call reverts, never reads as "no signer".
                                if iszero(staticcall(gas(), 0x01, add(scratch, 0x1a0), 0x80, 0x00, 0x20)) {
                                    revert(0, 0)
                                }
                                isRefused := gt(mload(add(scratch, 0x200)), 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0)
                                isRefused := or(isRefused, iszero(mload(0x00)))
                                isRefused := or(isRefused, iszero(eq(mload(0x00), mload(add(scratch, 0x20)))))
                            }
                        }
                        if isRefused {
                            break
                        }
                    }
                    // Cannot underflow: cumulativeAmount > settled, which is `shr(96, word)`: the
                    // closed flag is clear.
                    let amount := sub(mload(add(scratch, 0xe0)), shr(96, word))
                    // _setChannelWord(id, PackedChannel.pack(deposit, cumulativeAmount)). Fits:
                    // cumulativeAmount <= deposit < 2^96.
                    sstore(id, or(and(word, 0xffffffffffffffffffffffff), shl(96, mload(add(scratch, 0xe0)))))
                    // FeeMath.fee(amount, feeBps). Cannot overflow: amount < 2^96, and feeBps <=
                    // MAX_FEE_BPS (a config only has a deposit if it passed the fee check when opened).
                    let fee := div(mul(amount, calldataload(add(v, 0x60))), 10000)
                    // _credit(provider, token, amount - fee): _balances[provider][token] += amount - fee.
                    // Cannot underflow: fee <= amount. Cannot overflow: see `_credit`.
                    mstore(0x00, mload(add(scratch, 0x40)))
                    mstore(0x20, mload(add(scratch, 0x280)))
                    mstore(0x20, keccak256(0x00, 0x40))
                    mstore(0x00, calldataload(add(v, 0x40)))
                    let balanceSlot := keccak256(0x00, 0x40)
                    sstore(balanceSlot, add(sload(balanceSlot), sub(amount, fee)))
                    // emit ChannelSettled(id, sequence, cumulativeAmount, amount, callChain):
                    // sequence and cumulativeAmount are in place; callChain moves up a word to
                    // make room for amount.
                    mstore(add(scratch, 0x120), mload(add(scratch, 0x100)))
                    mstore(add(scratch, 0x100), amount)
                    log2(add(scratch, 0xc0), 0x80, mload(add(scratch, 0x260)), id)
                    // Cannot overflow: settled amounts are parts of the tokens this vault holds.
                    total := add(total, amount)
                    feeTotal := add(feeTotal, fee)
                }
                stoppedAt := cursor
            }

            let first := add(vouchers, 0x20)
            let end := add(first, shl(5, mload(vouchers)))
            let stoppedAt
            settled, fees, stoppedAt := settleAll(first, end, ptr)
            if lt(stoppedAt, end) {
                refused := mload(stoppedAt)
            }
        }
        if (refused != 0) _revertUnsettled(_voucherAt(refused), domainSeparator);
    }

    /**
     * @dev Reverts with the error of the first check of `_settleVouchers` that voucher `v` fails, in
     * the state it failed in, ending with `PaymentChannelsInvalidSignature`: the checks in plain
     * Solidity, run only when the loop refused a voucher.
     */
    function _revertUnsettled(IPaymentChannels.SignedVoucher calldata v, bytes32 domainSeparator) private view {
        (bytes32 id, bytes32 digest) = VoucherCodec.hashes(v, domainSeparator);
        (uint256 deposit, uint256 settled, bool isClosed) = PackedChannel.fields(_channelWord(id));
        if (isClosed) revert IPaymentChannels.PaymentChannelsClosed(id);
        if (deposit == 0) revert IPaymentChannels.PaymentChannelsNotFound(id);
        uint256 cumulativeAmount = VoucherCodec.cumulativeAmount(v);
        if (cumulativeAmount <= settled) {
            revert IPaymentChannels.PaymentChannelsVoucherNotNewer(id, settled, cumulativeAmount);
        }
        if (cumulativeAmount > deposit) {
            revert IPaymentChannels.PaymentChannelsInsufficientDeposit(id, deposit, cumulativeAmount);
        }
        address caller = VoucherCodec.caller(v);
        (bytes32 r, bytes32 vs) = VoucherCodec.signature(v);
        (, address recovered) = _isDigestSignedBy(caller, digest, r, vs);
        revert IPaymentChannels.PaymentChannelsInvalidSignature(id, caller, recovered);
    }

    /// @dev The voucher at calldata offset `offset`.
    function _voucherAt(uint256 offset) private pure returns (IPaymentChannels.SignedVoucher calldata v) {
        assembly ("memory-safe") {
            v := offset
        }
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
        (bytes32 id,) = VoucherCodec.hashes(v, _domainSeparatorV4());
        (uint256 deposit, uint256 settled) = _requireOpen(id, _channelWord(id));
        uint256 cumulativeAmount = VoucherCodec.cumulativeAmount(v);
        _requireProviderClose(id, VoucherCodec.provider(v), cumulativeAmount, providerSignature);

        if (cumulativeAmount > settled) {
            // A final voucher above the settled amount settles first, exactly as `settleChannel`
            // (the caller's signature is checked there).
            (, amount, fee) = _settleChannel(v);
            settled = cumulativeAmount;
        } else if (cumulativeAmount < settled) {
            revert IPaymentChannels.PaymentChannelsCloseBelowSettled(id, settled, cumulativeAmount);
        }
        refund = _finishClose(id, VoucherCodec.caller(v), VoucherCodec.token(v), deposit, settled);
    }

    /// @dev Reverts unless `provider` signed (or sends) the cooperative close of channel `id` at `cumulativeAmount`.
    function _requireProviderClose(
        bytes32 id,
        address provider,
        uint256 cumulativeAmount,
        IVault.Signature calldata providerSignature
    ) private view {
        (bool isValid, address recovered) =
            _isAuthorizedBy(provider, Hashing.channelClose(id, cumulativeAmount), providerSignature);
        if (!isValid) revert IPaymentChannels.PaymentChannelsInvalidSignature(id, provider, recovered);
    }

    /// @dev `IPaymentChannels.requestChannelClose` by the sender, who must be the caller.
    function _requestChannelClose(IPaymentChannels.ChannelConfig calldata c) internal {
        bytes32 id = _channelId(c);
        if (msg.sender != c.caller) revert IPaymentChannels.PaymentChannelsUnauthorized(id, msg.sender);
        _requireOpen(id, _channelWord(id));
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
        (uint256 deposit, uint256 settled,) = PackedChannel.fields(_channelWord(id));
        refund = _finishClose(id, c.caller, c.token, deposit, settled);
    }

    function _channelView(bytes32 id) internal view returns (IPaymentChannels.ChannelView memory) {
        (uint256 deposit, uint256 settled, bool isClosed) = PackedChannel.fields(_channelWord(id));
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

    /**
     * @dev Channel `id`'s packed state (`PackedChannel`; zero for a channel never funded).
     * @dev It is stored at storage slot `id` itself rather than in a mapping: the id is already a
     * keccak256 digest (EIP-712, of a 66-byte preimage that starts "\x19\x01"), so it is as far
     * from every other slot of the vault (small numbers, and keccak256 digests of the 32- or
     * 64-byte preimages Solidity hashes for mappings) as the slots of a mapping are from each
     * other, and settlement, which reads and writes it once per voucher, skips a mapping's hash.
     */
    function _channelWord(bytes32 id) internal view returns (uint256 word) {
        assembly ("memory-safe") {
            word := sload(id)
        }
    }

    /// @dev Stores channel `id`'s packed state `word` (see `_channelWord`).
    function _setChannelWord(bytes32 id, uint256 word) private {
        assembly ("memory-safe") {
            sstore(id, word)
        }
    }

    /// @dev The deposit and settled amount of open channel `id` (state `word`), or a revert if it
    /// is unknown or closed.
    function _requireOpen(bytes32 id, uint256 word) private pure returns (uint256 deposit, uint256 settled) {
        bool isClosed;
        (deposit, settled, isClosed) = PackedChannel.fields(word);
        if (isClosed) revert IPaymentChannels.PaymentChannelsClosed(id);
        if (deposit == 0) revert IPaymentChannels.PaymentChannelsNotFound(id);
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
        _setChannelWord(id, PackedChannel.packClosed(settled));
        delete _closeRequests[id];
        _credit(caller, token, refund);
        emit IPaymentChannels.ChannelClosed(id, settled, refund);
    }
}
