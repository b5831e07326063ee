// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {ISettlement} from "../interfaces/ISettlement.sol";

/**
 * @title OpsMerkle
 * @notice The Merkle roots the vault commits to, built exactly as `@openzeppelin/merkle-tree`'s
 * `StandardMerkleTree.of(leaves, encoding, { sortLeaves: false })`: leaf `i` =
 * keccak256(bytes.concat(keccak256(abi.encode(...values)))); the tree is the library's array heap
 * of 2n - 1 nodes with leaf `i` at position 2n - 2 - i and node `j` =
 * commutativeKeccak256(node 2j + 1, node 2j + 2). Two trees use it: a batch's ops
 * (`['uint256', 'uint8', 'bytes32']`: index, kind, keccak256(data)) and an escrow set
 * (`['uint256', 'bytes32']`: index, escrow id).
 * @dev Leaves are not sorted: sorting on-chain would cost more than the rest of the root, and the
 * index inside each leaf already commits the root to the order. A one-leaf tree's root is its leaf.
 */
library OpsMerkle {
    /// @notice The leaf hash of op `index` (double keccak of the ABI-encoded leaf values).
    function opLeaf(uint256 index, uint8 kind, bytes calldata data) internal pure returns (bytes32 leaf) {
        // keccak256(bytes.concat(keccak256(abi.encode(index, kind, keccak256(data))))), computed in
        // scratch memory: this runs once per op of every batch.
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            calldatacopy(ptr, data.offset, data.length)
            let opHash := keccak256(ptr, data.length)
            mstore(ptr, index)
            mstore(add(ptr, 0x20), kind)
            mstore(add(ptr, 0x40), opHash)
            mstore(0x00, keccak256(ptr, 0x60))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @notice The leaf hash of escrow `escrowId` at `index` of its set.
    function escrowLeaf(uint256 index, bytes32 escrowId) internal pure returns (bytes32 leaf) {
        // keccak256(bytes.concat(keccak256(abi.encode(index, escrowId)))), in scratch space.
        assembly ("memory-safe") {
            mstore(0x00, index)
            mstore(0x20, escrowId)
            mstore(0x00, keccak256(0x00, 0x40))
            leaf := keccak256(0x00, 0x20)
        }
    }

    /// @notice The root over `ops`. `ops` must not be empty.
    function root(ISettlement.Op[] calldata ops) internal pure returns (bytes32) {
        uint256 count = ops.length;
        // Cannot overflow: a calldata array's length is far below 2^255. Callers reject count == 0.
        unchecked {
            bytes32[] memory tree = new bytes32[](2 * count - 1);
            for (uint256 i; i < count; ++i) {
                ISettlement.Op calldata op = ops[i];
                tree[tree.length - 1 - i] = opLeaf(i, op.kind, op.data);
            }
            return _fold(tree, count);
        }
    }

    /// @notice The root over the first `count` (at least one) of `leaves`, in order.
    function rootOfLeaves(bytes32[] memory leaves, uint256 count) internal pure returns (bytes32) {
        // Cannot overflow: `count` is at most the length of a memory array.
        unchecked {
            bytes32[] memory tree = new bytes32[](2 * count - 1);
            for (uint256 i; i < count; ++i) {
                tree[tree.length - 1 - i] = leaves[i];
            }
            return _fold(tree, count);
        }
    }

    /// @dev Fills the internal nodes of a heap whose `count` leaves are in place; returns the root.
    function _fold(bytes32[] memory tree, uint256 count) private pure returns (bytes32) {
        // Internal nodes are count - 2 down to 0; each has both children at 2j + 1 and 2j + 2.
        unchecked {
            for (uint256 j = count - 1; j > 0; ) {
                --j;
                tree[j] = Hashes.commutativeKeccak256(tree[2 * j + 1], tree[2 * j + 2]);
            }
        }
        return tree[0];
    }
}
