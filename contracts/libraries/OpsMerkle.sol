// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";
import {ISettlement} from "../interfaces/ISettlement.sol";

/**
 * @title OpsMerkle
 * @notice The ops root of a settlement batch, built exactly as `@openzeppelin/merkle-tree`'s
 * `StandardMerkleTree.of(leaves, ['uint256', 'uint8', 'bytes32'], { sortLeaves: false })`:
 * leaf `i` = keccak256(bytes.concat(keccak256(abi.encode(i, kind, keccak256(data))))); the tree is
 * the library's array heap of 2n - 1 nodes with leaf `i` at position 2n - 2 - i and node `j` =
 * commutativeKeccak256(node 2j + 1, node 2j + 2).
 * @dev Leaves are not sorted: sorting on-chain would cost more than the rest of the root, and the
 * index inside each leaf already commits the root to the batch order.
 */
library OpsMerkle {
    /// @notice The leaf hash of op `index` (double keccak of the ABI-encoded leaf values).
    function leafHash(uint256 index, uint8 kind, bytes calldata data) internal pure returns (bytes32 leaf) {
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

    /// @notice The root over `ops`. `ops` must not be empty.
    function root(ISettlement.Op[] calldata ops) internal pure returns (bytes32) {
        uint256 count = ops.length;
        // Cannot overflow: a calldata array's length is far below 2^255. Callers reject count == 0.
        unchecked {
            uint256 size = 2 * count - 1;
            bytes32[] memory tree = new bytes32[](size);
            for (uint256 i; i < count; ++i) {
                ISettlement.Op calldata op = ops[i];
                tree[size - 1 - i] = leafHash(i, op.kind, op.data);
            }
            // Internal nodes are count - 2 down to 0; each has both children at 2j + 1 and 2j + 2.
            for (uint256 j = count - 1; j > 0; ) {
                --j;
                tree[j] = Hashes.commutativeKeccak256(tree[2 * j + 1], tree[2 * j + 2]);
            }
            return tree[0];
        }
    }
}
