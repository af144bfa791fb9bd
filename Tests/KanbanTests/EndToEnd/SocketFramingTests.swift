import Foundation
import KanbanClient
import KanbanProtocol
import Testing

extension Processes {
    /// The wire as docs/PROTOCOL.md describes it, against a live daemon over raw sockets: framing,
    /// JSON-RPC envelopes, error codes and kinds, notifications, versioning.
    @Suite struct SocketFraming {
        static let listRequest = #"{"jsonrpc":"2.0","id":1,"method":"task.list"}"#

        @Test func frameSplitIntoSingleByteWrites() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            let body = #"{"jsonrpc":"2.0","id":"slow","method":"task.create","params":{"title":"byte by byte"}}"#
            for byte in Framing.frame(Array(body.utf8)) { try peer.sendRaw([byte]) }
            let reply = try #require(try peer.receive())
            #expect(Reply.idText(reply) == "\"slow\"")
            let task = try #require(Reply.result(reply)?["task"] as? [String: Any], "\(reply)")
            #expect(task["title"] as? String == "byte by byte")
            // The connection is still in frame sync afterwards.
            #expect(Reply.result(try peer.call("task.list", id: 2)) != nil)
        }

        @Test func severalFramesInOneWriteAreAnsweredInOrder() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            var bytes: [UInt8] = []
            for index in 1...20 {
                let body = #"{"jsonrpc":"2.0","id":\#(index),"method":"task.create","params":{"title":"t\#(index)"}}"#
                bytes += Framing.frame(Array(body.utf8))
            }
            // Plus the first half of one more frame, completed by a second write.
            let last = Framing.frame(Array(#"{"jsonrpc":"2.0","id":21,"method":"task.list"}"#.utf8))
            bytes += last.prefix(7)
            try peer.sendRaw(bytes)
            for index in 1...20 {
                let reply = try #require(try peer.receive())
                #expect(Reply.idText(reply) == "\(index)")
                let task = Reply.result(reply)?["task"] as? [String: Any]
                #expect(task?["title"] as? String == "t\(index)")
            }
            try peer.sendRaw(Array(last.dropFirst(7)))
            let list = try #require(try peer.receive())
            #expect(Reply.idText(list) == "21")
            #expect((Reply.result(list)?["tasks"] as? [Any])?.count == 20)
        }

        @Test func answersOnTheSpotAndAnswersThatWaitKeepTheRequestsOrder() throws {
            // Point reads and protocol errors are answered on the event loop at once; writes wait
            // for their commit. Pipelined in one write, the replies still come back in order.
            let daemon = try TestDaemon()
            let seed = try daemon.create("seed")
            let peer = try WirePeer(daemon.socket)
            var bytes: [UInt8] = []
            var expected: [String] = []
            for round in 0..<10 {
                let base = round * 10
                let frames: [(Int?, String)] = [
                    (base + 1, #""method":"task.create","params":{"title":"r\#(round)"}"#),
                    (base + 2, #""method":"task.get","params":{"id":"\#(seed)","events":0}"#),
                    (nil, #""method":"task.comment","params":{"id":"\#(seed)","body":"note \#(round)"}"#),
                    (base + 3, #""method":"no.such.method""#),
                    (base + 4, #""method":"task.comment","params":{"id":"\#(seed)","body":"c\#(round)"}"#),
                    (base + 5, #""method":"system.hello""#),
                    (base + 6, #""method":"task.get","params":{"id":"t_0000000000000000"}"#),
                ]
                for (id, member) in frames {
                    let head = id.map { #"{"jsonrpc":"2.0","id":\#($0),"# } ?? #"{"jsonrpc":"2.0","#
                    bytes += Framing.frame(Array((head + member + "}").utf8))
                    if let id { expected.append("\(id)") }
                }
            }
            try peer.sendRaw(bytes)
            var got: [String] = []
            for _ in expected {
                let reply = try #require(try peer.receive())
                got.append(Reply.idText(reply) ?? "?")
            }
            #expect(got == expected)
            // The notifications ran too, in their place: each round's note before its comment.
            let detail = try daemon.client().call(.taskGet, GetParams(id: seed, events: 0)) as TaskDetail
            #expect(detail.comments.map(\.body) == (0..<10).flatMap { ["note \($0)", "c\($0)"] })
        }

        @Test func malformedJSONIsAParseErrorAndTheConnectionStaysUsable() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            for garbage in [#"{"jsonrpc":"2.0","id":1,"method":"task.list""#, "{bad", "", "\u{7f}\u{01}"] {
                let reply = try peer.exchange(garbage)
                #expect(Reply.code(reply) == -32700, "\(garbage): \(reply)")
                #expect(Reply.kind(reply) == "parse_error")
                #expect(Reply.isNullID(reply))
                #expect(reply["jsonrpc"] as? String == "2.0")
            }
            // Invalid UTF-8 in the body.
            try peer.sendRaw(Framing.frame([0x7b, 0xff, 0xfe, 0x7d]))
            #expect(Reply.code(try #require(try peer.receive())) == -32700)
            let ok = try peer.exchange(SocketFraming.listRequest)
            #expect(Reply.result(ok)?["tasks"] != nil, "\(ok)")
        }

        @Test func oversizeLengthGetsOneErrorThenTheConnectionCloses() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            var bytes: [UInt8] = []
            Framing.appendHeader(length: Framing.defaultMaxFrameBytes + 1, to: &bytes)
            bytes += Array(#"{"jsonrpc":"2.0","id":1,"method":"task.list"}"#.utf8)
            try peer.sendRaw(bytes)
            let reply = try #require(try peer.receive(), "no error reply before the close")
            #expect(Reply.code(reply) == -32600)
            #expect(Reply.kind(reply) == "invalid_request")
            #expect(Reply.isNullID(reply))
            #expect((Reply.error(reply)?["message"] as? String)?.contains("\(Framing.defaultMaxFrameBytes)") == true)
            #expect(try peer.receive() == nil, "the connection must close after an oversize frame")
            // Others are unaffected.
            #expect(Reply.result(try WirePeer(daemon.socket).exchange(SocketFraming.listRequest)) != nil)

            // The largest header there is, too.
            let huge = try WirePeer(daemon.socket)
            try huge.sendRaw([0xff, 0xff, 0xff, 0xff])
            #expect(Reply.code(try #require(try huge.receive())) == -32600)
            #expect(try huge.receive() == nil)
        }

        /// JSON-RPC 2.0: valid JSON that is not a request object is -32600 Invalid Request, not
        /// -32700 (which means the JSON itself did not parse). Batches are not supported.
        @Test func validJSONThatIsNotAnObjectIsAnInvalidRequest() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            for body in ["[1,2]", #""x""#, "42", "null", "true", "[]"] {
                let reply = try peer.exchange(body)
                #expect(Reply.code(reply) == -32600, "\(body) → \(reply)")
                #expect(Reply.kind(reply) == "invalid_request", "\(body) → \(reply)")
                #expect(Reply.isNullID(reply))
            }
            #expect(Reply.result(try peer.exchange(SocketFraming.listRequest)) != nil)
        }

        @Test func envelopeErrorsHaveTheirCodes() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            let cases: [(body: String, code: Int, kind: String, id: String)] = [
                (#"{"jsonrpc":"2.0","id":1}"#, -32600, "invalid_request", "1"),
                (#"{"jsonrpc":"2.0","id":2,"method":7}"#, -32600, "invalid_request", "2"),
                (#"{"jsonrpc":"1.0","id":3,"method":"task.list"}"#, -32600, "invalid_request", "3"),
                (#"{"id":4,"method":"task.list"}"#, -32600, "invalid_request", "4"),
                (#"{"jsonrpc":2.0,"id":5,"method":"task.list"}"#, -32600, "invalid_request", "5"),
                (#"{"jsonrpc":"2.0","id":{"a":1},"method":"task.list"}"#, -32600, "invalid_request", "null"),
                (#"{"jsonrpc":"2.0","id":[1],"method":"task.list"}"#, -32600, "invalid_request", "null"),
                (#"{"jsonrpc":"2.0","id":true,"method":"task.list"}"#, -32600, "invalid_request", "null"),
                (#"{"jsonrpc":"2.0","id":9,"method":"task.frobnicate"}"#, -32601, "method_not_found", "9"),
                (#"{"jsonrpc":"2.0","id":"x","method":"TASK.LIST"}"#, -32601, "method_not_found", "\"x\""),
            ]
            for item in cases {
                let reply = try peer.exchange(item.body)
                #expect(Reply.code(reply) == item.code, "\(item.body) → \(reply)")
                #expect(Reply.kind(reply) == item.kind, "\(item.body) → \(reply)")
                #expect(Reply.idText(reply) == item.id, "\(item.body) → \(reply)")
                #expect(reply["result"] == nil)
                #expect(Reply.error(reply)?["message"] is String)
            }
            #expect(Reply.result(try peer.exchange(SocketFraming.listRequest)) != nil)
        }

        @Test func wrongParamTypesAreInvalidParams() throws {
            let daemon = try TestDaemon()
            let id = try daemon.create("existing")
            let peer = try WirePeer(daemon.socket)
            let cases: [(method: String, params: String)] = [
                ("task.create", #"{"title":5}"#),
                ("task.create", #"{"title":"x","priority":"high"}"#),
                ("task.create", #"{"title":"x","priority":1.5}"#),
                ("task.create", #"{"title":"x","parents":"t_1"}"#),
                ("task.create", #"{"title":"x","triage":"yes"}"#),
                ("task.create", #"{"body":"no title"}"#),
                ("task.create", "[]"),
                ("task.create", #""title""#),
                ("task.create", "null"),
                ("task.get", #"{"id":42}"#),
                ("task.get", #"{"id":"\#(id)","events":"all"}"#),
                ("task.list", #"{"limit":"ten"}"#),
                ("task.list", #"{"archived":1}"#),
                ("task.claim", #"{"id":"\#(id)","ttl":"long"}"#),
                ("events.watch", #"{"kinds":"created"}"#),
                ("events.unwatch", #"{"subscription":"one"}"#),
                ("notify.ack", #"{"target":{"task_id":"\#(id)"},"cursor":1}"#),
            ]
            for (index, item) in cases.enumerated() {
                let reply = try peer.call(item.method, id: index, params: item.params)
                #expect(Reply.code(reply) == -32602, "\(item.method) \(item.params) → \(reply)")
                #expect(Reply.kind(reply) == "invalid_params", "\(item.method) \(item.params) → \(reply)")
                #expect(Reply.idText(reply) == "\(index)")
            }
            // Missing params where they are required.
            let missing = try peer.exchange(#"{"jsonrpc":"2.0","id":99,"method":"task.get"}"#)
            #expect(Reply.code(missing) == -32602)
            // Values of the right type that the board refuses are application errors.
            let blank = try peer.call("task.create", id: 100, params: #"{"title":"   "}"#)
            #expect(Reply.code(blank) == -32000)
            #expect(Reply.kind(blank) == "invalid_argument")
            let status = try peer.call("task.list", id: 101, params: #"{"status":"bogus"}"#)
            #expect(Reply.kind(status) == "invalid_argument")
            let missingTask = try peer.call("task.get", id: 102, params: #"{"id":"t_0000000000000000"}"#)
            #expect(Reply.code(missingTask) == -32000)
            #expect(Reply.kind(missingTask) == "not_found")
            #expect(Reply.details(missingTask)?["id"] as? String == "t_0000000000000000")
            // Unknown members are ignored (evolve, never break), and optional params may be absent or null.
            #expect(Reply.result(try peer.call("task.list", id: 103, params: #"{"future_member":{"x":1}}"#)) != nil)
            #expect(Reply.result(try peer.call("task.list", id: 104, params: "null")) != nil)
            #expect(Reply.result(try peer.exchange(#"{"jsonrpc":"2.0","id":105,"method":"board.stats"}"#)) != nil)
        }

        @Test func notificationsAreExecutedButNeverAnswered() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            try peer.send(#"{"jsonrpc":"2.0","method":"task.create","params":{"title":"fire and forget"}}"#)
            try peer.send(#"{"jsonrpc":"2.0","method":"task.nope"}"#)
            try peer.send(#"{"jsonrpc":"2.0","method":"task.get"}"#)
            try peer.send(#"{"jsonrpc":"2.0","method":"task.get","params":{"id":"t_0000000000000000"}}"#)
            try peer.send(#"{"jsonrpc":"2.0","method":"task.create","params":{"title":"second"}}"#)
            // The first frame back answers this request: none of the notifications above got a reply.
            let reply = try peer.exchange(#"{"jsonrpc":"2.0","id":"sync","method":"task.list"}"#)
            #expect(Reply.idText(reply) == "\"sync\"", "a notification was answered: \(reply)")
            let titles = (Reply.result(reply)?["tasks"] as? [[String: Any]])?.compactMap { $0["title"] as? String }
            #expect(Set(titles ?? []) == ["fire and forget", "second"])
        }

        @Test func idsAreEchoedUnchanged() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            for id in [#""abc""#, "0", "-7", "9007199254740991", "1.5", "null", #""""#] {
                let reply = try peer.exchange(#"{"jsonrpc":"2.0","id":\#(id),"method":"system.hello"}"#)
                #expect(Reply.idText(reply) == id, "id \(id) → \(reply)")
                #expect(Reply.result(reply) != nil)
            }
        }

        @Test func helloNegotiatesTheMajorVersion() throws {
            let daemon = try TestDaemon()
            let peer = try WirePeer(daemon.socket)
            let unsupported = try peer.call("system.hello", id: 1, params: #"{"client":"future","protocol_major":2}"#)
            #expect(Reply.code(unsupported) == -32000)
            #expect(Reply.kind(unsupported) == "unsupported_version")
            #expect((Reply.details(unsupported)?["supported_major"] as? NSNumber)?.intValue == ProtocolVersion.major)

            let hello = try #require(Reply.result(try peer.call("system.hello", id: 2, params: #"{"protocol_major":1}"#)))
            #expect((hello["protocol_major"] as? NSNumber)?.intValue == 1)
            #expect(hello["protocol_version"] as? String == ProtocolVersion.string)
            #expect((hello["pid"] as? NSNumber)?.int32Value == daemon.pid)
            #expect((hello["capabilities"] as? [String])?.contains("events.watch") == true)
            // hello is optional and so are its params.
            #expect(Reply.result(try peer.exchange(#"{"jsonrpc":"2.0","id":3,"method":"system.hello"}"#)) != nil)

            // The typed client surfaces the kind too.
            let client = try daemon.client()
            do {
                let _: HelloResult = try client.call(.systemHello, HelloParams(client: "test", protocolMajor: 2))
                Issue.record("protocol_major 2 was accepted")
            } catch ClientError.server(let error) {
                #expect(error.kind == .unsupportedVersion)
            }
        }

        @Test func watchRepliesFirstThenReplaysThenPushesLive() throws {
            let daemon = try TestDaemon()
            let first = try daemon.create("before the watch")
            let peer = try WirePeer(daemon.socket)
            let reply = try peer.call("events.watch", id: 1, params: #"{"since":0}"#)
            let result = try #require(Reply.result(reply), "\(reply)")
            let subscription = try #require((result["subscription"] as? NSNumber)?.intValue)
            let cursor = try #require((result["cursor"] as? NSNumber)?.int64Value)
            #expect(cursor >= 1)
            let replayed = try #require(try peer.receive())
            #expect(replayed["method"] as? String == PushMethod.event)
            #expect(replayed["id"] == nil)
            let params = try #require(replayed["params"] as? [String: Any])
            #expect((params["subscription"] as? NSNumber)?.intValue == subscription)
            let event = try #require(params["event"] as? [String: Any])
            #expect(event["task_id"] as? String == first)
            #expect(event["kind"] as? String == EventKind.created)

            let second = try daemon.create("after the watch")
            let live = try #require(try peer.receive())
            let liveEvent = try #require((live["params"] as? [String: Any])?["event"] as? [String: Any])
            #expect(liveEvent["task_id"] as? String == second)
            #expect(((liveEvent["id"] as? NSNumber)?.int64Value ?? 0) > cursor)

            // Requests still work on the watching connection; unwatch ends it.
            let unwatch = try peer.call("events.unwatch", id: 2, params: #"{"subscription":\#(subscription)}"#)
            #expect(Reply.result(unwatch)?["changed"] as? Bool == true)
            let again = try peer.call("events.unwatch", id: 3, params: #"{"subscription":\#(subscription)}"#)
            #expect(Reply.kind(again) == "not_found")
        }
    }
}
