/// The text of the error `body` throws ("no error" when it throws none).
public func errorText(_ body: () throws -> Void) -> String {
    do { try body() } catch { return String(describing: error) }
    return "no error"
}
