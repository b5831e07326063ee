// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

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

    /**
     * @notice The root over `ops`, which must not be empty.
     * @dev Runs once per op of every batch, so it is one assembly block: each op read as Solidity's
     * calldata accessors read it (`ops[i]`: the head word holds the element's offset; the element:
     * `kind`, then the offset of `data`; `data`: its length word, then its bytes), its leaf
     * keccak256(bytes.concat(keccak256(abi.encode(i, kind, keccak256(data))))) placed in the heap,
     * then the internal nodes folded as `_fold` does, all in scratch memory past the free memory
     * pointer (nothing is allocated or kept).
     * The offsets are not range-checked as the accessors would: the root commits to the bytes
     * read, whatever offsets led to them, so the coordinator's signature over it accepts exactly
     * the ops the coordinator built, and `applyBatchOps` reads the same calldata with the same
     * offsets (`OpData.at`). A `kind` word with high bits set is refused as the accessors refuse
     * it, so every reader sees a clean `uint8`.
     */
    function root(ISettlement.Op[] calldata ops) internal pure returns (bytes32 result) {
        assembly ("memory-safe") {
            let count := ops.length
            let tree := mload(0x40)
            // Leaf i sits at node 2 * count - 2 - i, walking down from leaf 0; one op's data is
            // copied past the last node.
            let leaf := add(tree, shl(5, sub(shl(1, count), 2)))
            let scratch := add(leaf, 0x20)
            // The high bits of every kind, or-ed together: checked once, after the loop.
            let kindHighBits := 0
            for { let i := 0 } lt(i, count) { i := add(i, 1) } {
                let element := add(ops.offset, calldataload(add(ops.offset, shl(5, i))))
                let kind := calldataload(element)
                kindHighBits := or(kindHighBits, shr(8, kind))
                let data := add(element, calldataload(add(element, 0x20)))
                let length := calldataload(data)
                // The leaf: keccak256(bytes.concat(keccak256(abi.encode(i, kind, keccak256(data))))).
                calldatacopy(scratch, add(data, 0x20), length)
                let opHash := keccak256(scratch, length)
                mstore(scratch, i)
                mstore(add(scratch, 0x20), kind)
                mstore(add(scratch, 0x40), opHash)
                mstore(0x00, keccak256(scratch, 0x60))
                mstore(sub(leaf, shl(5, i)), keccak256(0x00, 0x20))
            }
            if kindHighBits {
                revert(0, 0)
            }
            // _fold: node j = commutativeKeccak256(node 2j + 1, node 2j + 2) (the smaller word
            // first), for j = count - 2 down to 0. Node j's children start at 2 * node - tree + 0x20.
            for { let node := add(tree, shl(5, sub(count, 2))) } iszero(lt(node, tree)) { node := sub(node, 0x20) } {
                let children := sub(shl(1, node), tree)
                let left := mload(add(children, 0x20))
                let right := mload(add(children, 0x40))
                let isSwapped := gt(left, right)
                mstore(shl(5, isSwapped), left)
                mstore(shl(5, iszero(isSwapped)), right)
                mstore(node, keccak256(0x00, 0x40))
            }
            result := mload(tree)
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
    function _fold(bytes32[] memory tree, uint256 count) private pure returns (bytes32 node) {
        // Internal nodes are count - 2 down to 0; each has both children at 2j + 1 and 2j + 2, so
        // every index is below the tree's length 2 * count - 1 and the reads need no bounds check.
        // Node j = Hashes.commutativeKeccak256(node 2j + 1, node 2j + 2): the smaller word first.
        assembly ("memory-safe") {
            let nodes := add(tree, 0x20)
            for { let j := sub(count, 1) } j {} {
                j := sub(j, 1)
                let left := mload(add(add(nodes, 0x20), shl(6, j)))
                let right := mload(add(add(nodes, 0x40), shl(6, j)))
                switch lt(left, right)
                case 1 {
                    mstore(0x00, left)
                    mstore(0x20, right)
                }
                default {
                    mstore(0x00, right)
                    mstore(0x20, left)
                }
                mstore(add(nodes, shl(5, j)), keccak256(0x00, 0x40))
            }
            node := mload(nodes)
        }
    }
}
