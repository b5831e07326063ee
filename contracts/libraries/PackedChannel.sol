// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title PackedChannel
 * @notice A payment channel's mutable state in one storage word, read and written whole:
 * bits 0-95 `deposit`, bits 96-191 `settled`, bit 192 `isClosed`. (Solidity's own packed structs
 * read and write each member separately, which costs a storage access per member.)
 * @dev Writers keep `settled <= deposit < 2^96`. A closed channel has `deposit == settled`.
 */
library PackedChannel {
    uint256 private constant _CLOSED_BIT = 1 << 192;

    /// @notice Unpacks a storage word onto the stack, for the settlement hot path.
    function fields(uint256 word) internal pure returns (uint256 deposit, uint256 settled, bool isClosed) {
        deposit = uint96(word);
        settled = uint96(word >> 96);
        isClosed = word & _CLOSED_BIT != 0;
    }

    /// @notice Packs an open channel's state; `deposit` and `settled` must be below 2^96 (callers check).
    function pack(uint256 deposit, uint256 settled) internal pure returns (uint256) {
        return deposit | (settled << 96);
    }

    /// @notice Packs a closed channel that settled `settled` in all.
    function packClosed(uint256 settled) internal pure returns (uint256) {
        return settled | (settled << 96) | _CLOSED_BIT;
    }
}
