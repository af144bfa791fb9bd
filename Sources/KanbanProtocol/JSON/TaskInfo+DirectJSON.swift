/// `TaskInfo` on the streaming coders, without Codable's containers.
///
/// Why: nearly every reply carries a task (create, claim, complete, get, list), and each of its 21
/// members through a keyed container costs an existential box, a generic-metadata lookup and a
/// coding-path node — per task about 6 µs to encode in kanband and as much to decode in a client,
/// a third of a `task.get` reply's encoding (docs/PERFORMANCE.md). On `StreamingJSONEncoder` and
/// `StreamingJSONDecoder` a task is written and read here member by member; with any other coder
/// (Foundation's, in tests and adapters) it goes through the containers exactly as the
/// synthesized conformance did. Both paths produce and accept the same JSON:
/// `TaskInfoDirectJSONTests` checks each against Foundation's coders.
extension TaskInfo {
    public func encode(to encoder: any Encoder) throws {
        if let stream = encoder as? StreamEncoder, let sink = stream.directSink() {
            try writeDirect(to: sink)
            return
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(title, forKey: .title)
        try container.encodeIfPresent(body, forKey: .body)
        try container.encodeIfPresent(assignee, forKey: .assignee)
        try container.encode(status, forKey: .status)
        try container.encode(priority, forKey: .priority)
        try container.encodeIfPresent(tenant, forKey: .tenant)
        try container.encode(workspaceKind, forKey: .workspaceKind)
        try container.encodeIfPresent(workspacePath, forKey: .workspacePath)
        try container.encodeIfPresent(createdBy, forKey: .createdBy)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encodeIfPresent(readyAt, forKey: .readyAt)
        try container.encodeIfPresent(startedAt, forKey: .startedAt)
        try container.encodeIfPresent(completedAt, forKey: .completedAt)
        try container.encodeIfPresent(result, forKey: .result)
        try container.encodeIfPresent(blockReason, forKey: .blockReason)
        try container.encodeIfPresent(idempotencyKey, forKey: .idempotencyKey)
        try container.encodeIfPresent(currentRunID, forKey: .currentRunID)
        try container.encodeIfPresent(claimExpires, forKey: .claimExpires)
        try container.encode(consecutiveFailures, forKey: .consecutiveFailures)
        try container.encodeIfPresent(lastFailureError, forKey: .lastFailureError)
    }

    public init(from decoder: any Decoder) throws {
        if let tape = decoder as? TapeDecoder {
            try self.init(direct: tape)
            return
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            id: try container.decode(String.self, forKey: .id),
            title: try container.decode(String.self, forKey: .title),
            body: try container.decodeIfPresent(String.self, forKey: .body),
            assignee: try container.decodeIfPresent(String.self, forKey: .assignee),
            status: try container.decode(TaskStatus.self, forKey: .status),
            priority: try container.decode(Int.self, forKey: .priority),
            tenant: try container.decodeIfPresent(String.self, forKey: .tenant),
            workspaceKind: try container.decode(String.self, forKey: .workspaceKind),
            workspacePath: try container.decodeIfPresent(String.self, forKey: .workspacePath),
            createdBy: try container.decodeIfPresent(String.self, forKey: .createdBy),
            createdAt: try container.decode(Double.self, forKey: .createdAt),
            readyAt: try container.decodeIfPresent(Double.self, forKey: .readyAt),
            startedAt: try container.decodeIfPresent(Double.self, forKey: .startedAt),
            completedAt: try container.decodeIfPresent(Double.self, forKey: .completedAt),
            result: try container.decodeIfPresent(String.self, forKey: .result),
            blockReason: try container.decodeIfPresent(String.self, forKey: .blockReason),
            idempotencyKey: try container.decodeIfPresent(String.self, forKey: .idempotencyKey),
            currentRunID: try container.decodeIfPresent(Int64.self, forKey: .currentRunID),
            claimExpires: try container.decodeIfPresent(Double.self, forKey: .claimExpires),
            consecutiveFailures: try container.decode(Int.self, forKey: .consecutiveFailures),
            lastFailureError: try container.decodeIfPresent(String.self, forKey: .lastFailureError))
    }

    /// Members in declaration order, nil optionals omitted: what the containers write.
    func writeDirect(to sink: JSONSink) throws {
        func member(_ name: StaticString) {
            sink.bytes.append(UInt8(ascii: ","))
            sink.bytes.append(UInt8(ascii: "\""))
            sink.bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            sink.bytes.append(contentsOf: #"":"#.utf8)
        }
        func string(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            member(name)
            sink.string(value)
        }
        func double(_ name: StaticString, _ value: Double?) throws {
            guard let value else { return }
            member(name)
            try sink.double(value)
        }
        sink.bytes.append(contentsOf: #"{"id":"#.utf8)
        sink.string(id)
        string("title", title)
        string("body", body)
        string("assignee", assignee)
        string("status", status.rawValue)
        member("priority")
        sink.integer(priority)
        string("tenant", tenant)
        string("workspace_kind", workspaceKind)
        string("workspace_path", workspacePath)
        string("created_by", createdBy)
        try double("created_at", createdAt)
        try double("ready_at", readyAt)
        try double("started_at", startedAt)
        try double("completed_at", completedAt)
        string("result", result)
        string("block_reason", blockReason)
        string("idempotency_key", idempotencyKey)
        if let currentRunID {
            member("current_run_id")
            sink.integer(currentRunID)
        }
        try double("claim_expires", claimExpires)
        member("consecutive_failures")
        sink.integer(consecutiveFailures)
        string("last_failure_error", lastFailureError)
        sink.bytes.append(UInt8(ascii: "}"))
    }

    /// Reads the object at the decoder's node as the containers would: required members present
    /// and typed, optional ones absent or null, unknown members skipped. Duplicate member names
    /// are not valid input (PROTOCOL.md); here the first of them counts.
    private init(direct decoder: TapeDecoder) throws {
        let tape = decoder.tape
        let node = decoder.node
        let path = decoder.path
        guard tape.nodes[node].kind == .object else {
            throw mismatch([String: Any].self, at: node, in: tape, path: path, key: nil)
        }
        // The value node of each member, in `Member.allCases` order.
        var values = [Int](repeating: -1, count: Member.allCases.count)
        var member = node + 1
        var guess = 0
        let end = Int(tape.nodes[node].end)
        while member < end {
            // Members usually come in the order this type writes them: try the next one first.
            for offset in 0..<Member.names.count {
                let index = (guess + offset) % Member.names.count
                if tape.keyEquals(member, Member.names[index]) {
                    if values[index] < 0 { values[index] = member + 1 }
                    guess = index + 1
                    break
                }
            }
            member = tape.next(after: member + 1)
        }
        func required(_ key: Member) throws -> Int {
            let value = values[key.position]
            guard value >= 0 else {
                throw DecodingError.keyNotFound(
                    key,
                    .init(codingPath: CodingPathNode.path(path), debugDescription: "no value for key \"\(key.stringValue)\""))
            }
            return value
        }
        /// The value node of an optional member, nil when absent or null.
        func present(_ key: Member) -> Int? {
            let value = values[key.position]
            return value < 0 || tape.nodes[value].kind == .null ? nil : value
        }
        func string(_ key: Member) throws -> String {
            try tape.decodeString(at: try required(key), path: path, key: key)
        }
        func optionalString(_ key: Member) throws -> String? {
            try present(key).map { try tape.decodeString(at: $0, path: path, key: key) }
        }
        func optionalDouble(_ key: Member) throws -> Double? {
            try present(key).map { try tape.decodeDouble(at: $0, path: path, key: key) }
        }
        func status() throws -> TaskStatus {
            let raw = try string(.status)
            guard let status = TaskStatus(rawValue: raw) else {
                throw DecodingError.dataCorrupted(
                    .init(
                        codingPath: CodingPathNode.path(path, appending: Member.status),
                        debugDescription: "Cannot initialize TaskStatus from invalid String value \(raw)"))
            }
            return status
        }
        // Arguments are read in member order, so the first bad member is the one reported, as
        // with the containers.
        self.init(
            id: try string(.id), title: try string(.title), body: try optionalString(.body),
            assignee: try optionalString(.assignee), status: try status(),
            priority: try tape.decodeInteger(Int.self, at: try required(.priority), path: path, key: Member.priority),
            tenant: try optionalString(.tenant), workspaceKind: try string(.workspaceKind),
            workspacePath: try optionalString(.workspacePath), createdBy: try optionalString(.createdBy),
            createdAt: try tape.decodeDouble(at: try required(.createdAt), path: path, key: Member.createdAt),
            readyAt: try optionalDouble(.readyAt), startedAt: try optionalDouble(.startedAt),
            completedAt: try optionalDouble(.completedAt), result: try optionalString(.result),
            blockReason: try optionalString(.blockReason), idempotencyKey: try optionalString(.idempotencyKey),
            currentRunID: try present(.currentRunID).map {
                try tape.decodeInteger(Int64.self, at: $0, path: path, key: Member.currentRunID)
            },
            claimExpires: try optionalDouble(.claimExpires),
            consecutiveFailures: try tape.decodeInteger(
                Int.self, at: try required(.consecutiveFailures), path: path, key: Member.consecutiveFailures),
            lastFailureError: try optionalString(.lastFailureError))
    }

    /// The members in the order they are written, for lookups and error paths.
    private enum Member: Int, CaseIterable, CodingKey {
        case id, title, body, assignee, status, priority, tenant, workspaceKind, workspacePath, createdBy, createdAt
        case readyAt, startedAt, completedAt, result, blockReason, idempotencyKey, currentRunID, claimExpires
        case consecutiveFailures, lastFailureError

        /// Wire names as static strings, for byte comparison with the tape's keys (case order).
        static let names: [StaticString] = [
            "id", "title", "body", "assignee", "status", "priority", "tenant", "workspace_kind", "workspace_path",
            "created_by", "created_at", "ready_at", "started_at", "completed_at", "result", "block_reason",
            "idempotency_key", "current_run_id", "claim_expires", "consecutive_failures", "last_failure_error",
        ]

        var position: Int { rawValue }
        var stringValue: String { Member.names[rawValue].description }
        init?(stringValue: String) {
            guard let index = Member.names.firstIndex(where: { $0.description == stringValue }) else { return nil }
            self.init(rawValue: index)
        }
        var intValue: Int? { nil }
        init?(intValue: Int) { nil }
    }
}
