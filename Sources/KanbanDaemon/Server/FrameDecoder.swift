import KanbanProtocol
import NIOCore

/// One unit read off a connection.
enum InboundFrame: Sendable {
    case frame(ByteBuffer)
    /// The peer announced a frame above the limit. Nothing of its body was read; the connection
    /// is answered once and closed, because the stream cannot be resynchronised.
    case oversize(length: Int)
}

/// Splits the byte stream into length-prefixed frames, checking the length before buffering.
struct FrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame
    let maxFrameBytes: Int
    private var refused = false

    init(maxFrameBytes: Int) { self.maxFrameBytes = maxFrameBytes }

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if refused {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            return .needMoreData
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        if Int(length) > maxFrameBytes {
            refused = true
            buffer.moveReaderIndex(to: buffer.writerIndex)
            context.fireChannelRead(wrapInboundOut(.oversize(length: Int(length))))
            return .needMoreData
        }
        guard buffer.readableBytes >= Framing.headerBytes + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: Framing.headerBytes)
        let body = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(.frame(body)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws
        -> DecodingState
    {
        // A peer that hangs up mid-frame leaves a partial frame behind: drop it.
        while try decode(context: context, buffer: &buffer) == .continue {}
        buffer.moveReaderIndex(to: buffer.writerIndex)
        return .needMoreData
    }
}
