#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The wire's JSON encoding. Keys are spelled out in each type's `CodingKeys`, so no key strategy
/// is applied. Encoding is `StreamingJSONEncoder` (compact, keys in declaration order, objects of
/// `JSONValue` in sorted key order); decoding is `StreamingJSONDecoder` / `ParsedJSON`.
public enum WireJSON {
    /// Encodes `value` to bytes; encoding our own wire types cannot fail, so a failure is a programming error.
    public static func encode<T: Encodable>(_ value: T, capacity: Int = 256) -> [UInt8] {
        do {
            return try StreamingJSONEncoder.encode(value, capacity: capacity)
        } catch {
            preconditionFailure("wire type failed to encode: \(error)")
        }
    }
}
