// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./IVault.sol";

/**
 * @title IPaymentChannels
 * @notice One-way payment channels from a caller to a provider. The caller funds a channel from its
 * vault balance (or its wallet, with a permit) and signs cumulative vouchers
 * `{channelId, sequence, cumulativeAmount, callChain}` as it consumes the provider's paid calls.
 * Settling a voucher credits the provider's vault balance with `cumulativeAmount - settled`, less
 * the channel's fee, which goes to the treasury.
 *
 * Ordering: vouchers are ordered by `cumulativeAmount`, which only the caller's real payments
 * raise. A voucher settles only if it raises the settled amount, so the provider's newest voucher
 * (the largest amount) can always still settle: no voucher the caller signs later can make it
 * stale. `sequence` numbers the caller's vouchers for the record (it is emitted with each
 * settlement) and orders nothing; a cooperative close names an amount, not a sequence.
 * @dev A channel's id is the EIP-712 digest of its immutable `ChannelConfig`, so it binds caller,
 * provider, token, fee and salt to this chain and this contract. Functions take the config and
 * derive the id; only the mutable state is stored (one slot). Exit: cooperatively at once (the
 * provider's `ChannelClose` signature, plus the caller's voucher for anything newer than settled),
 * or unilaterally by the caller: `requestChannelClose`, a challenge period in which the provider (or
 * anyone holding the newest voucher) settles, then `finalizeChannelClose` returns the rest.
 */
interface IPaymentChannels {
    /// @notice The immutable configuration that names a channel (EIP-712 `ChannelConfig`).
    /// @param caller Who funds the channel and signs vouchers.
    /// @param provider Who is paid.
    /// @param token An allowlisted token.
    /// @param feeBps Protocol fee on every settled amount; at most the protocol fee when the channel opens.
    /// @param salt Any value that tells apart channels with the same parties (e.g. 1, 2, ...).
    struct ChannelConfig {
        address caller;
        address provider;
        address token;
        uint16 feeBps;
        bytes32 salt;
    }

    /// @notice A voucher with the config of its channel and the caller's signature. The signed
    /// EIP-712 `Voucher` is `{channelId, sequence, cumulativeAmount, callChain}`, with `channelId`
    /// derived from `config`, so the id itself never travels.
    /// @param config The channel's config.
    /// @param sequence The caller's running number of this voucher, for the record; orders nothing.
    /// @param cumulativeAmount Total the caller owes the provider on this channel so far; a voucher
    /// settles only if this is above the settled amount.
    /// @param callChain Hash chain of the call records this voucher pays for.
    /// @param signature The caller's signature; empty only when the caller sends the transaction.
    struct SignedVoucher {
        ChannelConfig config;
        uint64 sequence;
        uint256 cumulativeAmount;
        bytes32 callChain;
        IVault.Signature signature;
    }

    /// @notice A channel's state as a view.
    /// @param deposit Total funded (lowered to `settled` on close).
    /// @param settled Cumulative amount settled to the provider side.
    /// @param closesAt When a pending unilateral close can be finalized (zero when none).
    /// @param isClosed Whether the channel is closed for good.
    struct ChannelView {
        uint256 deposit;
        uint256 settled;
        uint64 closesAt;
        bool isClosed;
    }

    /// @notice Thrown when channel `channelId` was never funded.
    error PaymentChannelsNotFound(bytes32 channelId);
    /// @notice Thrown when channel `channelId` is closed for good.
    error PaymentChannelsClosed(bytes32 channelId);
    /// @notice Thrown when channel `channelId` is in its challenge period, ending at `closesAt`.
    error PaymentChannelsClosing(bytes32 channelId, uint64 closesAt);
    /// @notice Thrown when a close of channel `channelId` is finalized with no request pending.
    error PaymentChannelsNoCloseRequest(bytes32 channelId);
    /// @notice Thrown when a close of channel `channelId` is finalized before `closesAt`.
    error PaymentChannelsChallengePeriodActive(bytes32 channelId, uint64 closesAt, uint256 nowTimestamp);
    /// @notice Thrown when funding channel `channelId` to `totalDeposit` would not raise `deposit`.
    error PaymentChannelsDepositNotIncreased(bytes32 channelId, uint256 deposit, uint256 totalDeposit);
    /// @notice Thrown when `totalDeposit` does not fit the stored 96 bits.
    error PaymentChannelsDepositTooLarge(uint256 totalDeposit);
    /// @notice Thrown when a voucher's `cumulativeAmount` does not raise the `settled` amount.
    error PaymentChannelsVoucherNotNewer(bytes32 channelId, uint256 settled, uint256 cumulativeAmount);
    /// @notice Thrown when a voucher's `cumulativeAmount` exceeds the channel's `deposit`.
    error PaymentChannelsInsufficientDeposit(bytes32 channelId, uint256 deposit, uint256 cumulativeAmount);
    /// @notice Thrown when a cooperative close names `cumulativeAmount`, below the `settled` amount.
    error PaymentChannelsCloseBelowSettled(bytes32 channelId, uint256 settled, uint256 cumulativeAmount);
    /// @notice Thrown when a new channel's config is invalid (zero or equal parties).
    error PaymentChannelsInvalidConfig(address caller, address provider);
    /// @notice Thrown when a new channel's `feeBps` exceeds the current protocol fee `maxFeeBps`.
    error PaymentChannelsFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice Thrown when `sender` may not do this on channel `channelId` (only the caller may).
    error PaymentChannelsUnauthorized(bytes32 channelId, address sender);
    /// @notice Thrown when a signature on channel `channelId` is not `expected`'s (recovered `recovered`).
    error PaymentChannelsInvalidSignature(bytes32 channelId, address expected, address recovered);

    /// @notice Emitted when channel `channelId` is first funded, with its whole config.
    event ChannelOpened(
        bytes32 indexed channelId,
        address indexed caller,
        address indexed provider,
        address token,
        uint16 feeBps,
        bytes32 salt
    );
    /// @notice Emitted when `amount` moves from the caller's balance into channel `channelId`.
    event ChannelFunded(bytes32 indexed channelId, uint256 amount, uint256 totalDeposit);
    /// @notice Emitted when a voucher settles: `amount` newly paid, of which the provider gets
    /// `amount - fee` with `fee = amount * feeBps / 10000` (`feeBps` of the channel's config, in
    /// `ChannelOpened`). The fee is not repeated here: this event is on the batch hot path.
    event ChannelSettled(
        bytes32 indexed channelId,
        uint64 sequence,
        uint256 cumulativeAmount,
        uint256 amount,
        bytes32 callChain
    );
    /// @notice Emitted when the caller starts a unilateral close that can be finalized at `closesAt`.
    event ChannelCloseRequested(bytes32 indexed channelId, uint64 closesAt);
    /// @notice Emitted when channel `channelId` closes: `settled` went to the provider side, `refund` back to the caller.
    event ChannelClosed(bytes32 indexed channelId, uint256 settled, uint256 refund);

    /**
     * @notice Opens channel `config` or tops it up, raising its deposit to `totalDeposit` from the
     * caller's vault balance.
     * @dev Anyone may submit it with the caller's `ChannelFunding` signature, which consumes the
     * signed unordered `nonce` of the caller, so the caller cancels a funding it signed by voiding the
     * nonce (`invalidateNonce`). The total (not the increment) is signed. Not while a close is pending.
     * @param config The channel's config.
     * @param totalDeposit The new total deposit.
     * @param nonce The caller's unused nonce in the signed funding; ignored when the caller sends the transaction.
     * @param callerSignature The caller's EIP-712 signature; empty when the caller sends the transaction.
     */
    function fundChannel(
        ChannelConfig calldata config,
        uint256 totalDeposit,
        uint256 nonce,
        IVault.Signature calldata callerSignature
    ) external;

    /**
     * @notice Opens channel `config` or tops it up with `amount` straight from the caller's wallet,
     * using an EIP-2612 permit. Only the caller may send it.
     * @dev Adds what actually arrived (fee-on-transfer tokens add less). Reverts while deposits are paused.
     * @param config The channel's config; `msg.sender` must be its caller.
     * @param amount Base units to pull (also the permit value).
     * @param deadline The permit's deadline.
     * @param v Permit signature v.
     * @param r Permit signature r.
     * @param s Permit signature s.
     */
    function fundChannelWithPermit(
        ChannelConfig calldata config,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /**
     * @notice Settles a voucher: credits the provider with `cumulativeAmount - settled`, less the fee.
     * @dev Anyone may submit it; the money can only go to the config's provider. The voucher's
     * `cumulativeAmount` must be above the settled amount and at most the deposit. Still possible
     * during a pending unilateral close (that is the challenge) and until the close is finalized.
     * @param voucher The caller-signed voucher.
     */
    function settleChannel(SignedVoucher calldata voucher) external;

    /**
     * @notice Cooperative close: settles the final voucher if it raises the settled amount, then
     * returns the rest of the deposit to the caller at once.
     * @dev Needs the provider's `ChannelClose(channelId, cumulativeAmount)` signature (or the provider
     * as sender), by which the provider accepts that amount as final, and, if it is above the settled
     * amount, the caller's voucher signature. If it equals the settled amount, the provider's
     * signature alone closes (it only waives). A provider's close signature never expires: once it
     * signs one, it must serve no more calls on the channel, since the caller can close at that
     * amount whatever newer vouchers the provider holds.
     * @param finalVoucher The final state; its signature is ignored when its amount is already settled.
     * @param providerSignature The provider's `ChannelClose` signature; empty when the provider sends the transaction.
     */
    function closeChannel(SignedVoucher calldata finalVoucher, IVault.Signature calldata providerSignature)
        external;

    /**
     * @notice Unilateral close, step one: the caller starts the challenge period. Needs no
     * coordinator and no provider. Never paused.
     * @param config The channel's config; `msg.sender` must be its caller.
     */
    function requestChannelClose(ChannelConfig calldata config) external;

    /**
     * @notice Unilateral close, step two: after the challenge period, returns the rest of the
     * deposit to the caller. Anyone may call it. Never paused.
     * @param config The channel's config.
     */
    function finalizeChannelClose(ChannelConfig calldata config) external;

    /// @notice The id of the channel with `config`: its EIP-712 digest under this vault's domain.
    function channelId(ChannelConfig calldata config) external view returns (bytes32);

    /// @notice The state of channel `channelId` (all zero when it never existed). A closed channel
    /// reports `isClosed` and `deposit` = `settled`.
    function channel(bytes32 channelId) external view returns (ChannelView memory);

    /// @notice Seconds between `requestChannelClose` and `finalizeChannelClose`.
    function challengePeriod() external view returns (uint64);
}
