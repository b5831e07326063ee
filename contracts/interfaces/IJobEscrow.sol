// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./IVault.sol";

/**
 * @title IJobEscrow
 * @notice One escrow per job assignment. The payer signs the lock (funds leave its vault balance);
 * the escrow then goes to the payee (the payer's release, or a ruling) or back to the payer (the
 * payee's refund, a ruling, or expiry), or is split by a ruling. Nothing else can touch it.
 * @dev Fees: the protocol fee is `amount * feeBps / 10000` rounded down, taken from what the payee
 * receives and credited to the treasury; on a ruling the resolver fee
 * `amount * resolverFeeBps / 10000` is taken first and credited to the resolver. In a split the
 * payer receives the remainder, so the parts always sum to the escrowed amount. Both fee rates are
 * fixed by the payer's signed lock; `feeBps` may not exceed the protocol fee at lock time.
 */
interface IJobEscrow {
    /// @notice Lifecycle of an escrow. It never returns to `None`, so an escrow id is used once.
    enum EscrowStatus {
        None,
        Locked,
        Released,
        Refunded,
        Ruled,
        Expired
    }

    /// @notice The terms the payer signs (EIP-712 `EscrowLock`).
    /// @param escrowId Chosen off-chain (e.g. bytes32 of the assignment id); unique forever.
    /// @param payer Whose vault balance funds the escrow.
    /// @param payee Who is paid on release.
    /// @param token An allowlisted token.
    /// @param amount Base units escrowed (at most 2^96 - 1).
    /// @param resolver Who may rule on a dispute; zero for none.
    /// @param feeBps Protocol fee on what the payee receives; at most the current protocol fee.
    /// @param resolverFeeBps Resolver fee on a ruling; at most `MAX_RESOLVER_FEE_BPS`.
    /// @param expiry Unix time after which the payer can reclaim the escrow alone.
    struct EscrowTerms {
        bytes32 escrowId;
        address payer;
        address payee;
        address token;
        uint256 amount;
        address resolver;
        uint16 feeBps;
        uint16 resolverFeeBps;
        uint64 expiry;
    }

    /// @notice An escrow as stored.
    struct Escrow {
        address payer;
        uint64 expiry;
        uint16 feeBps;
        EscrowStatus status;
        address payee;
        uint96 amount;
        address token;
        uint16 resolverFeeBps;
        address resolver;
    }

    /// @notice Thrown when escrow `escrowId` was locked before (whatever its status now).
    error JobEscrowAlreadyExists(bytes32 escrowId);
    /// @notice Thrown when escrow `escrowId` is not locked (`status` is its status).
    error JobEscrowNotLocked(bytes32 escrowId, EscrowStatus status);
    /// @notice Thrown when a lock's `expiry` is not after the block time `nowTimestamp`.
    error JobEscrowExpiryInPast(uint64 expiry, uint256 nowTimestamp);
    /// @notice Thrown when escrow `escrowId` is reclaimed before its `expiry`.
    error JobEscrowNotExpired(bytes32 escrowId, uint64 expiry, uint256 nowTimestamp);
    /// @notice Thrown when a lock's `amount` does not fit the stored 96 bits.
    error JobEscrowAmountTooLarge(uint256 amount);
    /// @notice Thrown when a lock's `feeBps` exceeds the current protocol fee `maxFeeBps`.
    error JobEscrowFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice Thrown when a lock's `resolverFeeBps` exceeds `maxResolverFeeBps`.
    error JobEscrowResolverFeeTooHigh(uint16 resolverFeeBps, uint16 maxResolverFeeBps);
    /// @notice Thrown when a ruling's `payeeBps` exceeds 10000.
    error JobEscrowInvalidRuling(bytes32 escrowId, uint16 payeeBps);
    /// @notice Thrown when escrow `escrowId` has no resolver to rule.
    error JobEscrowNoResolver(bytes32 escrowId);
    /// @notice Thrown when the payer and the payee are the same or the payee is zero.
    error JobEscrowInvalidParties(address payer, address payee);
    /// @notice Thrown when a signature on escrow `escrowId` is not `expected`'s (recovered `recovered`).
    error JobEscrowInvalidSignature(bytes32 escrowId, address expected, address recovered);

    /// @notice Emitted when `payer` locks `amount` of `token` in escrow `escrowId` for `payee`.
    event EscrowLocked(
        bytes32 indexed escrowId,
        address indexed payer,
        address indexed payee,
        address token,
        uint256 amount,
        address resolver,
        uint16 feeBps,
        uint16 resolverFeeBps,
        uint64 expiry
    );
    /// @notice Emitted when escrow `escrowId` pays `payee` `amount` and the treasury `fee`.
    event EscrowReleased(bytes32 indexed escrowId, address indexed payee, uint256 amount, uint256 fee);
    /// @notice Emitted when escrow `escrowId` returns `amount` to `payer` on the payee's refund.
    event EscrowRefunded(bytes32 indexed escrowId, address indexed payer, uint256 amount);
    /// @notice Emitted when the resolver rules on escrow `escrowId`: `payeeBps` of the rest after
    /// `resolverFee` to the payee (`payeeAmount` net, `fee` to the treasury), `payerAmount` back.
    event EscrowRuled(
        bytes32 indexed escrowId,
        uint16 payeeBps,
        uint256 payeeAmount,
        uint256 payerAmount,
        uint256 fee,
        uint256 resolverFee
    );
    /// @notice Emitted when expired escrow `escrowId` returns `amount` to `payer`.
    event EscrowExpired(bytes32 indexed escrowId, address indexed payer, uint256 amount);

    /**
     * @notice Locks `terms.amount` of the payer's vault balance in a new escrow.
     * @dev Anyone may submit it with the payer's `EscrowLock` signature.
     * @param terms The terms the payer signed.
     * @param payerSignature The payer's EIP-712 signature; empty when the payer sends the transaction.
     */
    function lockEscrow(EscrowTerms calldata terms, IVault.Signature calldata payerSignature) external;

    /**
     * @notice Pays escrow `escrowId` to its payee, less the protocol fee.
     * @param escrowId The escrow.
     * @param payerSignature The payer's EIP-712 `EscrowRelease`; empty when the payer sends the transaction.
     */
    function releaseEscrow(bytes32 escrowId, IVault.Signature calldata payerSignature) external;

    /**
     * @notice Returns escrow `escrowId` in full to its payer.
     * @param escrowId The escrow.
     * @param payeeSignature The payee's EIP-712 `EscrowRefund`; empty when the payee sends the transaction.
     */
    function refundEscrow(bytes32 escrowId, IVault.Signature calldata payeeSignature) external;

    /**
     * @notice Applies the resolver's ruling: after the resolver fee, `payeeBps` of the rest to the
     * payee (less the protocol fee) and the remainder to the payer. 10000 = payee wins, 0 = payer wins.
     * @param escrowId The escrow.
     * @param payeeBps The payee's share in basis points.
     * @param resolverSignature The resolver's EIP-712 `EscrowRuling`; empty when the resolver sends the transaction.
     */
    function ruleEscrow(bytes32 escrowId, uint16 payeeBps, IVault.Signature calldata resolverSignature)
        external;

    /**
     * @notice Returns an expired escrow to its payer. Anyone may call it; needs no signature and no
     * coordinator. Never paused.
     * @dev Until it is called, a release, refund or ruling signed before can still settle the escrow.
     * @param escrowId The escrow.
     */
    function reclaimExpiredEscrow(bytes32 escrowId) external;

    /// @notice The escrow `escrowId` (status `None` when it never existed).
    function escrow(bytes32 escrowId) external view returns (Escrow memory);
}
