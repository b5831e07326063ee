// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title PackedChannel
 * @notice A payment channel's mutable state in one storage word, read and written whole:
 * bits 0-95 `deposit`, bits 96-191 `settled`, bits 192-255 `sequence`. (Solidity's own packed
 * structs read and write each member separately, which costs a storage access per member.)
 * @dev `sequence == CLOSED` marks a closed channel. Writers keep `settled <= deposit < 2^96`.
 */
library PackedChannel {
    /// @notice The sequence that marks a closed channel.
    uint64 internal constant CLOSED = type(uint64).max;

    /// @notice The unpacked state.
    struct State {
        uint256 deposit;
        uint256 settled;
        uint64 sequence;
    }

    /// @notice Unpacks a storage word.
    function unpack(uint256 word) internal pure returns (State memory s) {
        s.deposit = uint96(word);
        s.settled = uint96(word >> 96);
        s.sequence = uint64(word >> 192);
    }

    /// @notice Unpacks a storage word onto the stack (no memory), for the settlement hot path.
    function fields(uint256 word) internal pure returns (uint256 deposit, uint256 settled, uint64 sequence) {
        deposit = uint96(word);
        settled = uint96(word >> 96);
        sequence = uint64(word >> 192);
    }

    /// @notice Packs a state; `deposit` and `settled` must be below 2^96 (callers check).
    function pack(uint256 deposit, uint256 settled, uint64 sequence) internal pure returns (uint256) {
        return deposit | (settled << 96) | (uint256(sequence) << 192);
    }
}
