#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The wire's JSON coders. Keys are spelled out in each type's `CodingKeys`, so no key strategy
/// is applied. Encoding is `StreamingJSONEncoder` (compact, keys in declaration order, objects of
/// `JSONValue` in sorted key order); decoding is Foundation's `JSONDecoder`.
public enum WireJSON {
    public static func decoder() -> JSONDecoder { JSONDecoder() }

    /// A shared decoder for the hot path: creating one per message costs more than the small
    /// messages themselves. Its options are never changed after creation and decoding keeps no
    /// state between calls, so sharing it across threads is safe.
    public static let sharedDecoder = decoder()

    /// Encodes `value` to bytes; encoding our own wire types cannot fail, so a failure is a programming error.
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        do {
            return try StreamingJSONEncoder.encode(value)
        } catch {
            preconditionFailure("wire type failed to encode: \(error)")
        }
    }
}
