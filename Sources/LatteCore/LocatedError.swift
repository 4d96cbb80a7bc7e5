/// An error tied to a file and, where one is involved, a tensor: what the CLI prints as
/// `error: FILE: tensor 'NAME': what is wrong`.
///
/// One rule for locations: code below a public entry point (a reader's `open`, `LatteFile`'s
/// init, the library call a command makes) throws its own typed errors, or a `TensorError`
/// naming the tensor; the entry point, which knows the file, attaches it once. Nothing
/// re-wraps a `LocatedError`.
public struct LocatedError: Error, CustomStringConvertible {
    public let path: String
    public let tensor: String?
    public let underlying: any Error

    /// Locates `underlying` at `path`; a `TensorError` gives its tensor and its own error.
    public init(path: String, tensor: String? = nil, _ underlying: any Error) {
        self.path = path
        if let named = underlying as? TensorError {
            self.tensor = tensor ?? named.tensor
            self.underlying = named.underlying
        } else {
            self.tensor = tensor
            self.underlying = underlying
        }
    }

    public var description: String {
        var s = path + ": "
        if let tensor { s += "tensor '\(tensor)': " }
        return s + String(describing: underlying)
    }
}

/// An error about one tensor, thrown where the tensor is known and the file is not yet
/// attached: the entry point's `LocatedError(path:_:)` adds the file.
public struct TensorError: Error, CustomStringConvertible {
    public let tensor: String
    public let underlying: any Error

    /// An error about `tensor`. When `underlying` already names a tensor inside this one (the
    /// unnamed tensor of a pickled `.pt2` entry), `tensor` is the name that holds in the file.
    public init(tensor: String, _ underlying: any Error) {
        self.tensor = tensor
        self.underlying = (underlying as? TensorError)?.underlying ?? underlying
    }

    public var description: String { "tensor '\(tensor)': " + String(describing: underlying) }
}
