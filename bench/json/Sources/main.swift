// json-bench MODE FILE [REPEAT]: parses FILE (memory-mapped, as the readers do) REPEAT times
// and prints the best parse time and the process's peak RSS.
//   tree         JSON.parseTree (the tape; what the safetensors reader and index use)
//   value        JSON.parse (the tape, then a JSONValue; what the manifest reader uses)
//   jsonc-tree   json-c's json_tokener_parse_ex (what the old JSON.parseTree kept)
//   jsonc-value  json-c, then a JSONValue (what the old JSON.parse built)
import CJSONC
#if canImport(Glibc)
import Glibc
#endif
import LatteCore
import LatteJSONOracle

func fail(_ message: String) { _ = message.withCString { write(2, $0, strlen($0)) } }

func peakRSS() -> Int {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return u.ru_maxrss * 1024
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

let args = CommandLine.arguments
guard args.count >= 3 else { fail("usage: json-bench tree|value|jsonc-tree|jsonc-value FILE [REPEAT]\n"); exit(2) }
let mode = args[1]
let file = try MappedFile(path: args[2])
let repeats = args.count > 3 ? Int(args[3])! : 1
let text = file.bytes
// Touch every page first, so the document's own pages count in the baseline.
var sum = 0
for i in stride(from: 0, to: text.count, by: 4096) { sum &+= Int(text[i]) }
let baseline = peakRSS()

var best = Double.infinity
var tapeBytes = 0
for _ in 0 ..< repeats {
    let t0 = now()
    switch mode {
    case "tree":
        let tree = try JSON.parseTree(text)
        withExtendedLifetime(tree) { best = min(best, now() - t0) }
        tapeBytes = tree.tapeCount * 8
    case "value":
        let v = try JSON.parse(text)
        withExtendedLifetime(v) { best = min(best, now() - t0) }
    case "jsonc-tree":
        guard let tok = json_tokener_new_ex(64) else { exit(1) }
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        let o = json_tokener_parse_ex(tok, text.baseAddress!.assumingMemoryBound(to: CChar.self), Int32(text.count))
        best = min(best, now() - t0)
        guard o != nil else { fail("json-c refused the text\n"); exit(1) }
        json_object_put(o)
        json_tokener_free(tok)
    case "jsonc-value":
        let v = JSONCOracle.parse(text)
        best = min(best, now() - t0)
        guard v != nil else { fail("json-c refused the text\n"); exit(1) }
    default:
        fail("unknown mode \(mode)\n"); exit(2)
    }
}
func fixed(_ x: Double, _ digits: Int) -> String {
    let scale = Double([1, 10, 100, 1000][digits])
    let r = (x * scale).rounded() / scale
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let have = s.distance(from: dot, to: s.endIndex) - 1
        s += String(repeating: "0", count: max(0, digits - have))
    }
    return s
}

let peak = peakRSS()
let mb = Double(text.count) / 1e6
print("\(mode) \(args[2]): \(fixed(mb, 1)) MB, parse \(fixed(best, 3)) s, "
    + "peak RSS \(peak >> 20) MiB (\(fixed(Double(peak - baseline) / Double(text.count), 1))x the document above the mapped text, "
    + "\(fixed(Double(peak) / Double(text.count), 1))x in all)"
    + (tapeBytes > 0 ? ", tape \(fixed(Double(tapeBytes) / Double(text.count), 2))x the document" : ""))
