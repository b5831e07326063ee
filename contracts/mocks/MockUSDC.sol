// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {MockStablecoin} from "./MockStablecoin.sol";

/**
 * @title MockUSDC
 * @notice The dev chain's stand-in for USDC: a `MockStablecoin` named "USD Coin (mock)", 6 decimals.
 * Dev chains only (open mint).
 */
contract MockUSDC is MockStablecoin {
    constructor() MockStablecoin("USD Coin (mock)", "USDC", 6) {}
}
