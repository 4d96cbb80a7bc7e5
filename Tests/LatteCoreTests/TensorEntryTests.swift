import Testing
import LatteCore

@Suite struct TensorEntryTests {
    func entry(_ shape: [Int], strides: [Int]? = nil, offset: Int = 0, storage: Int, dtype: DType = .f32) -> TensorEntry {
        TensorEntry(name: "t", dtype: dtype, shape: shape, file: 0, storageOffset: 0, storageLength: storage,
                    storageKey: "0", elementOffset: offset, strides: strides)
    }

    @Test func contiguity() {
        #expect(entry([2, 3], storage: 24).isContiguous)
        #expect(!entry([3, 2], strides: [1, 3], storage: 24).isContiguous)
        #expect(entry([1, 3], strides: [99, 1], storage: 12).isContiguous)
        #expect(!entry([2, 3], strides: [0, 1], storage: 12).isContiguous)
    }

    @Test func viewMustFitItsStorage() throws {
        try entry([2, 3], storage: 24).checkViewInsideStorage()
        try entry([4, 3], strides: [0, 1], storage: 12).checkViewInsideStorage()
        try entry([0, 5], strides: [5, 1], offset: 1000, storage: 0).checkViewInsideStorage()
        #expect(throws: TensorLayoutError.self) { try entry([2, 3], storage: 20).checkViewInsideStorage() }
        #expect(throws: TensorLayoutError.self) { try entry([2], strides: [1], offset: 5, storage: 24).checkViewInsideStorage() }
        #expect(throws: TensorLayoutError.self) { try entry([Int.max, 2], storage: 24).checkViewInsideStorage() }
        #expect(throws: TensorLayoutError.self) { try entry([3], storage: 8, dtype: .f4).checkViewInsideStorage() }
    }

    @Test func dtypeSizes() {
        #expect(DType.bf16.byteCount(elements: 3) == 6)
        #expect(DType.f4.byteCount(elements: 3) == nil)
        #expect(DType.f4.byteCount(elements: 4) == 2)
        #expect(DType.f6e2m3.byteCount(elements: 4) == 3)
        #expect(DType.f64.byteCount(elements: Int.max) == nil)
        #expect(elementCount(of: [1 << 40, 1 << 40]) == nil)
        #expect(contiguousStrides(of: [2, 3, 4]) == [12, 4, 1])
    }
}
