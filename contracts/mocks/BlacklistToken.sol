// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title BlacklistToken
/// @notice Test-only token that, like USDC, refuses every transfer from or to a blacklisted address.
contract BlacklistToken is ERC20 {
    mapping(address account => bool isBlacklisted) public blacklisted;

    /// @notice Thrown when a transfer touches blacklisted `account`.
    error BlacklistTokenBlacklisted(address account);

    constructor() ERC20("Blacklisting", "BLK") {}

    /// @notice Mints `amount` to `to`. Open to anyone: tests only.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Puts `account` on or off the blacklist. Open to anyone: tests only.
    function setBlacklisted(address account, bool isBlacklisted) external {
        blacklisted[account] = isBlacklisted;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (blacklisted[from]) revert BlacklistTokenBlacklisted(from);
        if (blacklisted[to]) revert BlacklistTokenBlacklisted(to);
        super._update(from, to, value);
    }
}
