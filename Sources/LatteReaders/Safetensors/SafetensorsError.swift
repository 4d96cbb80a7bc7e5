import LatteCore

/// Every way a safetensors file can break a rule of the format, one case per rule.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    case fileTooSmall(size: Int)
    case headerTooLarge(declared: UInt64, limit: Int)
    case headerOutsideFile(declared: UInt64, fileSize: Int)
    case headerNotUTF8
    case headerNotJSON(JSONError)
    case headerNotObject(found: String)
    case duplicateTensor(String)
    case metadataNotObject(found: String)
    case metadataValueNotString(key: String, found: String)
    case metadataKeyHasNUL(key: String)
    case metadataValueHasNUL(key: String)
    case nameHasNUL(tensor: String)
    case entryNotObject(tensor: String)
    case missingField(tensor: String, field: String)
    case unknownDType(tensor: String, dtype: String)
    case badShape(tensor: String, reason: String)
    case badOffsets(tensor: String, reason: String)
    case offsetsNotContiguous(tensor: String, expectedBegin: Int, found: Int)
    case endBeforeBegin(tensor: String, begin: Int, end: Int)
    case sizeMismatch(tensor: String, dtype: DType, shape: [Int], expected: Int?, found: Int)
    case dataSizeMismatch(expected: Int, found: Int)

    /// Names and values from the file are escaped (`escapingControlCharacters`): a tensor name
    /// must not be able to move the cursor or clear the user's terminal.
    public var description: String {
        switch self {
        case let .fileTooSmall(size): "not a safetensors file: \(size) bytes, shorter than the 8-byte header length"
        case let .headerTooLarge(d, limit): "header length \(d) exceeds the limit of \(limit) bytes"
        case let .headerOutsideFile(d, size): "header length \(d) runs past the end of the \(size)-byte file"
        case .headerNotUTF8: "header is not valid UTF-8"
        case let .headerNotJSON(e): "header is not valid JSON: \(e)"
        case let .headerNotObject(found): "header must be a JSON object, found \(found)"
        case let .duplicateTensor(n): "tensor '\(escapingControlCharacters(n))' appears twice in the header"
        case let .metadataNotObject(found): "__metadata__ must be an object of strings, found \(found)"
        case let .metadataValueNotString(k, found): "__metadata__ value for '\(escapingControlCharacters(k))' must be a string, found \(found)"
        case let .metadataKeyHasNUL(k): "__metadata__ key '\(escapingControlCharacters(k))' contains a NUL character"
        case let .metadataValueHasNUL(k): "__metadata__ value for '\(escapingControlCharacters(k))' contains a NUL character"
        case let .nameHasNUL(t): "tensor '\(escapingControlCharacters(t))': the name contains a NUL character"
        case let .entryNotObject(t): "tensor '\(escapingControlCharacters(t))': entry must be an object"
        case let .missingField(t, f): "tensor '\(escapingControlCharacters(t))': missing field '\(f)'"
        case let .unknownDType(t, d): "tensor '\(escapingControlCharacters(t))': unknown dtype '\(escapingControlCharacters(d))'"
        case let .badShape(t, r): "tensor '\(escapingControlCharacters(t))': invalid shape: \(r)"
        case let .badOffsets(t, r): "tensor '\(escapingControlCharacters(t))': invalid data_offsets: \(r)"
        case let .offsetsNotContiguous(t, e, f):
            f > e ? "tensor '\(escapingControlCharacters(t))': data begins at \(f), leaving a gap after byte \(e)"
                : "tensor '\(escapingControlCharacters(t))': data begins at \(f), overlapping the previous tensor, which ends at \(e)"
        case let .endBeforeBegin(t, b, e): "tensor '\(escapingControlCharacters(t))': data_offsets end \(e) is before begin \(b)"
        case let .sizeMismatch(t, d, s, exp, found):
            if let exp {
                "tensor '\(escapingControlCharacters(t))': \(d.name) \(s) needs \(exp) bytes, data_offsets give \(found)"
            } else {
                "tensor '\(escapingControlCharacters(t))': \(d.name) \(s) does not fill a whole number of bytes"
            }
        case let .dataSizeMismatch(exp, found):
            found > exp ? "\(found - exp) trailing bytes after the last tensor (data is \(found) bytes, tensors end at \(exp))"
                : "file is truncated: tensors need \(exp) bytes of data, the file has \(found)"
        }
    }
}
