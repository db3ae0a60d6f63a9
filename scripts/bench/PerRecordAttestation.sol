// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

// Benchmark-only contracts for scripts/bench/gas.py, compiled at run time with the pinned
// npm solc and the settings of scripts/compile_contracts.py. Not part of the product and
// not in contracts/ (so no committed build output): they are the comparison points for
// the gas of AnchorRegistry.anchor.

/// @notice The naive alternative to anchoring tree heads: one on-chain attestation per
/// record, a fresh storage slot (SSTORE) and an event for each record hash.
contract PerRecordAttestation {
    mapping(bytes32 recordHash => uint256 blockNumber) private _attestedAt;

    event Attested(bytes32 indexed recordHash, address indexed attester);

    /// @notice One record per transaction.
    function attest(bytes32 recordHash) external {
        _attestedAt[recordHash] = block.number;
        emit Attested(recordHash, msg.sender);
    }

    /// @notice Many records in one transaction (still one slot and one event per record).
    function attestMany(bytes32[] calldata recordHashes) external {
        for (uint256 i = 0; i < recordHashes.length; ++i) {
            _attestedAt[recordHashes[i]] = block.number;
            emit Attested(recordHashes[i], msg.sender);
        }
    }
}

/// @notice AnchorRegistry's `anchor` with the same calldata, storage layout, writes and
/// event, but WITHOUT the consistency-proof check (and without reading the previous
/// root): the floor that DESIGN §4's interface imposes on any implementation.
contract AnchorStorageFloor {
    struct Log {
        address operator;
        uint64 treeSize;
    }

    struct AnchoredHead {
        bytes32 root;
        uint64 blockNumber;
        uint64 timestamp;
    }

    mapping(bytes32 logId => Log) private _logs;
    mapping(bytes32 logId => mapping(uint64 treeSize => AnchoredHead)) private _heads;

    event TreeHeadAnchored(bytes32 indexed logId, uint64 indexed treeSize, bytes32 root, uint64 previousSize);

    function createLog(bytes32 logId) external {
        require(_logs[logId].operator == address(0));
        _logs[logId].operator = msg.sender;
    }

    function anchor(bytes32 logId, uint64 treeSize, bytes32 root, bytes32[] calldata consistencyProof) external {
        Log storage log = _logs[logId];
        require(log.operator == msg.sender);
        require(consistencyProof.length <= 63);
        uint64 previousSize = log.treeSize;
        require(treeSize > previousSize);
        log.treeSize = treeSize;
        _heads[logId][treeSize] = AnchoredHead(root, uint64(block.number), uint64(block.timestamp));
        emit TreeHeadAnchored(logId, treeSize, root, previousSize);
    }
}
