import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// PyTorch fixtures whose tensors are strided, expanded, big-endian or complex128 views:
/// the writer asks for their bytes a chunk at a time (never the whole view at once), so
/// the chunks must join into exactly the tensor's bytes, whatever the chunk size (8 bytes
/// splits a complex128 element in two).
@Suite struct TorchViewRoundTripTests {
    @Test(arguments: ["views.pt", "big_endian.pt", "all_dtypes.pt", "legacy.pt", "exported.pt2"])
    func stridedViewsConvertByChunks(_ name: String) throws {
        let source = fixturesRoot + "/readers/" + name
        guard fileExists(source) else { Issue.record("\(source) is missing"); return }
        for chunk in [8, 24, 4096] {
            let dir = TempDir()
            defer { dir.cleanup() }
            try assertRoundTrip(source, dir: dir, chunkSize: chunk)
        }
    }
}
