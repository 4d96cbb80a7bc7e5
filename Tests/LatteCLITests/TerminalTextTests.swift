import Foundation
import Testing
import LatteCore
import LatteTestSupport

/// Text from files reaches the terminal escaped: one function (`escapingControlCharacters`)
/// serves the error line on stderr and the human-readable tables on stdout.
@Suite struct TerminalTextTests {
    @Test func controlCharactersBecomeVisibleEscapes() {
        let cases: [(String, String)] = [
            ("plain.name-0", "plain.name-0"),
            ("é😀 / \\ \"q\"", "é😀 / \\ \"q\""),
            ("\u{1B}[2J\u{1B}[31mred", "\\x1b[2J\\x1b[31mred"),
            ("a\nb\rc\td\u{0}e", "a\\nb\\rc\\td\\0e"),
            ("\u{7}\u{8}\u{7F}", "\\x07\\x08\\x7f"),
            ("x\u{9B}31m\u{85}", "x\\u{9b}31m\\u{85}"),
            ("abc\u{202E}fed\u{2066}\u{2069}", "abc\\u{202e}fed\\u{2066}\\u{2069}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
        ]
        for (raw, shown) in cases {
            #expect(escapingControlCharacters(raw) == shown)
            // Escaping twice changes nothing more: layers of output may each escape.
            #expect(escapingControlCharacters(shown) == shown)
        }
    }

    /// No byte below 0x20 (other than the lines' own newlines), DEL or C1 control reaches the
    /// terminal: checked on the raw bytes the command wrote.
    func expectNoControlBytes(_ text: String, allowingNewlines: Bool, _ context: String) {
        let bad = text.unicodeScalars.filter { u in
            (u.value < 0x20 && !(allowingNewlines && u == "\n")) || (0x7F ... 0x9F).contains(u.value) || (0x202A ... 0x202E).contains(u.value)
        }
        #expect(bad.isEmpty, "\(context): raw control characters \(bad.map { String($0.value, radix: 16) })")
    }

    @Test func errorLinesFromHostileNamesAreOneEscapedLine() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = { (name: String) in CLI.fixture("hostile/files/" + name) }
        let out = dir.appendingPathComponent("x.latte").path
        let cases: [([String], String)] = [
            (["inspect", file("st_escape_name.safetensors")], "tensor '\\x1b[2J\\x1b[31mred\\nline': unknown dtype 'Q8'"),
            (["convert", file("st_escape_name.safetensors"), "-o", out], "tensor '\\x1b[2J\\x1b[31mred\\nline': unknown dtype 'Q8'"),
            (["inspect", file("st_escape_osc_name.safetensors")], "tensor 't\\x1b]0;owned\\x07': F32 [3] needs 12 bytes"),
            (["inspect", file("st_bidi_name.safetensors")], "tensor 'abc\\u{202e}dcba'"),
            (["inspect", file("st_c1_csi_name.safetensors")], "tensor 'x\\u{9b}31m'"),
            (["convert", file("pt_nul_name.pt"), "-o", out], "tensor 'a\\0x': cannot be stored: the name contains a NUL character"),
        ]
        for (args, fragment) in cases {
            let r = try CLI.run(args)
            #expect(r.status == 1)
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.hasSuffix("\n") && r.stderr.filter { $0 == "\n" }.count == 1, "\(r.stderr)")
            expectNoControlBytes(String(r.stderr.dropLast()), allowingNewlines: false, "\(args)")
            #expect(r.stderr.contains(fragment), "\(args): \(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func inspectTablesShowNamesAndMetadataEscaped() throws {
        let metadata = try CLI.run(["inspect", CLI.fixture("hostile/files/st_escape_metadata.safetensors")])
        #expect(metadata.status == 0)
        expectNoControlBytes(metadata.stdout, allowingNewlines: true, "metadata table")
        #expect(metadata.stdout.contains("  note\\x1b[8m = hidden\\x1b[0m\\r\\nsecond line\n"))
        let names = try CLI.run(["inspect", CLI.fixture("hostile/files/pt_nul_name_inspect.pt")])
        #expect(names.status == 0)
        expectNoControlBytes(names.stdout, allowingNewlines: true, "tensor table")
        #expect(names.stdout.contains("\na\\0x  F32    [2]     8 B\n"), "\(names.stdout)")
        // --json stays JSON: its serializer escapes control characters its own way.
        let json = try CLI.run(["inspect", "--json", CLI.fixture("hostile/files/st_escape_metadata.safetensors")])
        #expect(try JSON.parse(json.stdout)["metadata"]?["note\u{1B}[8m"]?.stringValue == "hidden\u{1B}[0m\r\nsecond line")
    }
}
