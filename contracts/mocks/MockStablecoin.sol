// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/**
 * @title MockStablecoin
 * @notice A dev-chain stand-in for a stablecoin with any name, symbol and decimals: EIP-2612
 * `permit`, EIP-3009 `transferWithAuthorization` / `receiveWithAuthorization` /
 * `cancelAuthorization`, and an open `mint`. The open mint makes it worthless anywhere but a local
 * chain; never deploy it elsewhere.
 */
contract MockStablecoin is ERC20, ERC20Permit {
    /// @dev keccak256("TransferWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")
    bytes32 public constant TRANSFER_WITH_AUTHORIZATION_TYPEHASH =
        0x7c7c6cdb67a18743f49ec6fa9b35f50d52ed05cbed4cc592e13b44501c1a2267;
    /// @dev keccak256("ReceiveWithAuthorization(address from,address to,uint256 value,uint256 validAfter,uint256 validBefore,bytes32 nonce)")
    bytes32 public constant RECEIVE_WITH_AUTHORIZATION_TYPEHASH =
        0xd099cc98ef71107a616c4f0f941f04c322d8e254fe26b3c6668db87aae413de8;
    /// @dev keccak256("CancelAuthorization(address authorizer,bytes32 nonce)")
    bytes32 public constant CANCEL_AUTHORIZATION_TYPEHASH =
        0x158b0a9edf7a828aad02f63cd515c68ef2f50ba807396f6d12842833a1597429;

    mapping(address authorizer => mapping(bytes32 nonce => bool used)) private _authorizationStates;

    /// @notice Emitted when `authorizer`'s authorization `nonce` is used.
    event AuthorizationUsed(address indexed authorizer, bytes32 indexed nonce);
    /// @notice Emitted when `authorizer` cancels the unused authorization `nonce`.
    event AuthorizationCanceled(address indexed authorizer, bytes32 indexed nonce);

    /// @notice Thrown when an authorization is used before `validAfter`.
    error AuthorizationNotYetValid(uint256 validAfter, uint256 nowTimestamp);
    /// @notice Thrown when an authorization is used at or after `validBefore`.
    error AuthorizationExpired(uint256 validBefore, uint256 nowTimestamp);
    /// @notice Thrown when `nonce` of `authorizer` was already used or cancelled.
    error AuthorizationAlreadyUsed(address authorizer, bytes32 nonce);
    /// @notice Thrown when the recovered signer is not `expected`.
    error AuthorizationInvalidSignature(address expected, address recovered);
    /// @notice Thrown when `receiveWithAuthorization` is called by someone other than the payee `to`.
    error AuthorizationCallerNotPayee(address caller, address payee);

    uint8 private immutable _decimals;

    /// @param name_ The token's name, also its EIP-712 domain name.
    /// @param symbol_ The token's symbol.
    /// @param decimals_ Its decimals: 6 like USDC, 18 like DAI.
    constructor(string memory name_, string memory symbol_, uint8 decimals_)
        ERC20(name_, symbol_)
        ERC20Permit(name_)
    {
        _decimals = decimals_;
    }

    /// @inheritdoc ERC20
    function decimals() public view override returns (uint8) {
        return _decimals;
    }

    /// @notice Mints `amount` to `to`. Open to anyone: dev chains only.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @notice Whether `nonce` of `authorizer` is used or cancelled.
    function authorizationState(address authorizer, bytes32 nonce) external view returns (bool) {
        return _authorizationStates[authorizer][nonce];
    }

    /// @notice EIP-3009: moves `value` from `from` to `to` with `from`'s signature; anyone may relay.
    function transferWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        _useAuthorization(TRANSFER_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, v, r, s);
        _transfer(from, to, value);
    }

    /// @notice EIP-3009: as `transferWithAuthorization`, but only the payee `to` may submit it, which
    /// stops a front-runner from spending the authorization outside the payee's own call.
    function receiveWithAuthorization(
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) external {
        if (to != msg.sender) revert AuthorizationCallerNotPayee(msg.sender, to);
        _useAuthorization(RECEIVE_WITH_AUTHORIZATION_TYPEHASH, from, to, value, validAfter, validBefore, nonce, v, r, s);
        _transfer(from, to, value);
    }

    /// @notice EIP-3009: `authorizer` cancels an authorization it has not used yet.
    function cancelAuthorization(address authorizer, bytes32 nonce, uint8 v, bytes32 r, bytes32 s) external {
        if (_authorizationStates[authorizer][nonce]) revert AuthorizationAlreadyUsed(authorizer, nonce);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(CANCEL_AUTHORIZATION_TYPEHASH, authorizer, nonce)));
        address recovered = ECDSA.recover(digest, v, r, s);
        if (recovered != authorizer) revert AuthorizationInvalidSignature(authorizer, recovered);
        _authorizationStates[authorizer][nonce] = true;
        emit AuthorizationCanceled(authorizer, nonce);
    }

    function _useAuthorization(
        bytes32 typeHash,
        address from,
        address to,
        uint256 value,
        uint256 validAfter,
        uint256 validBefore,
        bytes32 nonce,
        uint8 v,
        bytes32 r,
        bytes32 s
    ) private {
        if (block.timestamp <= validAfter) revert AuthorizationNotYetValid(validAfter, block.timestamp);
        if (block.timestamp >= validBefore) revert AuthorizationExpired(validBefore, block.timestamp);
        if (_authorizationStates[from][nonce]) revert AuthorizationAlreadyUsed(from, nonce);
        bytes32 digest = _hashTypedDataV4(
            keccak256(abi.encode(typeHash, from, to, value, validAfter, validBefore, nonce))
        );
        address recovered = ECDSA.recover(digest, v, r, s);
        if (recovered != from) revert AuthorizationInvalidSignature(from, recovered);
        _authorizationStates[from][nonce] = true;
        emit AuthorizationUsed(from, nonce);
    }
}
