import Foundation
import KanbanProtocol
import Testing

/// The wire framing: 4-byte big-endian length + body, split and joined every way a stream can.
@Suite struct ProtocolFramingTests {
    private static func body(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test func frameHasABigEndianLengthPrefix() {
        let framed = Framing.frame(Self.body("{}"))
        #expect(framed == [0, 0, 0, 2, UInt8(ascii: "{"), UInt8(ascii: "}")])
        var header: [UInt8] = []
        Framing.appendHeader(length: 0x0102_0304, to: &header)
        #expect(header == [1, 2, 3, 4])
        #expect(Framing.readLength(header) == 0x0102_0304)
        #expect(Framing.readLength([0xFF, 0xFF, 0xFF, 0xFF]) == 4_294_967_295)
    }

    @Test func framesFedByteByByte() throws {
        let messages = ["{\"a\":1}", "", "{\"method\":\"task.list\"}", String(repeating: "x", count: 300)]
        var stream: [UInt8] = []
        for message in messages { stream += Framing.frame(Self.body(message)) }
        var reader = FrameReader()
        var out: [String] = []
        for byte in stream {
            reader.feed([byte])
            while let frame = try reader.next() { out.append(String(decoding: frame, as: UTF8.self)) }
        }
        #expect(out == messages)
        #expect(reader.pendingBytes == 0)
    }

    @Test func severalFramesInOneFeed() throws {
        var reader = FrameReader()
        reader.feed(Framing.frame(Self.body("one")) + Framing.frame(Self.body("two")) + Framing.frame(Self.body("three")))
        #expect(try reader.next() == Self.body("one"))
        #expect(try reader.next() == Self.body("two"))
        #expect(try reader.next() == Self.body("three"))
        #expect(try reader.next() == nil)
        #expect(reader.pendingBytes == 0)
    }

    @Test func aPartialFrameWaitsForTheRest() throws {
        var reader = FrameReader()
        let framed = Framing.frame(Self.body("hello world"))
        reader.feed(framed.prefix(2))
        #expect(try reader.next() == nil)
        reader.feed(framed[2..<7])
        #expect(try reader.next() == nil)
        #expect(reader.pendingBytes == 7)
        reader.feed(framed[7...] + Framing.frame(Self.body("next")).prefix(3))
        #expect(try reader.next() == Self.body("hello world"))
        #expect(try reader.next() == nil)
        #expect(reader.pendingBytes == 3)
    }

    @Test func aZeroLengthFrameIsAnEmptyBody() throws {
        var reader = FrameReader()
        reader.feed([0, 0, 0, 0, 0, 0, 0, 1, 0x41])
        #expect(try reader.next() == [])
        #expect(try reader.next() == [0x41])
        #expect(try reader.next() == nil)
    }

    @Test func anOversizeLengthIsRefusedBeforeTheBodyArrives() throws {
        var reader = FrameReader(maxFrameBytes: 1024)
        reader.feed([0, 0, 4, 1])  // 1025: one byte over, and no body at all yet
        #expect(throws: FramingError.frameTooLarge(length: 1025, limit: 1024)) { try reader.next() }
        var hostile = FrameReader()
        hostile.feed([0xFF, 0xFF, 0xFF, 0xFF])
        #expect(throws: FramingError.frameTooLarge(length: 4_294_967_295, limit: Framing.defaultMaxFrameBytes)) {
            try hostile.next()
        }
    }

    @Test func aFrameExactlyAtTheLimitIsAccepted() throws {
        var reader = FrameReader(maxFrameBytes: 16)
        let body = [UInt8](repeating: 7, count: 16)
        reader.feed(Framing.frame(body))
        #expect(try reader.next() == body)
    }

    @Test func manyFramesThroughOneReaderStayIntact() throws {
        // Enough traffic to cross the reader's 64 KiB compaction threshold several times.
        var reader = FrameReader()
        var expected: [[UInt8]] = []
        var received: [[UInt8]] = []
        for index in 0..<2000 {
            let body = Self.body("{\"id\":\(index),\"pad\":\"\(String(repeating: "p", count: index % 97))\"}")
            expected.append(body)
            let framed = Framing.frame(body)
            let cut = index % framed.count
            reader.feed(framed[..<cut])
            while let frame = try reader.next() { received.append(frame) }
            reader.feed(framed[cut...])
            while let frame = try reader.next() { received.append(frame) }
        }
        #expect(received == expected)
        #expect(reader.pendingBytes == 0)
    }

    @Test func chunksThatCutFramesAnywhereKeepEveryFrame() throws {
        // Chunks never aligned with frames leave a remainder behind every read, so the reader's
        // buffer compaction (past 64 KiB consumed) runs many times.
        var stream: [UInt8] = []
        var expected: [[UInt8]] = []
        for index in 0..<3000 {
            let body = Self.body("{\"seq\":\(index),\"pad\":\"\(String(repeating: "q", count: (index * 7) % 113))\"}")
            expected.append(body)
            stream += Framing.frame(body)
        }
        for chunkSize in [1, 3, 997, 70_001] {
            var reader = FrameReader()
            var received: [[UInt8]] = []
            var offset = 0
            while offset < stream.count {
                let end = min(offset + chunkSize, stream.count)
                reader.feed(stream[offset..<end])
                offset = end
                while let frame = try reader.next() { received.append(frame) }
            }
            #expect(received == expected, "chunk size \(chunkSize)")
            #expect(reader.pendingBytes == 0)
        }
    }

    @Test func requestsRoundTripThroughFraming() throws {
        let request = RPCRequest(id: 7, method: Method.taskCreate.rawValue, params: CreateParams(title: "framed"))
        var reader = FrameReader()
        reader.feed(Framing.frame(WireJSON.encode(request)))
        let body = try #require(try reader.next())
        let head = try JSONDecoder().decode(RPCRequestHead.self, from: Data(body))
        #expect(head.jsonrpc == "2.0")
        #expect(head.id == 7)
        #expect(head.hasID)
        #expect(head.method == "task.create")
        let params = try JSONDecoder().decode(RPCParamsEnvelope<CreateParams>.self, from: Data(body))
        #expect(params.params?.title == "framed")
    }

    @Test func jsonValueRoundTrips() throws {
        let value: JSONValue = [
            "null": nil, "bool": true, "int": 42, "double": .double(1.5), "string": "s",
            "array": [1, "two", false], "nested": ["k": ["deep": -7]],
        ]
        let decoded = try JSONDecoder().decode(JSONValue.self, from: Data(WireJSON.encode(value)))
        #expect(decoded == value)
        #expect(decoded["nested"]?["k"]?["deep"]?.intValue == -7)
        #expect(JSONValue.double(3).intValue == 3)
        #expect(JSONValue.double(3.5).intValue == nil)
        #expect(JSONValue("x").stringValue == "x")
        #expect(JSONValue(nil as String?) == .null)
        #expect((["a/b": "c/d"] as JSONValue).compactText == "{\"a/b\":\"c/d\"}")
    }

    @Test func taskInfoIgnoresUnknownFieldsAndUsesSnakeCase() throws {
        let json = """
            {"id":"t_1","title":"x","status":"ready","priority":0,"workspace_kind":"scratch","created_at":1.5,
             "consecutive_failures":0,"current_run_id":9,"some_future_field":{"a":1}}
            """
        let task = try JSONDecoder().decode(TaskInfo.self, from: Data(json.utf8))
        #expect(task.id == "t_1")
        #expect(task.currentRunID == 9)
        #expect(task.createdAt == 1.5)
        let encoded = try JSONDecoder().decode(JSONValue.self, from: Data(WireJSON.encode(task)))
        #expect(encoded["workspace_kind"] == "scratch")
        #expect(encoded["consecutive_failures"] == 0)
    }

    @Test(arguments: ["READY", "ready", "Done"])
    func statusParsingIgnoresCase(text: String) throws {
        #expect(try TaskStatus.parse(text).rawValue == text.lowercased())
    }

    @Test func statusParsingRefusesUnknownWithTheList() {
        #expect {
            try TaskStatus.parse("bogus")
        } throws: { error in
            guard let error = error as? KanbanError else { return false }
            return error.kind == .invalidArgument && error.message.contains("triage, todo, ready")
        }
    }

    @Test func workspaceSpecParsing() throws {
        #expect(try WorkspaceSpec.parse("") == .scratch)
        #expect(try WorkspaceSpec.parse("scratch") == .scratch)
        #expect(try WorkspaceSpec.parse("worktree") == .worktree)
        #expect(try WorkspaceSpec.parse("dir:/tmp/work") == .dir("/tmp/work"))
        #expect(WorkspaceSpec.dir("/tmp/work").text == "dir:/tmp/work")
        for bad in ["cloud", "dir:", "dir:relative", "worktree:/x", "Scratch"] {
            #expect(throws: KanbanError.self, "\(bad)") { try WorkspaceSpec.parse(bad) }
        }
    }

    @Test func errorKindsMapToRPCCodes() {
        #expect(ErrorKind.notFound.rpcCode == RPC.Code.applicationError)
        #expect(ErrorKind.staleRun.rpcCode == RPC.Code.applicationError)
        #expect(ErrorKind.parseError.rpcCode == -32700)
        #expect(ErrorKind.invalidParams.rpcCode == -32602)
        #expect(ErrorKind.internal.rpcCode == -32603)
        #expect(ErrorKind.staleRun.rawValue == "stale_run")
        #expect(ErrorKind.invalidTransition.rawValue == "invalid_transition")
    }
}
