// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title SenderFeeToken
 * @notice Test-only hostile token: every transfer delivers the full value to the recipient and
 * burns a fee of 1% of it from the sender on top, so sending `value` costs the sender
 * `value + feeOf(value)`. Transfers out of the vault pay it too: a vault that assumed a payout of
 * `amount` costs it exactly `amount` would pay the fee out of other users' money.
 * @dev Only the sender's balance pays the fee; allowances are spent by `value` alone. Mints and
 * burns charge nothing.
 */
contract SenderFeeToken is ERC20 {
    /// @notice The fee charged to the sender, in basis points of the value sent.
    uint256 public constant FEE_BPS = 100;

    constructor() ERC20("Sender fee", "SFT") {}

    /// @notice Mints `amount` to `to`. Open to anyone: tests only.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice The fee a transfer of `value` burns from its sender, on top of `value`.
    function feeOf(uint256 value) public pure returns (uint256) {
        return (value * FEE_BPS) / 10_000;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (from == address(0) || to == address(0)) return;
        uint256 fee = feeOf(value);
        if (fee != 0) super._update(from, address(0), fee);
    }
}
