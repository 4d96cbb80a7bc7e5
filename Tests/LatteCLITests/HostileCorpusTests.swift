import Foundation
import Testing
import LatteTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The crafted-input corpus of `fixtures/hostile/<area>/cases.json`, run as an attacker would:
/// every command on every file, as a separate `latte` process, held to the resource budget of
/// docs/RELIABILITY.md (1 GiB peak RSS, 10 s) and to the error contract (exit 1 and exactly one
/// `error:` line naming what is wrong, with no raw control characters), and leaving nothing
/// behind: no output, no temporary file beside it, no reference folder in the temporary folder.
@Suite(.serialized) struct HostileCorpusTests {
    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        var area: String = ""
        var name: String
        var file: String
        var `class`: String
        var why: String
        var commands: [[String]]
        var exit: Int32
        var stderr: String?

        enum CodingKeys: String, CodingKey { case name, file, `class`, why, commands, exit, stderr }
        var testDescription: String { "\(area)/\(name)" }
    }

    struct CaseFile: Decodable { var cases: [Case] }

    static let root = CLI.packageRoot.appendingPathComponent("fixtures/hostile")
    static let classes: Set<String> = ["lifetime", "arithmetic", "bounded-work", "special-files", "strings",
                                       "write-readback", "leftovers", "runtime"]
    static let rssLimit = 1 << 30
    static let secondsLimit = 10.0

    static let cases: [Case] = {
        let areas = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
        var out: [Case] = []
        for area in areas {
            let url = root.appendingPathComponent(area).appendingPathComponent("cases.json")
            guard let data = FileManager.default.contents(atPath: url.path) else { continue }
            // A cases.json that does not decode is reported by `everyCaseFileDecodes`.
            guard let file = try? JSONDecoder().decode(CaseFile.self, from: data) else { continue }
            out += file.cases.map { var c = $0; c.area = area; return c }
        }
        return out
    }()

    @Test func everyCaseFileDecodes() throws {
        let areas = try FileManager.default.contentsOfDirectory(atPath: Self.root.path).sorted()
        #expect(!areas.isEmpty, "fixtures/hostile is empty")
        for area in areas {
            let url = Self.root.appendingPathComponent(area).appendingPathComponent("cases.json")
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let file = try JSONDecoder().decode(CaseFile.self, from: Data(contentsOf: url))
            for c in file.cases {
                #expect(Self.classes.contains(c.class), "\(area)/\(c.name): unknown class \(c.class)")
                // lstat: a case may be a symlink that dangles or loops on purpose.
                var st = stat()
                #expect(lstat(Self.root.appendingPathComponent(area).appendingPathComponent(c.file).path, &st) == 0,
                        "\(area)/\(c.name): \(c.file) is missing")
                #expect(!c.commands.isEmpty && (c.exit == 0 || c.stderr != nil), "\(area)/\(c.name): no command or no expected error")
            }
        }
    }

    @Test(arguments: cases)
    func staysWithinBudgetAndFailsCleanly(_ c: Case) throws {
        let folder = Self.root.appendingPathComponent(c.area).path
        let file = folder + "/" + c.file
        for command in c.commands {
            let work = try CLI.tempDir()
            defer { try? FileManager.default.removeItem(at: work) }
            let out = work.appendingPathComponent("out").path
            let args = command.map {
                $0.replacingOccurrences(of: "{file}", with: file).replacingOccurrences(of: "{dir}", with: folder)
                    .replacingOccurrences(of: "{out}", with: out)
            }
            let before = referenceFolders()
            let r = try LimitedRun.latte(args, in: work.path, timeout: Self.secondsLimit)
            let what = "\(c.area)/\(c.name): latte \(command.joined(separator: " "))"
            #expect(!r.timedOut, "\(what): still running after \(Self.secondsLimit) s")
            #expect(!r.killedBySignal, "\(what): killed by signal \(r.status - 128): \(r.stderr.suffix(400))")
            #expect(r.peakRSSBytes <= Self.rssLimit, "\(what): peak RSS \(r.peakRSSBytes >> 20) MiB")
            #expect(r.status == c.exit, "\(what): exit \(r.status), expected \(c.exit): \(r.stderr.suffix(400))")
            if c.exit != 0 {
                let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.count == 2 && lines[1].isEmpty && r.stderr.hasPrefix("error: "), "\(what): not one error line: \(r.stderr.prefix(400))")
                if let expected = c.stderr {
                    #expect(r.stderr.contains(expected), "\(what): \(r.stderr.prefix(400)) lacks \"\(expected)\"")
                }
                #expect(!r.stderr.utf8.dropLast().contains { $0 < 0x20 || $0 == 0x7F }, "\(what): raw control characters on stderr")
                let left = (try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? []
                #expect(left.isEmpty, "\(what): left \(left) behind")
            } else {
                let named = Set(args.filter { $0.hasPrefix(work.path + "/") }.map { String($0.dropFirst(work.path.count + 1)) })
                let left = Set((try? FileManager.default.contentsOfDirectory(atPath: work.path)) ?? [])
                #expect(left.isSubset(of: named), "\(what): left \(left.subtracting(named)) behind")
            }
            #expect(referenceFolders().subtracting(before).isEmpty, "\(what): left a reference folder in the temporary folder")
        }
    }
}
