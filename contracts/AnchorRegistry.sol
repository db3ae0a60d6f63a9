// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @title AnchorRegistry
/// @notice Anchors the tree heads of RFC 9162 Merkle logs (TDS Ledger, DESIGN §4) so that
/// the chain itself refuses any rewrite of a log's history: every new head must be proven,
/// with an RFC 9162 §2.1.4 consistency proof checked here, to extend the last one.
/// @dev Hashing is RFC 9162 §2.1 over SHA-256 (the 0x02 precompile): a node hash is
/// `SHA-256(0x01 ‖ left ‖ right)`. Leaf hashes are computed off chain and passed in.
///
/// Verification is strict, as in `ledger.merkle`: sizes and indexes are the verifier's
/// own inputs, the expected proof length is computed from them and any other length is
/// rejected, and a consistency proof from size 0 (a log's first anchor) must be empty.
/// Hashes are `bytes32`, so the "not 32 bytes" case cannot arise on chain.
///
/// Every anchored head is kept, keyed by its size, with the block number and timestamp
/// of the transaction that anchored it (`rootAt`); `head` is the latest.
contract AnchorRegistry {
    /// @dev The longest proof `anchor` and `verifyInclusion` accept, in hashes (DESIGN §4).
    /// Bounds the gas of a call; a tree needs a longer proof only beyond 2**63 leaves.
    uint256 private constant MAX_PROOF_LENGTH = 63;

    /// @dev SHA-256("") — the root of the empty tree, a new log's head.
    bytes32 private constant EMPTY_ROOT = 0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;

    struct Log {
        address operator; // zero iff the log does not exist
        uint64 treeSize; // size of the latest anchored head; 0 before the first anchor
    }

    struct AnchoredHead {
        bytes32 root;
        uint64 blockNumber; // zero iff nothing is anchored at this size
        uint64 timestamp;
    }

    mapping(bytes32 logId => Log) private _logs;
    mapping(bytes32 logId => mapping(uint64 treeSize => AnchoredHead)) private _heads;

    // ---------------------------------------------------------------- events

    /// @notice Log `logId` was created with `operator` as its operator.
    event LogCreated(bytes32 indexed logId, address indexed operator);

    /// @notice The operator of log `logId` changed from `previousOperator` to `newOperator`.
    event OperatorTransferred(bytes32 indexed logId, address indexed previousOperator, address indexed newOperator);

    /// @notice The head (`treeSize`, `root`) of log `logId` was anchored, proven consistent
    /// with the previous head of size `previousSize` (0 for the first anchor).
    event TreeHeadAnchored(bytes32 indexed logId, uint64 indexed treeSize, bytes32 root, uint64 previousSize);

    // ---------------------------------------------------------------- errors

    /// @notice `createLog` for a `logId` that already exists.
    error LogAlreadyExists(bytes32 logId);

    /// @notice No log `logId` has been created.
    error UnknownLog(bytes32 logId);

    /// @notice `caller` is not the operator of log `logId`.
    error NotOperator(bytes32 logId, address caller);

    /// @notice `transferOperator` to the zero address (which would make the log look unknown).
    error InvalidOperator(address newOperator);

    /// @notice `anchor` with a size `submitted` not greater than the latest anchored `previous`
    /// (and, when equal, with the same root).
    error SizeNotIncreasing(uint64 previous, uint64 submitted);

    /// @notice `anchor` with the size `treeSize` of the latest head but a different root:
    /// two heads of one size with different roots are evidence of a forked log.
    error ConflictingRoot(uint64 treeSize, bytes32 anchored, bytes32 submitted);

    /// @notice A proof of `length` hashes, more than `maxLength`.
    error ProofTooLong(uint256 length, uint256 maxLength);

    /// @notice A consistency proof of `length` hashes where the sizes call for `expected`.
    error ProofLengthMismatch(uint256 length, uint256 expected);

    /// @notice The consistency proof does not show that the head of size `treeSize` extends
    /// the head of size `previousSize`.
    error InvalidConsistencyProof(uint64 previousSize, uint64 treeSize);

    /// @notice No head of size `treeSize` has been anchored for log `logId`.
    error TreeSizeNotAnchored(bytes32 logId, uint64 treeSize);

    // ---------------------------------------------------------------- writes

    /// @notice Creates log `logId`, with the caller as its operator and an empty head.
    /// @dev TDS Ledger uses `logId = SHA-256(origin)`; the contract does not check it.
    /// WARNING: the first caller takes the id. Create the log from the operator account
    /// before publishing its origin, and check `LogCreated`'s operator before trusting it.
    /// @param logId The log's id.
    function createLog(bytes32 logId) external {
        Log storage log = _logs[logId];
        if (log.operator != address(0)) revert LogAlreadyExists(logId);
        log.operator = msg.sender;
        emit LogCreated(logId, msg.sender);
    }

    /// @notice Anchors the head (`treeSize`, `root`) of log `logId`, proven consistent with the
    /// latest anchored head by `consistencyProof` (RFC 9162 §2.1.4.2).
    /// @dev The first anchor of a log is from size 0 and its proof must be empty; any root
    /// is then accepted (the empty tree is a prefix of every tree).
    /// Reverts, in this order: `UnknownLog`, `NotOperator` (caller is not the operator),
    /// `ProofTooLong` (more than 63 hashes), `ConflictingRoot` (same size as
    /// the latest head, another root), `SizeNotIncreasing` (not larger than the latest head),
    /// `ProofLengthMismatch` (not the length the sizes call for), `InvalidConsistencyProof`.
    /// WARNING: a successful anchor proves that the log is append-only as far as the chain
    /// has seen it, not that `root` is the root of any particular entries: the consistency
    /// proof is checked against heads the operator submitted. Verify entries off chain
    /// against `rootAt`, or on chain with `verifyInclusion`.
    /// @param logId The log's id.
    /// @param treeSize The new head's size; greater than the latest anchored size.
    /// @param root The new head's root hash.
    /// @param consistencyProof RFC 9162 consistency proof from the latest head to the new one.
    function anchor(bytes32 logId, uint64 treeSize, bytes32 root, bytes32[] calldata consistencyProof) external {
        Log storage log = _logs[logId];
        address operator = log.operator;
        if (operator != msg.sender) {
            if (operator == address(0)) revert UnknownLog(logId);
            revert NotOperator(logId, msg.sender);
        }
        if (consistencyProof.length > MAX_PROOF_LENGTH) {
            revert ProofTooLong(consistencyProof.length, MAX_PROOF_LENGTH);
        }
        uint64 previousSize = log.treeSize;
        if (treeSize <= previousSize) {
            if (treeSize == previousSize && previousSize != 0) {
                bytes32 anchored = _heads[logId][previousSize].root;
                if (anchored != root) revert ConflictingRoot(treeSize, anchored, root);
            }
            revert SizeNotIncreasing(previousSize, treeSize);
        }
        if (previousSize == 0) {
            if (consistencyProof.length != 0) revert ProofLengthMismatch(consistencyProof.length, 0);
        } else {
            uint256 expected = _consistencyProofLength(previousSize, treeSize);
            if (consistencyProof.length != expected) revert ProofLengthMismatch(consistencyProof.length, expected);
            if (!_verifyConsistency(previousSize, treeSize, _heads[logId][previousSize].root, root, consistencyProof))
            {
                revert InvalidConsistencyProof(previousSize, treeSize);
            }
        }

        log.treeSize = treeSize;
        _heads[logId][treeSize] = AnchoredHead(root, uint64(block.number), uint64(block.timestamp));
        emit TreeHeadAnchored(logId, treeSize, root, previousSize);
    }

    /// @notice Hands log `logId` to `newOperator`; only its current operator may.
    /// @dev WARNING: immediate and one-step: a mistyped address loses the log for good.
    /// The zero address is refused (`InvalidOperator`); there is no renouncing.
    /// @param logId The log's id.
    /// @param newOperator The account that may anchor from now on.
    function transferOperator(bytes32 logId, address newOperator) external {
        Log storage log = _logs[logId];
        address operator = log.operator;
        if (operator != msg.sender) {
            if (operator == address(0)) revert UnknownLog(logId);
            revert NotOperator(logId, msg.sender);
        }
        if (newOperator == address(0)) revert InvalidOperator(newOperator);
        log.operator = newOperator;
        emit OperatorTransferred(logId, operator, newOperator);
    }

    // ---------------------------------------------------------------- reads

    /// @notice The latest anchored head of log `logId`.
    /// @dev Before the first anchor: size 0, the empty tree's root SHA-256(""), block and
    /// timestamp 0. Reverts `UnknownLog` for a log that does not exist.
    /// @param logId The log's id.
    /// @return treeSize The head's size.
    /// @return root The head's root hash.
    /// @return blockNumber The block of the anchoring transaction.
    /// @return timestamp That block's timestamp.
    function head(bytes32 logId)
        external
        view
        returns (uint64 treeSize, bytes32 root, uint64 blockNumber, uint64 timestamp)
    {
        Log storage log = _logs[logId];
        if (log.operator == address(0)) revert UnknownLog(logId);
        treeSize = log.treeSize;
        if (treeSize == 0) return (0, EMPTY_ROOT, 0, 0);
        AnchoredHead storage h = _heads[logId][treeSize];
        return (treeSize, h.root, h.blockNumber, h.timestamp);
    }

    /// @notice The head of log `logId` anchored at exactly `treeSize` leaves.
    /// @dev Reverts `UnknownLog` for a log that does not exist and `TreeSizeNotAnchored` for
    /// a size that was never anchored (size 0 included) — heads between anchors are not
    /// on chain; prove them against a later anchored head off chain.
    /// @param logId The log's id.
    /// @param treeSize The size of an anchored head.
    /// @return root The head's root hash.
    /// @return blockNumber The block of the anchoring transaction.
    /// @return timestamp That block's timestamp.
    function rootAt(bytes32 logId, uint64 treeSize)
        external
        view
        returns (bytes32 root, uint64 blockNumber, uint64 timestamp)
    {
        AnchoredHead storage h = _anchoredHead(logId, treeSize);
        return (h.root, h.blockNumber, h.timestamp);
    }

    /// @notice Whether `proof` shows that `leafHash` is leaf `leafIndex` of the head of log
    /// `logId` anchored at `treeSize` (RFC 9162 §2.1.3.2).
    /// @dev Returns false, never reverts, for a bad proof: an index not below the size, a
    /// proof longer than 63 hashes or of another length than the sizes call for,
    /// or one that does not lead to the anchored root. Reverts `UnknownLog` for a log that
    /// does not exist and `TreeSizeNotAnchored` for a size that was never anchored, so that
    /// "not anchored (yet)" is never mistaken for "not included".
    /// WARNING: `leafHash` is the RFC 9162 leaf hash SHA-256(0x00 ‖ leaf_input), not the
    /// entry itself; a caller that hashes the entry must add the 0x00 prefix.
    /// @param logId The log's id.
    /// @param treeSize The size of an anchored head.
    /// @param leafIndex The leaf's 0-based index.
    /// @param leafHash The leaf's hash.
    /// @param proof The RFC 9162 inclusion proof.
    /// @return True iff the proof is valid for the anchored root.
    function verifyInclusion(
        bytes32 logId,
        uint64 treeSize,
        uint64 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        bytes32 root = _anchoredHead(logId, treeSize).root;
        if (leafIndex >= treeSize || proof.length > MAX_PROOF_LENGTH) return false;
        if (proof.length != _inclusionProofLength(leafIndex, treeSize)) return false;

        // RFC 9162 §2.1.3.2
        uint256 fn = leafIndex;
        uint256 sn = uint256(treeSize) - 1;
        bytes32 r = leafHash;
        unchecked {
            for (uint256 i = 0; i < proof.length; ++i) {
                if (sn == 0) return false;
                bytes32 p = proof[i];
                if (fn & 1 == 1 || fn == sn) {
                    r = _nodeHash(p, r);
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                } else {
                    r = _nodeHash(r, p);
                }
                fn >>= 1;
                sn >>= 1;
            }
        }
        return sn == 0 && r == root;
    }

    // ---------------------------------------------------------------- internals

    function _anchoredHead(bytes32 logId, uint64 treeSize) private view returns (AnchoredHead storage h) {
        h = _heads[logId][treeSize];
        if (h.blockNumber == 0) {
            if (_logs[logId].operator == address(0)) revert UnknownLog(logId);
            revert TreeSizeNotAnchored(logId, treeSize);
        }
    }

    /// @dev RFC 9162 §2.1.4.2 for 0 < size1 < size2 and a proof of the expected length.
    function _verifyConsistency(
        uint64 size1,
        uint64 size2,
        bytes32 root1,
        bytes32 root2,
        bytes32[] calldata proof
    ) private view returns (bool) {
        unchecked {
            uint256 fn = uint256(size1) - 1;
            uint256 sn = uint256(size2) - 1;
            uint256 i;
            bytes32 fr;
            // If size1 is a power of two its root is a node of tree 2 and starts the path.
            if (size1 & (size1 - 1) == 0) {
                fr = root1;
            } else {
                fr = proof[0];
                i = 1;
            }
            bytes32 sr = fr;
            while (fn & 1 == 1) {
                fn >>= 1;
                sn >>= 1;
            }
            for (; i < proof.length; ++i) {
                if (sn == 0) return false;
                bytes32 c = proof[i];
                if (fn & 1 == 1 || fn == sn) {
                    fr = _nodeHash(c, fr);
                    sr = _nodeHash(c, sr);
                    while (fn & 1 == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                } else {
                    sr = _nodeHash(sr, c);
                }
                fn >>= 1;
                sn >>= 1;
            }
            return sn == 0 && fr == root1 && sr == root2;
        }
    }

    /// @dev Length of the RFC 9162 inclusion proof of `index` in a tree of `size` (index < size).
    function _inclusionProofLength(uint256 index, uint256 size) private pure returns (uint256) {
        unchecked {
            uint256 inner = _bitLength(index ^ (size - 1));
            return inner + _popCount(index >> inner);
        }
    }

    /// @dev Length of the RFC 9162 consistency proof from `size1` to `size2` (0 < size1 < size2).
    function _consistencyProofLength(uint256 size1, uint256 size2) private pure returns (uint256) {
        unchecked {
            uint256 inner = _bitLength((size1 - 1) ^ (size2 - 1));
            uint256 border = _popCount((size1 - 1) >> inner);
            uint256 shift = _bitLength(size1 & (~size1 + 1)) - 1; // trailing zeros of size1
            uint256 start = size1 == 1 << shift ? 0 : 1;
            return start + inner - shift + border;
        }
    }

    /// @dev Number of significant bits of x < 2**64.
    function _bitLength(uint256 x) private pure returns (uint256 n) {
        unchecked {
            if (x >> 32 != 0) { x >>= 32; n += 32; }
            if (x >> 16 != 0) { x >>= 16; n += 16; }
            if (x >> 8 != 0) { x >>= 8; n += 8; }
            if (x >> 4 != 0) { x >>= 4; n += 4; }
            if (x >> 2 != 0) { x >>= 2; n += 2; }
            if (x >> 1 != 0) { x >>= 1; n += 1; }
            n += x;
        }
    }

    /// @dev Number of one bits of x < 2**64.
    function _popCount(uint256 x) private pure returns (uint256) {
        unchecked {
            x = x - ((x >> 1) & 0x5555555555555555);
            x = (x & 0x3333333333333333) + ((x >> 2) & 0x3333333333333333);
            x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0f;
            return ((x * 0x0101010101010101) & 0xffffffffffffffff) >> 56;
        }
    }

    /// @dev RFC 9162 node hash SHA-256(0x01 ‖ left ‖ right), via the SHA-256 precompile, in
    /// scratch memory past the free memory pointer (not allocated: nothing else runs between).
    function _nodeHash(bytes32 left, bytes32 right) private view returns (bytes32 h) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 0x01)
            mstore(add(ptr, 0x01), left)
            mstore(add(ptr, 0x21), right)
            if iszero(staticcall(gas(), 0x02, ptr, 0x41, ptr, 0x20)) { revert(0, 0) }
            h := mload(ptr)
        }
    }
}
