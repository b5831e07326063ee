// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {IVault} from "./IVault.sol";

/**
 * @title IJobEscrow
 * @notice One escrow per job assignment. The payer signs the lock (funds leave its vault balance);
 * the escrow then goes to the payee (the payer's release, or a ruling) or back to the payer (the
 * payee's refund, a ruling, or expiry), or is split by a ruling or by the payer's partial release.
 * Nothing else can touch it.
 * @dev Partial release (settlement batch op `EscrowPartialRelease` only, no direct function): the
 * payer signs `EscrowPartialRelease{escrowId, amount}`; the payee nets `amount` less the fee and the
 * rest returns to the payer, closing the escrow. It is the settlement of a metered session, where
 * the payer decides what the work was worth. It lets a payer pay less than the whole escrow without
 * the payee's word, so the vault allows it only on an escrow whose signed terms say so
 * (`EscrowTerms.partialRelease`, a session's budget): the flag is part of the lock the payer signs,
 * of the escrow's id, and of `EscrowLocked`, so the payee sees it before doing the work, and it
 * cannot be set later (other terms hash to another id, which no set holds). On every other escrow
 * (a job's) the trust property stands on the vault alone: the escrow goes back to the payer only on
 * the payee's refund, a ruling, or expiry, whoever holds the payer's key. Having no direct function
 * also keeps a payer from using it without the coordinator.
 *
 * Identity: an escrow's id is the EIP-712 digest of its signed `EscrowLock` terms under this
 * vault's domain. The terms carry the payer and one of the payer's unordered nonces, which the lock
 * consumes, so an id belongs to one payer, a lock signature lands once, and a payer cancels a
 * signed lock that has not landed with `invalidateNonce`.
 *
 * Storage: the vault keeps no per-escrow record. Escrows locked together (one settlement batch,
 * or one direct `lockEscrow`) form a set; the vault stores the set's Merkle root and one bit per
 * escrow that flips when the escrow is paid out. Every later call passes the terms back with the
 * escrow's `EscrowPosition` and a Merkle proof. The tree is OpenZeppelin's
 * `StandardMerkleTree.of(leaves, ['uint256', 'bytes32'], { sortLeaves: false })` with leaf `i` =
 * `[i, escrowId]` in lock order; `EscrowLocked` carries each escrow's terms and position, so anyone
 * (an auditor, a payer exiting without the coordinator) rebuilds the tree from the logs of the
 * set's transaction. Sets of a settlement batch are numbered by the batch number; direct locks get
 * `DIRECT_SET_BASE + n`.
 *
 * Fees: the protocol fee is `amount * feeBps / 10000` rounded down, taken from what the payee
 * receives and credited to the treasury; on a ruling the resolver fee
 * `amount * resolverFeeBps / 10000` is taken first and credited to the resolver. In a split the
 * payer receives the remainder, so the parts always sum to the escrowed amount. Both rates are fixed
 * by the payer's signed lock; `feeBps` may not exceed the protocol fee at lock time and may be
 * lower: the vault caps what a payer can be charged, and the coordinator, which relays only locks at
 * the current fee, is where the platform's price is enforced. A lock made directly, without the
 * coordinator, is a private escrow at whatever fee its payer signed.
 *
 * Disputes: before expiry the payee can open a dispute on-chain (`openEscrowDispute`), which keeps
 * the payer from reclaiming until `DISPUTE_RULING_PERIOD` after it was opened, so a ruling delayed
 * past expiry still lands first. Without a ruling by then, the payer reclaims as on expiry.
 */
interface IJobEscrow {
    /// @notice The terms the payer signs (EIP-712 `EscrowLock`).
    /// @param payer Whose vault balance funds the escrow.
    /// @param payee Who is paid on release.
    /// @param token An allowlisted token.
    /// @param amount Base units escrowed (1 to 2^96 - 1).
    /// @param resolver Who may rule on a dispute; zero for none; never the payer or the payee.
    /// @param feeBps Protocol fee on what the payee receives; at most the current protocol fee.
    /// @param resolverFeeBps Resolver fee on a ruling; at most `MAX_RESOLVER_FEE_BPS`.
    /// @param expiry Unix time from which the payer can reclaim the escrow alone.
    /// @param nonce An unused unordered nonce of the payer (shared with its withdrawals and
    /// channel fundings); the lock consumes it.
    /// @param partialRelease The payer may settle this escrow for any amount up to it (a session's
    /// budget); fixed at the lock, which the payer signs and the payee can read in `EscrowLocked`.
    /// False for a job's escrow, which then goes back to the payer only on the payee's refund, a
    /// ruling, or expiry.
    struct EscrowTerms {
        address payer;
        address payee;
        address token;
        uint256 amount;
        address resolver;
        uint16 feeBps;
        uint16 resolverFeeBps;
        uint64 expiry;
        uint256 nonce;
        bool partialRelease;
    }

    /// @notice Where a locked escrow sits: its set and its index in the set's tree.
    struct EscrowPosition {
        uint256 setId;
        uint256 index;
    }

    /// @notice Thrown when a lock names a zero payee, or the payer, payee and resolver are not distinct.
    error JobEscrowInvalidParties(address payer, address payee, address resolver);
    /// @notice Thrown when a lock's `amount` is zero or does not fit 96 bits.
    error JobEscrowInvalidAmount(uint256 amount);
    /// @notice Thrown when a lock's `expiry` is not after the block time `nowTimestamp`.
    error JobEscrowExpiryInPast(uint64 expiry, uint256 nowTimestamp);
    /// @notice Thrown when a lock's `feeBps` exceeds the current protocol fee `maxFeeBps`.
    error JobEscrowFeeTooHigh(uint16 feeBps, uint16 maxFeeBps);
    /// @notice Thrown when a lock's `resolverFeeBps` exceeds `maxResolverFeeBps`.
    error JobEscrowResolverFeeTooHigh(uint16 resolverFeeBps, uint16 maxResolverFeeBps);
    /// @notice Thrown when escrow `escrowId` is not at `setId`/`index` (no such set, or a wrong proof).
    error JobEscrowUnknown(bytes32 escrowId, uint256 setId, uint256 index);
    /// @notice Thrown when escrow `escrowId` was already paid out (released, refunded, ruled or reclaimed).
    error JobEscrowClosed(bytes32 escrowId);
    /// @notice Thrown when escrow `escrowId` is reclaimed before `reclaimableAt` (its expiry, or the
    /// end of the ruling period of an open dispute).
    error JobEscrowNotReclaimable(bytes32 escrowId, uint64 reclaimableAt, uint256 nowTimestamp);
    /// @notice Thrown when a ruling's `payeeBps` exceeds 10000.
    error JobEscrowInvalidRuling(bytes32 escrowId, uint16 payeeBps);
    /// @notice Thrown when escrow `escrowId` has no resolver to rule or to dispute before.
    error JobEscrowNoResolver(bytes32 escrowId);
    /// @notice Thrown when a dispute on escrow `escrowId` is opened at or after its `expiry`.
    error JobEscrowDisputeTooLate(bytes32 escrowId, uint64 expiry, uint256 nowTimestamp);
    /// @notice Thrown when escrow `escrowId` already has a dispute, with a ruling due by `rulingDeadline`.
    error JobEscrowAlreadyDisputed(bytes32 escrowId, uint64 rulingDeadline);
    /// @notice Thrown when a partial release of escrow `escrowId` asks for `amount`, more than its `locked`.
    error JobEscrowPartialReleaseTooLarge(bytes32 escrowId, uint256 amount, uint256 locked);
    /// @notice Thrown when a partial release names escrow `escrowId`, whose terms do not allow one
    /// (`partialRelease` false: a job's escrow).
    error JobEscrowPartialReleaseNotAllowed(bytes32 escrowId);
    /// @notice Thrown when a signature on escrow `escrowId` is not `expected`'s (recovered `recovered`).
    error JobEscrowInvalidSignature(bytes32 escrowId, address expected, address recovered);

    /// @notice Emitted when `payer` locks `amount` of `token` in escrow `escrowId` for `payee`, at
    /// `index` of set `setId`. Carries every signed term, so the escrow can be rebuilt from the log.
    event EscrowLocked(
        bytes32 indexed escrowId,
        address indexed payer,
        address indexed payee,
        uint256 setId,
        uint256 index,
        address token,
        uint256 amount,
        address resolver,
        uint16 feeBps,
        uint16 resolverFeeBps,
        uint64 expiry,
        uint256 nonce,
        bool partialRelease
    );
    /// @notice Emitted once per set of locks: its Merkle `root` over `count` escrows.
    event EscrowSetCommitted(uint256 indexed setId, bytes32 root, uint256 count);
    /// @notice Emitted when escrow `escrowId` pays `payee` `amount` and the treasury `fee`.
    event EscrowReleased(bytes32 indexed escrowId, address indexed payee, uint256 amount, uint256 fee);
    /// @notice Emitted when the payer settles escrow `escrowId` in part: `payee` nets `payeeAmount`,
    /// the treasury `fee` (on the released part only), and `payerAmount` goes back to the payer.
    event EscrowPartiallyReleased(
        bytes32 indexed escrowId, address indexed payee, uint256 payeeAmount, uint256 fee, uint256 payerAmount
    );
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
    /// @notice Emitted when the payee disputes escrow `escrowId`; the payer cannot reclaim before `rulingDeadline`.
    event EscrowDisputed(bytes32 indexed escrowId, uint64 rulingDeadline);

    /**
     * @notice Locks `terms.amount` of the payer's vault balance in a new escrow, alone in a new set.
     * @dev Anyone may submit it with the payer's `EscrowLock` signature. Consumes `terms.nonce`.
     * @param terms The terms the payer signed.
     * @param payerSignature The payer's EIP-712 signature; empty when the payer sends the transaction.
     * @return escrowId The escrow's id.
     * @return position Its set (`DIRECT_SET_BASE + n`) and index (0); the proof is empty.
     */
    function lockEscrow(EscrowTerms calldata terms, IVault.Signature calldata payerSignature)
        external
        returns (bytes32 escrowId, EscrowPosition memory position);

    /**
     * @notice Pays the escrow to its payee, less the protocol fee.
     * @param terms The escrow's terms.
     * @param position Where it was locked.
     * @param payerSignature The payer's EIP-712 `EscrowRelease`; empty when the payer sends the transaction.
     * @param proof The escrow's Merkle proof in its set.
     */
    function releaseEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        IVault.Signature calldata payerSignature,
        bytes32[] calldata proof
    ) external;

    /**
     * @notice Returns the escrow in full to its payer.
     * @param terms The escrow's terms.
     * @param position Where it was locked.
     * @param payeeSignature The payee's EIP-712 `EscrowRefund`; empty when the payee sends the transaction.
     * @param proof The escrow's Merkle proof in its set.
     */
    function refundEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        IVault.Signature calldata payeeSignature,
        bytes32[] calldata proof
    ) external;

    /**
     * @notice Applies the resolver's ruling: after the resolver fee, `payeeBps` of the rest to the
     * payee (less the protocol fee) and the remainder to the payer. 10000 = payee wins, 0 = payer wins.
     * @param terms The escrow's terms.
     * @param position Where it was locked.
     * @param payeeBps The payee's share in basis points.
     * @param resolverSignature The resolver's EIP-712 `EscrowRuling`; empty when the resolver sends the transaction.
     * @param proof The escrow's Merkle proof in its set.
     */
    function ruleEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        uint16 payeeBps,
        IVault.Signature calldata resolverSignature,
        bytes32[] calldata proof
    ) external;

    /**
     * @notice Returns an expired escrow to its payer. Anyone may call it; needs no signature and no
     * coordinator. Never paused.
     * @dev Possible from `expiry`, or, when the payee opened a dispute, from the later end of its
     * ruling period. Until it is called, a release, refund or ruling signed before can still settle.
     * @param terms The escrow's terms.
     * @param position Where it was locked.
     * @param proof The escrow's Merkle proof in its set.
     */
    function reclaimExpiredEscrow(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        bytes32[] calldata proof
    ) external;

    /**
     * @notice The payee disputes the escrow before its expiry: the payer cannot reclaim it until
     * `DISPUTE_RULING_PERIOD` from now, which gives the resolver's ruling time to land whoever
     * relays it. Once per escrow, only for an escrow with a resolver.
     * @param terms The escrow's terms.
     * @param position Where it was locked.
     * @param payeeSignature The payee's EIP-712 `EscrowDispute`; empty when the payee sends the transaction.
     * @param proof The escrow's Merkle proof in its set.
     */
    function openEscrowDispute(
        EscrowTerms calldata terms,
        EscrowPosition calldata position,
        IVault.Signature calldata payeeSignature,
        bytes32[] calldata proof
    ) external;

    /// @notice The id of the escrow with `terms`: their EIP-712 digest under this vault's domain.
    function escrowId(EscrowTerms calldata terms) external view returns (bytes32);

    /// @notice The Merkle root of escrow set `setId` (zero when no such set).
    function escrowSetRoot(uint256 setId) external view returns (bytes32);

    /// @notice Whether the escrow at `setId`/`index` was paid out.
    function isEscrowClosed(uint256 setId, uint256 index) external view returns (bool);

    /// @notice Until when a ruling on disputed escrow `escrowId` keeps the payer from reclaiming (zero without a dispute).
    function escrowRulingDeadline(bytes32 escrowId) external view returns (uint64);
}
