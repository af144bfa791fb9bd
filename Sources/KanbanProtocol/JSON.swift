#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Shared JSON coders for the wire. Keys are spelled out in each type's `CodingKeys`, so no key
/// strategy is applied: event payloads are free-form objects and must round-trip byte-for-byte.
public enum WireJSON {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }

    public static func decoder() -> JSONDecoder { JSONDecoder() }

    /// Shared coders for the hot path: creating a coder per message costs more than the small
    /// messages themselves. Their options are never changed after creation, and encoding and
    /// decoding keep no state between calls, so sharing them across threads is safe.
    public static let sharedEncoder = encoder()
    public static let sharedDecoder = decoder()

    /// Encodes `value` to bytes; encoding our own wire types cannot fail, so a failure is a programming error.
    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        do {
            return Array(try sharedEncoder.encode(value))
        } catch {
            preconditionFailure("wire type failed to encode: \(error)")
        }
    }
}
