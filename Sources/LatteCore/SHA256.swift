import CCrypto

/// SHA-256, streaming, through OpenSSL's EVP API (`EVP_DigestInit_ex` / `EVP_DigestUpdate` /
/// `EVP_DigestFinal_ex` with `EVP_sha256()`).
///
/// Used for the provenance of converted files and to compare fixtures with what torch read.
/// OpenSSL uses the CPU's SHA extensions where present (about 2 GB/s here, against ~150 MB/s
/// for a portable implementation, which made hashing the source the slowest part of `convert`).
///
/// A value type: a copy hashes on independently of the original (copy on write: the EVP
/// context is shared until one of the copies is updated or finalized, which then works on
/// its own duplicate, `EVP_MD_CTX_copy_ex`).
public struct SHA256: Sendable {
    /// Owns one EVP context (a C pointer), freed with the last digest holding it.
    ///
    /// Safe to share between threads: a context is written only through a digest that holds
    /// the sole reference to it (`uniqueContext()`), and a shared one is only read, by the
    /// copy that duplicates it, as for any copy-on-write value.
    private final class Context: @unchecked Sendable {
        let ctx: OpaquePointer

        init() {
            ctx = Context.newContext()
            EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        }

        /// A duplicate of `other`'s state.
        init(copying other: Context) {
            ctx = Context.newContext()
            EVP_MD_CTX_copy_ex(ctx, other.ctx)
        }

        deinit { EVP_MD_CTX_free(ctx) }

        private static func newContext() -> OpaquePointer {
            // EVP_MD_CTX_new fails only when malloc does.
            guard let c = EVP_MD_CTX_new() else { fatalError("EVP_MD_CTX_new: out of memory") }
            return c
        }
    }

    private var context = Context()

    public init() {}

    /// The context, duplicated first when another copy of this digest shares it.
    private mutating func uniqueContext() -> OpaquePointer {
        if !isKnownUniquelyReferenced(&context) { context = Context(copying: context) }
        return context.ctx
    }

    /// The 32-byte digest of `bytes`.
    public static func hash<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var s = SHA256()
        let contiguous = Array(bytes)
        contiguous.withUnsafeBytes { s.update($0) }
        return s.finalize()
    }

    /// A digest as lowercase hex.
    public static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(digest.count * 2)
        for b in digest {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        EVP_DigestUpdate(uniqueContext(), base, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The 32-byte digest (the state is consumed).
    public mutating func finalize() -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 32)
        var n: UInt32 = 0
        let ctx = uniqueContext()
        out.withUnsafeMutableBufferPointer { _ = EVP_DigestFinal_ex(ctx, $0.baseAddress, &n) }
        return out
    }

    /// The digest as 64 lowercase hex digits (the state is consumed).
    public mutating func hexDigest() -> String { SHA256.hex(finalize()) }
}
