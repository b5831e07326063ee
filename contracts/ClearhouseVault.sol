// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Vault} from "./Vault.sol";
import {PaymentChannels} from "./PaymentChannels.sol";
import {Settlement} from "./Settlement.sol";

/**
 * @title ClearhouseVault
 * @notice The one deployable Clearhouse contract: vault balances, job escrows, payment channels
 * and batch settlement over shared internal balances (see `IVault`, `IJobEscrow`,
 * `IPaymentChannels`, `ISettlement`).
 */
contract ClearhouseVault is Settlement {
    /// @notice Deployment settings.
    /// @param owner Admin (Ownable2Step): allowlist, pause, treasury, delayed coordinator and fee changes.
    /// @param coordinator Key that signs batches and co-signs fast withdrawals.
    /// @param treasury Account credited with protocol fees.
    /// @param feeBps Initial protocol fee in basis points (at most `MAX_FEE_BPS`).
    /// @param withdrawalDelay Seconds from `requestWithdrawal` to `executeWithdrawal` (e.g. 86400).
    /// @param challengePeriod Seconds from `requestChannelClose` to `finalizeChannelClose` (e.g. 86400).
    /// @param adminDelay Seconds from proposing to applying a coordinator or fee change (e.g. 172800).
    /// @param tokens Tokens allowlisted at deployment.
    struct Parameters {
        address owner;
        address coordinator;
        address treasury;
        uint16 feeBps;
        uint64 withdrawalDelay;
        uint64 challengePeriod;
        uint64 adminDelay;
        address[] tokens;
    }

    constructor(Parameters memory p)
        Vault(p.owner, p.coordinator, p.treasury, p.feeBps, p.withdrawalDelay, p.adminDelay)
        PaymentChannels(p.challengePeriod)
    {
        for (uint256 i; i < p.tokens.length; ++i) {
            // Internal setter: `setTokenAllowed` is owner-only and the deployer need not be the owner.
            _setTokenAllowed(p.tokens[i], true);
        }
    }
}
