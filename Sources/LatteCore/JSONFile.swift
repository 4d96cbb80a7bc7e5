extension JSON {
    /// Reads the JSON file at `path`, refused past `maxBytes`, parsed strictly into a value:
    /// the one way latte reads a JSON file (configs, mapping files, `run.json`).
    ///
    /// - Throws: `FileAccessError` (which names the file), or a `JSONError`: `.tooLarge`
    ///   past `maxBytes`, else what is wrong with the text. The caller locates it at `path`,
    ///   saying which kind of file it is.
    public static func load(path: String, maxBytes: Int) throws -> JSONValue {
        try load(MappedFile(path: path), maxBytes: maxBytes)
    }

    /// Parses a mapped JSON file of at most `maxBytes` into a value.
    public static func load(_ file: MappedFile, maxBytes: Int) throws(JSONError) -> JSONValue {
        guard file.size <= maxBytes else { throw .tooLarge(size: file.size, limit: maxBytes) }
        return try parse(file.bytes)
    }

    /// Parses a mapped JSON file of at most `maxBytes` into a `JSONTree`, in place: for large
    /// documents (a sharded index of millions of names).
    public static func loadTree(_ file: MappedFile, maxBytes: Int) throws(JSONError) -> JSONTree {
        guard file.size <= maxBytes else { throw .tooLarge(size: file.size, limit: maxBytes) }
        return try parseTree(in: file, range: 0 ..< file.size)
    }
}
