// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {FeeMath} from "../libraries/FeeMath.sol";

/// @title FeeMathHarness
/// @notice Test-only: exposes `FeeMath` so its sums can be checked over many inputs.
contract FeeMathHarness {
    function takeFee(uint256 amount, uint256 feeBps) external pure returns (uint256 net, uint256 fee) {
        return FeeMath.takeFee(amount, feeBps);
    }

    function splitRuling(uint256 amount, uint256 payeeBps, uint256 feeBps, uint256 resolverFeeBps)
        external
        pure
        returns (uint256 payeeAmount, uint256 payerAmount, uint256 fee, uint256 resolverFee)
    {
        FeeMath.RulingSplit memory split = FeeMath.splitRuling(amount, payeeBps, feeBps, resolverFeeBps);
        return (split.payeeAmount, split.payerAmount, split.fee, split.resolverFee);
    }
}
