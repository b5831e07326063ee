// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title IVault
 * @notice Internal balances per (account, token) for allowlisted ERC-20 stablecoins: deposits,
 * withdrawals (a fast path co-signed by the coordinator and a slow path that needs no one), and the
 * admin settings every other part reads (coordinator, treasury, protocol fee, token allowlist).
 * @dev All amounts are base units of the token. Money moved between accounts inside the vault only
 * changes internal balances; tokens leave the vault only through a withdrawal, and only to the
 * address the account owner named.
 */
interface IVault {
    /// @notice An EIP-2098 compact ECDSA signature: `r` and `vs` (the y-parity bit on top of `s`).
    /// @dev Both zero means "no signature": accepted only where the signer itself sends the transaction.
    /// From a 65-byte signature: ethers `Signature.from(sig)` gives `{ r, yParityAndS }`; viem
    /// `signatureToCompactSignature(parseSignature(sig))` gives `{ r, yParityAndS }`.
    struct Signature {
        bytes32 r;
        bytes32 vs;
    }

    /// @notice An EIP-3009 `TransferWithAuthorization` of the token, signed by `from` and made out
    /// to this vault, as an x402 `exact` client signs its payment to `payTo`.
    /// @param from The signer, who pays.
    /// @param value Base units authorized.
    /// @param validAfter Valid after this time.
    /// @param validBefore Valid before this time.
    /// @param nonce The authorization's unique nonce (random, chosen by the signer).
    /// @param v Signature v.
    /// @param r Signature r.
    /// @param s Signature s.
    struct TransferAuthorization {
        address from;
        uint256 value;
        uint256 validAfter;
        uint256 validBefore;
        bytes32 nonce;
        uint8 v;
        bytes32 r;
        bytes32 s;
    }

    /// @notice A fast withdrawal, signed by `account` (EIP-712 `Withdrawal`).
    /// @param account Whose internal balance pays.
    /// @param token The token withdrawn.
    /// @param amount Base units withdrawn.
    /// @param to Who receives the tokens.
    /// @param nonce An unordered nonce of `account`: each can be used once.
    /// @param deadline Unix time after which the signature is void.
    struct Withdrawal {
        address account;
        address token;
        uint256 amount;
        address to;
        uint256 nonce;
        uint256 deadline;
    }

    /// @notice A slow withdrawal waiting for its delay.
    /// @param amount Base units requested; execution pays at most the balance at that time.
    /// @param to Who will receive the tokens.
    /// @param executableAt Unix time from which it can be executed.
    struct WithdrawalRequest {
        uint256 amount;
        address to;
        uint64 executableAt;
    }

    /// @notice Deployment settings of the vault.
    /// @param owner Admin (Ownable2Step): allowlist, pause, treasury, delayed coordinator and fee changes.
    /// @param coordinator Key that signs batches and co-signs fast withdrawals.
    /// @param treasury Account credited with protocol fees.
    /// @param feeBps Initial protocol fee in basis points (at most `MAX_FEE_BPS`).
    /// @param withdrawalDelay Seconds from `requestWithdrawal` to `executeWithdrawal`, within
    /// [`MIN_EXIT_DELAY`, `MAX_EXIT_DELAY`].
    /// @param challengePeriod Seconds from `requestChannelClose` to `finalizeChannelClose`, within
    /// [`MIN_EXIT_DELAY`, `MAX_EXIT_DELAY`].
    /// @param adminDelay Seconds from proposing to applying a coordinator or fee change: at least
    /// `ADMIN_DELAY_MARGIN` longer than both exit delays (so anyone can leave before a change
    /// applies) and at most `MAX_ADMIN_DELAY`.
    /// @param tokens Tokens allowlisted at deployment.
    struct VaultParameters {
        address owner;
        address coordinator;
        address treasury;
        uint16 feeBps;
        uint64 withdrawalDelay;
        uint64 challengePeriod;
        uint64 adminDelay;
        address[] tokens;
    }

    /// @notice Thrown when `token` is not on the allowlist for new money in.
    error VaultTokenNotAllowed(address token);
    /// @notice Thrown when `account` holds `balance` of `token` but `needed` is required.
    error VaultInsufficientBalance(address account, address token, uint256 balance, uint256 needed);
    /// @notice Thrown when an amount that must be positive is zero.
    error VaultZeroAmount();
    /// @notice Thrown when an address that must be set is zero.
    error VaultZeroAddress();
    /// @notice Thrown when a signature for `expected` recovers to `recovered` (zero if malformed).
    error VaultInvalidSignature(address expected, address recovered);
    /// @notice Thrown when a signature's `deadline` is before the block time `nowTimestamp`.
    error VaultSignatureExpired(uint256 deadline, uint256 nowTimestamp);
    /// @notice Thrown when `nonce` of `account` is already used or invalidated.
    error VaultNonceUsed(address account, uint256 nonce);
    /// @notice Thrown when `account` has no pending slow withdrawal of `token`.
    error VaultNoWithdrawalRequest(address account, address token);
    /// @notice Thrown when a slow withdrawal executes before `executableAt`.
    error VaultWithdrawalNotReady(address account, address token, uint64 executableAt, uint256 nowTimestamp);
    /// @notice Thrown when a fee of `feeBps` exceeds the cap `maxFeeBps`.
    error VaultFeeTooHigh(uint256 feeBps, uint256 maxFeeBps);
    /// @notice Thrown when a delayed admin change is applied before `effectiveAt`.
    error VaultChangeNotReady(uint64 effectiveAt, uint256 nowTimestamp);
    /// @notice Thrown when a delayed admin change is applied but none is pending.
    error VaultNoPendingChange();
    /// @notice Thrown when a deployment delay of `delay` seconds is outside [`min`, `max`].
    error VaultDelayOutOfRange(uint64 delay, uint64 min, uint64 max);
    /// @notice Thrown when `owner`'s permit for `token` fails and someone else asks to deposit its tokens.
    error VaultPermitFailed(address token, address owner);
    /// @notice Thrown when the vault's extension is called other than through the vault.
    error VaultOnlyThroughVault();
    /// @notice Thrown when `caller`, not the coordinator, calls a coordinator-only function.
    error VaultNotCoordinator(address caller);

    /// @notice Emitted when `amount` of `token` from `from` is credited to `account`.
    event Deposited(address indexed account, address indexed token, address indexed from, uint256 amount);
    /// @notice Emitted when `payer`'s transfer authorization `nonce` brought `amount` of `token` into
    /// the vault as a payment to `payee`: `payee` is credited `amount - fee`, the treasury `fee`.
    event PaidWithAuthorization(
        address indexed payer, address indexed token, address indexed payee, bytes32 nonce, uint256 amount, uint256 fee
    );
    /// @notice Emitted when a fast withdrawal with `account`'s `nonce` pays `to`: `amount` left the
    /// balance (the amount signed, plus any fee the token charged the vault for the transfer).
    event Withdrawn(address indexed account, address indexed token, address indexed to, uint256 amount, uint256 nonce);
    /// @notice Emitted when `account` asks for a slow withdrawal, executable from `executableAt`.
    event WithdrawalRequested(
        address indexed account, address indexed token, address to, uint256 amount, uint64 executableAt
    );
    /// @notice Emitted when a slow withdrawal of `account` pays `to`: `amount` left the balance (what
    /// was paid, plus any fee the token charged the vault for the transfer).
    event WithdrawalExecuted(address indexed account, address indexed token, address indexed to, uint256 amount);
    /// @notice Emitted when `account` cancels its pending slow withdrawal of `token`.
    event WithdrawalCancelled(address indexed account, address indexed token);
    /// @notice Emitted when `account` voids its unused `nonce`.
    event NonceInvalidated(address indexed account, uint256 nonce);
    /// @notice Emitted when `token` is put on (`allowed`) or taken off the allowlist.
    event TokenAllowlistUpdated(address indexed token, bool allowed);
    /// @notice Emitted when the owner proposes `coordinator`, effective from `effectiveAt`.
    event CoordinatorChangeProposed(address indexed coordinator, uint64 effectiveAt);
    /// @notice Emitted when the coordinator key changes from `previous` to `current`.
    event CoordinatorChanged(address indexed previous, address indexed current);
    /// @notice Emitted when the owner proposes protocol fee `feeBps`, effective from `effectiveAt`.
    event FeeChangeProposed(uint16 feeBps, uint64 effectiveAt);
    /// @notice Emitted when the protocol fee changes from `previous` to `current` basis points.
    event FeeChanged(uint16 previous, uint16 current);
    /// @notice Emitted when the treasury account changes from `previous` to `current`.
    event TreasuryChanged(address indexed previous, address indexed current);

    /**
     * @notice Credits `amount` of `token`, pulled from the caller, to the caller's balance.
     * @dev Needs an allowance. Credits what actually arrived (a token that takes a fee on transfer
     * credits less). Reverts while paused or for a token off the allowlist.
     * @param token An allowlisted token.
     * @param amount Base units to pull.
     */
    function deposit(address token, uint256 amount) external;

    /**
     * @notice Credits `amount` of `token`, pulled from the caller, to `account`'s balance.
     * @param token An allowlisted token.
     * @param amount Base units to pull.
     * @param account Who is credited.
     */
    function depositFor(address token, uint256 amount, address account) external;

    /**
     * @notice Deposits with an EIP-2612 permit of `owner`, who is credited. Anyone may submit it.
     * @dev If the permit call fails (a front-runner used it already, say), the deposit goes on with
     * the allowance `owner` already gave only when `owner` sends the transaction itself: anyone else
     * gets `VaultPermitFailed`, so no stranger can pull a wallet's tokens on a standing allowance.
     * @param token An allowlisted token with EIP-2612.
     * @param owner The token holder who signed the permit and is credited.
     * @param amount Base units to pull (also the permit value).
     * @param deadline The permit's deadline.
     * @param v Permit signature v.
     * @param r Permit signature r.
     * @param s Permit signature s.
     */
    function depositWithPermit(
        address token,
        address owner,
        uint256 amount,
        uint256 deadline,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external;

    /**
     * @notice Deposits with an EIP-3009 `receiveWithAuthorization` of `from` to this vault; `from`
     * is credited. Anyone may submit it.
     * @param token An allowlisted token with EIP-3009.
     * @param from The signer, credited.
     * @param amount The authorized value.
     * @param validAfter Authorization valid after this time.
     * @param validBefore Authorization valid before this time.
     * @param nonce The authorization's unique nonce.
     * @param v Signature v.
     * @param r Signature r.
     * @param s Signature s.
     */
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
    ) external;

    /**
     * @notice Spends `authorization`, an EIP-3009 transfer of `token` from its signer to this vault
     * (what an x402 `exact` client signs to pay `payTo`), as a payment to `payee`: what arrives is
     * credited to `payee` less the protocol fee, which goes to the treasury.
     * @dev Coordinator only. The signer paid the vault for a call the coordinator sold, and names no
     * account, so only the coordinator may say whose payment it is: anyone else who saw the
     * authorization could otherwise spend it to themselves. The token checks the signature, the
     * time window and the nonce, and spends each authorization once.
     * @param token An allowlisted token with EIP-3009.
     * @param authorization The signer's transfer authorization to this vault.
     * @param payee Who is paid: the provider of the call.
     */
    function payWithTransferAuthorization(
        address token,
        TransferAuthorization calldata authorization,
        address payee
    ) external;

    /**
     * @notice Fast withdrawal: pays `withdrawal.amount` to `withdrawal.to` at once.
     * @dev Needs the owner's `Withdrawal` signature (or the owner as sender) and the coordinator's
     * `WithdrawalApproval` signature, by which the coordinator vouches that nothing the owner signed
     * off-chain is still to be settled from this balance. Anyone may submit it. A token that charges
     * the vault a fee for the transfer has that fee taken from the same balance, so the vault stays
     * whole; the withdrawal reverts if the balance cannot cover it.
     * @param withdrawal The signed withdrawal.
     * @param ownerSignature The account's EIP-712 signature; empty when the account sends the transaction.
     * @param coordinatorSignature The coordinator's EIP-712 `WithdrawalApproval` signature.
     */
    function withdraw(
        Withdrawal calldata withdrawal,
        Signature calldata ownerSignature,
        Signature calldata coordinatorSignature
    ) external;

    /**
     * @notice Slow withdrawal, step one: asks to withdraw `amount` of `token` to `to` after the
     * withdrawal delay. Needs no coordinator. Replaces any pending request of the same token.
     * @dev The balance stays spendable meanwhile, so operations the owner signed before can still
     * settle; execution pays what is left up to `amount`.
     * @param token The token.
     * @param amount Base units requested.
     * @param to Who will receive the tokens.
     */
    function requestWithdrawal(address token, uint256 amount, address to) external;

    /**
     * @notice Slow withdrawal, step two: pays `account`'s request of `token` once its delay passed.
     * @dev Anyone may call it; the tokens go only to the `to` the account named. Pays
     * min(requested, balance) and consumes the request even when it pays less than asked: the rest
     * needs a new request and a new delay, so money that arrived after the request (a payment, say)
     * still waits out the delay before it can leave. Never paused.
     * @param account The account that asked.
     * @param token The token.
     */
    function executeWithdrawal(address account, address token) external;

    /// @notice Cancels the caller's pending slow withdrawal of `token`.
    function cancelWithdrawal(address token) external;

    /// @notice Voids the caller's unused `nonce`, so anything it signed with it (a withdrawal, an
    /// escrow lock, a channel funding) can never run.
    function invalidateNonce(uint256 nonce) external;

    /// @notice Adds `token` to (`allowed` true) or removes it from the allowlist. Owner only.
    /// @dev Removal stops new money in (deposits, escrow locks, channel funding); exits keep working.
    /// Only tokens that move exactly the amounts asked belong on it: a token that takes a fee on
    /// transfer is credited what arrives and charges its payout fees to the withdrawing balance.
    function setTokenAllowed(address token, bool allowed) external;

    /// @notice Proposes a new coordinator key, effective after the admin delay. Owner only.
    function proposeCoordinator(address coordinator) external;

    /// @notice Makes the proposed coordinator key current once its delay passed. Owner only.
    function applyCoordinator() external;

    /// @notice Proposes protocol fee `feeBps` (at most `MAX_FEE_BPS`), effective after the admin delay. Owner only.
    function proposeFee(uint16 feeBps) external;

    /// @notice Makes the proposed protocol fee current once its delay passed. Owner only.
    function applyFee() external;

    /// @notice Sets the account credited with protocol fees from now on. Owner only.
    function setTreasury(address treasury) external;

    /// @notice Stops deposits. Owner only. Exits (withdrawals, expiry reclaim, channel close) never stop.
    function pause() external;

    /// @notice Resumes deposits. Owner only.
    function unpause() external;

    /// @notice The internal balance of `account` in `token`.
    function balanceOf(address account, address token) external view returns (uint256);

    /// @notice Whether `token` is on the allowlist.
    function isTokenAllowed(address token) external view returns (bool);

    /// @notice Whether `nonce` of `account` is used or invalidated.
    function isNonceUsed(address account, uint256 nonce) external view returns (bool);

    /// @notice The pending slow withdrawal of `account` in `token` (zero `executableAt` when none).
    function withdrawalRequest(address account, address token) external view returns (WithdrawalRequest memory);

    /// @notice The key that signs settlement batches and co-signs fast withdrawals.
    function coordinator() external view returns (address);

    /// @notice The proposed coordinator and when it can be applied (zero when none).
    function pendingCoordinator() external view returns (address coordinator, uint64 effectiveAt);

    /// @notice The account credited with protocol fees.
    function treasury() external view returns (address);

    /// @notice The current protocol fee in basis points: the most an escrow or channel may charge.
    function feeBps() external view returns (uint16);

    /// @notice The proposed protocol fee and when it can be applied (zero `effectiveAt` when none).
    function pendingFee() external view returns (uint16 feeBps, uint64 effectiveAt);

    /// @notice Seconds between `requestWithdrawal` and `executeWithdrawal`.
    function withdrawalDelay() external view returns (uint64);

    /// @notice Seconds between proposing and applying a coordinator or fee change.
    function adminDelay() external view returns (uint64);

    /// @notice The EIP-712 domain separator of this deployment.
    function domainSeparator() external view returns (bytes32);
}
