import FuzzSupport
import LatteCore

// The json-c layer: strict parse, structure checks, duplicate keys, and a write/re-read
// round trip of whatever was accepted.
runFuzzer { bytes in
    guard let v = try? JSON.parse(bytes) else { return }
    let again = try? JSON.parse(v.serialized())
    precondition(again != nil, "serialized JSON did not parse again")
}
