// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

/**
 * @title CompactECDSA
 * @notice Recovers the signer of an EIP-2098 compact signature (`r`, `vs`) with the `ecrecover`
 * precompile, accepting exactly what OpenZeppelin's `ECDSA.tryRecover(hash, r, vs)` accepts.
 * @dev The same checks as OpenZeppelin 5 (`s` in the lower half of the curve order, per EIP-2, so a
 * signature has no malleable twin; `v` is 27 or 28 by construction of `vs`; a failed recovery is the
 * zero address), without its layers of internal calls and error enums: every voucher of a batch
 * recovers one signature, so this runs once per op.
 */
library CompactECDSA {
    /// @dev The largest `s` EIP-2 allows: secp256k1n / 2.
    uint256 private constant _HALF_ORDER = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0;
    uint256 private constant _S_MASK = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF;

    /// @notice The signer of `digest`, or zero when (`r`, `vs`) has a high `s` or does not recover.
    function recover(bytes32 digest, bytes32 r, bytes32 vs) internal view returns (address signer) {
        assembly ("memory-safe") {
            let s := and(vs, _S_MASK)
            if iszero(gt(s, _HALF_ORDER)) {
                // ecrecover(digest, v, r, s) in scratch memory past the free memory pointer. The
                // precompile returns no data when it cannot recover, so the output word is zeroed first.
                let ptr := mload(0x40)
                mstore(ptr, digest)
                mstore(add(ptr, 0x20), add(shr(255, vs), 27))
                mstore(add(ptr, 0x40), r)
                mstore(add(ptr, 0x60), s)
                mstore(0x00, 0)
                // As Solidity's `ecrecover`: a failed call (out of gas) reverts, never reads as "no signer".
                if iszero(staticcall(gas(), 0x01, ptr, 0x80, 0x00, 0x20)) {
                    revert(0, 0)
                }
                signer := mload(0x00)
            }
        }
    }
}
