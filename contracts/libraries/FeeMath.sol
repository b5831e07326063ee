// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title FeeMath
 * @notice Fee and split arithmetic. Every function returns parts that sum exactly to its input;
 * rounding always favours the named remainder party, never creates or loses a unit.
 */
library FeeMath {
    /// @notice Basis-point denominator.
    uint256 internal constant BPS = 10_000;

    /// @notice `amount * bps / 10000`, rounded down. Zero amounts pay zero.
    /// @dev Callers bound `amount` below 2^96 (escrow and channel amounts are stored in 96 bits) and
    /// `bps` by 10000, so the product stays below 2^110.
    function fee(uint256 amount, uint256 bps) internal pure returns (uint256) {
        // Cannot overflow: amount < 2^96 and bps <= 10000, see above.
        unchecked {
            return (amount * bps) / BPS;
        }
    }

    /**
     * @notice Splits a payment of `amount` into what the payee nets and the protocol fee.
     * @return net `amount - fee`, the payee's part.
     * @return feeAmount `fee(amount, feeBps)`, the treasury's part.
     */
    function takeFee(uint256 amount, uint256 feeBps) internal pure returns (uint256 net, uint256 feeAmount) {
        feeAmount = fee(amount, feeBps);
        // Cannot underflow: feeBps <= BPS is enforced wherever a fee rate is accepted, so fee <= amount.
        unchecked {
            net = amount - feeAmount;
        }
    }

    /// @notice How a ruling splits an escrow; the four parts sum to the escrowed amount.
    /// @param payeeAmount What the payee receives, net of the protocol fee.
    /// @param payerAmount What returns to the payer.
    /// @param fee What the treasury receives (the protocol fee on the payee's share).
    /// @param resolverFee What the resolver receives.
    struct RulingSplit {
        uint256 payeeAmount;
        uint256 payerAmount;
        uint256 fee;
        uint256 resolverFee;
    }

    /**
     * @notice Splits an escrow of `amount` by a ruling. The resolver fee comes off the top; of the
     * rest, `payeeBps` goes to the payee side, which then pays the protocol fee; the payer receives
     * the remainder (the named party that absorbs rounding).
     * @dev payeeAmount + payerAmount + fee + resolverFee == amount, for all inputs with
     * `payeeBps`, `feeBps`, `resolverFeeBps` <= 10000.
     */
    function splitRuling(uint256 amount, uint256 payeeBps, uint256 feeBps, uint256 resolverFeeBps)
        internal
        pure
        returns (RulingSplit memory split)
    {
        split.resolverFee = fee(amount, resolverFeeBps);
        uint256 payeeGross;
        // Cannot underflow: each fee(x, bps) <= x because bps <= BPS.
        unchecked {
            uint256 rest = amount - split.resolverFee;
            payeeGross = fee(rest, payeeBps);
            split.payerAmount = rest - payeeGross;
        }
        (split.payeeAmount, split.fee) = takeFee(payeeGross, feeBps);
    }
}
