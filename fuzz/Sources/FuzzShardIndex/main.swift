import FuzzSupport
import LatteReaders

// Sharded index JSON (`*.index.json`): weight maps, metadata, shard names that must stay in their folder.
runFuzzer { bytes in
    guard let index = try? ShardedIndex.parse(bytes: bytes, path: "fuzz.index.json") else { return }
    precondition(index.shards.allSatisfy { !$0.hasPrefix("/") && !$0.split(separator: "/").contains("..") })
}
