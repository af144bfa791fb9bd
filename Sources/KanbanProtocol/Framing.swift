/// The wire framing: every message is a 4-byte unsigned big-endian length followed by that many
/// bytes of UTF-8 JSON. The length is checked against a limit before any body is buffered, so a
/// hostile length cannot make the reader allocate.
public enum Framing {
    /// Default largest frame body either side accepts: 16 MiB.
    public static let defaultMaxFrameBytes = 16 * 1024 * 1024

    /// Bytes of the length prefix.
    public static let headerBytes = 4

    /// Prefixes `body` with its length.
    public static func frame(_ body: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(body.count + headerBytes)
        appendHeader(length: body.count, to: &out)
        out.append(contentsOf: body)
        return out
    }

    public static func appendHeader(length: Int, to out: inout [UInt8]) {
        let length = UInt32(length)
        out.append(UInt8(truncatingIfNeeded: length >> 24))
        out.append(UInt8(truncatingIfNeeded: length >> 16))
        out.append(UInt8(truncatingIfNeeded: length >> 8))
        out.append(UInt8(truncatingIfNeeded: length))
    }

    public static func readLength<C: Collection>(_ header: C) -> Int where C.Element == UInt8 {
        var value = 0
        for byte in header.prefix(headerBytes) { value = value << 8 | Int(byte) }
        return value
    }
}

/// Why a frame was refused.
public enum FramingError: Error, Equatable, Sendable {
    /// The announced length exceeds the limit; the stream cannot be resynchronised and must be closed.
    case frameTooLarge(length: Int, limit: Int)
}

/// Incremental frame splitter for blocking clients and tests: feed bytes, take whole frames.
public struct FrameReader: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    public let maxFrameBytes: Int

    public init(maxFrameBytes: Int = Framing.defaultMaxFrameBytes) {
        self.maxFrameBytes = maxFrameBytes
    }

    public mutating func feed<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        // A large frame announces its length: make room for it once rather than growing (and
        // copying) by doubling as its chunks arrive.
        if buffer.count - start >= Framing.headerBytes {
            let length = Framing.readLength(buffer[start..<(start + Framing.headerBytes)])
            let needed = start + Framing.headerBytes + length
            if length <= maxFrameBytes, needed > buffer.capacity { buffer.reserveCapacity(needed) }
        }
    }

    /// Bytes buffered but not yet returned as a frame.
    public var pendingBytes: Int { buffer.count - start }

    /// The next whole frame body, or nil when more bytes are needed.
    public mutating func next() throws(FramingError) -> [UInt8]? {
        guard buffer.count - start >= Framing.headerBytes else { return nil }
        let length = Framing.readLength(buffer[start..<(start + Framing.headerBytes)])
        if length > maxFrameBytes { throw .frameTooLarge(length: length, limit: maxFrameBytes) }
        let bodyStart = start + Framing.headerBytes
        guard buffer.count - bodyStart >= length else { return nil }
        let body = Array(buffer[bodyStart..<(bodyStart + length)])
        start = bodyStart + length
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        } else if start > 64 * 1024 {
            buffer.removeFirst(start)
            start = 0
        }
        return body
    }
}
