// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title ReentrantToken
 * @notice Test-only hostile token: on every transfer it calls a configured target with configured
 * calldata (for example back into the vault), once per transfer, and records whether that call
 * succeeded and what it returned. It never bubbles the failure, so the outer operation goes on.
 */
contract ReentrantToken is ERC20 {
    address private _hookTarget;
    bytes private _hookData;
    bool private _isInHook;

    /// @notice Whether the last hook call succeeded.
    bool public lastHookSucceeded;
    /// @notice What the last hook call returned or reverted with.
    bytes public lastHookResult;
    /// @notice How many hook calls were made.
    uint256 public hookCalls;

    constructor() ERC20("Reentrant", "RNT") {}

    /// @notice Mints `amount` to `to`. Open to anyone: tests only.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Calls `target` with `data` on every transfer from now on (zero target: off).
    function setHook(address target, bytes calldata data) external {
        _hookTarget = target;
        _hookData = data;
    }

    function _update(address from, address to, uint256 value) internal override {
        super._update(from, to, value);
        if (_hookTarget != address(0) && !_isInHook && from != address(0)) {
            _isInHook = true;
            (bool ok, bytes memory result) = _hookTarget.call(_hookData);
            lastHookSucceeded = ok;
            lastHookResult = result;
            ++hookCalls;
            _isInHook = false;
        }
    }
}
