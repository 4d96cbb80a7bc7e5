/// An error tied to a file and, where one is involved, a tensor: what the CLI prints as
/// `error: FILE: tensor 'NAME': what is wrong`.
public struct LocatedError: Error, CustomStringConvertible {
    public let path: String
    public let tensor: String?
    public let underlying: any Error

    public init(path: String, tensor: String? = nil, _ underlying: any Error) {
        self.path = path
        self.tensor = tensor
        self.underlying = underlying
    }

    public var description: String {
        var s = path + ": "
        if let tensor { s += "tensor '\(tensor)': " }
        return s + String(describing: underlying)
    }
}
