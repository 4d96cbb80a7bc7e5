import FuzzSupport
import LatteReaders

// The pickle machine: every opcode, the global allowlist, and the opcode/stack/memo limits.
runFuzzer { bytes in
    if let result = try? PickleMachine().run(bytes) {
        precondition(result.length <= bytes.count)
        result.release()
    }
}
