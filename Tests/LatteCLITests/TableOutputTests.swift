import Testing
import LatteCore
@testable import latte

/// The human-readable tables of `inspect` and `map`, rendered in the executable: exact text.
@Suite struct TableOutputTests {
    @Test func inspectTableShowsStoredSizesGroupsAndTotals() {
        let report = InspectReport(format: .latte, files: ["m.latte"], metadata: ["format": "pt", "note": "a\u{1B}b"], tensors: [
            .init(name: "a.w", dtype: .bf16, shape: [2, 3], nbytes: 12, storedBytes: 10, group: 0, role: "replica"),
            .init(name: "b", dtype: .f32, shape: [4], nbytes: 16, storedBytes: 16, role: "shared"),
            .init(name: "c.w", dtype: .bf16, shape: [2048], nbytes: 4096, storedBytes: 2048, group: 1, role: "replica"),
        ], skippedLeaves: ["step"])
        let totals = """

            tensors:    3
            parameters: 2058
            bytes:      4124 (4.03 KiB)
              BF16     4.01 KiB stored 2.01 KiB (ratio 0.501)
              F32      16 B stored 16 B (ratio 1.000)
            stored:     2074 (2.03 KiB, ratio 0.503)
              shared   16 B stored 16 B (ratio 1.000)
              group 0  12 B stored 10 B (ratio 0.833)
              group 1  4.00 KiB stored 2.00 KiB (ratio 0.500)
            metadata:
              format = pt
              note = a\\x1bb
            skipped non-tensor leaves: 1 (step)

            """
        #expect(report.table() == """
            format: latte
            file:   m.latte

            name  dtype  shape       size    stored  ratio  group  role
            a.w   BF16   [2, 3]      12 B      10 B  0.833  0      replica
            b     F32    [4]         16 B      16 B  1.000  -      shared
            c.w   BF16   [2048]  4.00 KiB  2.00 KiB  0.500  1      replica

            """ + totals)
        #expect(report.table(includeTensors: false) == "format: latte\nfile:   m.latte\n" + totals)
    }

    @Test func tableCellsAreEscapedAndAligned() {
        #expect(renderTable([["a", "bb", "c"], ["x\u{1B}[2J", "1", "2"]], rightAligned: [1])
            == "a         bb  c\nx\\x1b[2J   1  2\n")
        #expect(renderTable([]) == "")
    }

    @Test func ratiosAndScientificNumbers() {
        #expect(formatRatio(0.86649) == "0.866")
        #expect(formatScientific(1.2449e-7) == "1.24e-07")
        #expect(formatScientific(-31415) == "-3.14e+04")
        #expect(formatScientific(0) == "0")
    }

    /// `latte map` on a fixture model: the plan table as it has always been printed.
    @Test func mapPrintsThePlanTable() throws {
        let model = CLI.fixture("models/k2")
        let r = try CLI.run(["map", model])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.isEmpty)
        #expect(r.stdout == """
            source: \(model) (safetensors, 133 tensors)
            config: \(model)/config.json

            4 replica layers in 2 timestep-expert groups of 2; residual attention on (the first layer of each group reuses nothing)

            group    timesteps   layers  parameters   bytes       size
            0        [0.0, 0.3)  0-1           7112   28448   27.8 KiB
            1        [0.3, 1.0]  2-3           7112   28448   27.8 KiB
            shared                             1904    7616   7.44 KiB
            context                           10512   42048   41.1 KiB
            total                             26640  106560  104.1 KiB

            active per step (context + shared + one group): 19528 parameters

            """)
    }

    /// `latte inspect --no-tensors` on a fixture checkpoint: the totals as they have always been printed.
    @Test func inspectPrintsTheTotals() throws {
        let model = CLI.fixture("models/k2")
        let r = try CLI.run(["inspect", "--no-tensors", model])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == """
            format: safetensors
            file:   \(model)/model.safetensors

            tensors:    133
            parameters: 26640
            bytes:      106560 (104.1 KiB)
              F32      104.1 KiB
            metadata:
              format = pt

            """)
    }
}
