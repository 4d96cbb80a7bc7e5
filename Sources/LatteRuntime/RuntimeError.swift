import LatteCore

/// What can go wrong loading or running a LaTtE-Flow model. Every case that concerns a
/// tensor names it.
public enum RuntimeError: Error, Equatable, CustomStringConvertible {
    /// A weight the model needs is not in the weight source.
    case missingTensor(String)
    /// A weight or input has the wrong shape.
    case wrongShape(tensor: String, expected: [Int], found: [Int])
    /// A weight or input is stored in a dtype the runtime does not read.
    case unsupportedDType(tensor: String, dtype: DType, allowed: [DType])
    /// A weight's stored bytes do not match its dtype and shape.
    case wrongByteCount(tensor: String, expected: Int, found: Int)
    /// A context token id outside 0 ..< vocab_size.
    case tokenOutOfRange(tensor: String, position: Int, id: Int64, vocabSize: Int)
    /// An input that is present but unusable (empty context, non-finite timestep…).
    case badInput(tensor: String, reason: String)
    /// A required input is missing.
    case missingInput(String)
    /// The request itself is inconsistent (guidance without an unconditional context…).
    case usage(String)
    /// A size above one of `RuntimeLimits` (the message names it and the limit).
    case overLimit(String)
    /// The run would need more memory than its budget (the message says how much, for what).
    case overMemoryBudget(String)

    public var description: String {
        switch self {
        case let .missingTensor(t): "tensor '\(t)': missing from the weights"
        case let .wrongShape(t, e, f): "tensor '\(t)': expected shape \(e), found \(f)"
        case let .unsupportedDType(t, d, a):
            "tensor '\(t)': dtype \(d.name) is not supported here (expected \(a.map(\.name).joined(separator: " or ")))"
        case let .wrongByteCount(t, e, f): "tensor '\(t)': expected \(e) bytes, found \(f)"
        case let .tokenOutOfRange(t, p, id, v): "tensor '\(t)': token \(p) is \(id), outside the vocabulary 0 ..< \(v)"
        case let .badInput(t, why): "tensor '\(t)': \(why)"
        case let .missingInput(t): "tensor '\(t)': missing from the inputs"
        case let .usage(why): why
        case let .overLimit(why): why
        case let .overMemoryBudget(why): why
        }
    }
}
