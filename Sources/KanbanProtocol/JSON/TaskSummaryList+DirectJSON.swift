/// `TaskSummaryListResult` on the streaming coders, without Codable's containers.
///
/// Why: a `kanbanctl list` of 10k rows spent most of its time in Codable's per-row machinery, not
/// in JSON: an existential container box, a generic-metadata lookup and a coding-path node per
/// row and per member (about 1 µs per row to encode in kanband and 1.4 µs to decode in kanbanctl,
/// docs/PERFORMANCE.md). On `StreamingJSONEncoder` and `StreamingJSONDecoder` the list is written
/// and read here, member by member; with any other coder (Foundation's, in tests and adapters) it
/// goes through the containers as a synthesized conformance would. Both paths produce and accept
/// the same JSON: `TaskSummaryDirectJSONTests` checks each against Foundation's coders.
extension TaskSummaryListResult {

    public init(from decoder: any Decoder) throws {
        if let tape = decoder as? TapeDecoder {
            self.init(tasks: try TaskSummary.directList(tape))
        } else {
            let container = try decoder.container(keyedBy: ListMember.self)
            self.init(tasks: try container.decode([TaskSummary].self, forKey: .tasks))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        if let stream = encoder as? StreamEncoder, let sink = stream.directSink() {
            sink.bytes.append(contentsOf: #"{"tasks":["#.utf8)
            for (index, task) in tasks.enumerated() {
                if index > 0 { sink.bytes.append(UInt8(ascii: ",")) }
                task.writeDirect(to: sink)
            }
            sink.bytes.append(contentsOf: "]}".utf8)
        } else {
            var container = encoder.container(keyedBy: ListMember.self)
            try container.encode(tasks, forKey: .tasks)
        }
    }
}

extension TaskSummary {
    /// Members in declaration order, nil optionals omitted: what the synthesized `encode(to:)` writes.
    func writeDirect(to sink: JSONSink) {
        sink.bytes.append(contentsOf: #"{"id":"#.utf8)
        sink.string(id)
        sink.bytes.append(contentsOf: #","title":"#.utf8)
        sink.string(title)
        sink.bytes.append(contentsOf: #","status":"#.utf8)
        sink.string(status.rawValue)
        if let assignee {
            sink.bytes.append(contentsOf: #","assignee":"#.utf8)
            sink.string(assignee)
        }
        if let tenant {
            sink.bytes.append(contentsOf: #","tenant":"#.utf8)
            sink.string(tenant)
        }
        sink.bytes.append(contentsOf: #","priority":"#.utf8)
        sink.integer(priority)
        sink.bytes.append(UInt8(ascii: "}"))
    }

    /// The `tasks` array of the object at the decoder's node, as the synthesized decoding would
    /// read it: required members must be present and typed, optional ones may be absent or null,
    /// unknown members are skipped. Duplicate member names are not valid input (PROTOCOL.md); here
    /// the first of them counts.
    static func directList(_ decoder: TapeDecoder) throws -> [TaskSummary] {
        let tape = decoder.tape
        let root = decoder.node
        guard tape.nodes[root].kind == .object else {
            throw mismatch([String: Any].self, at: root, in: tape, path: decoder.path, key: nil)
        }
        guard let array = tape.member(of: root, named: "tasks") else {
            throw DecodingError.keyNotFound(
                ListMember.tasks,
                .init(codingPath: CodingPathNode.path(decoder.path), debugDescription: "no value for key \"tasks\""))
        }
        let tasksPath = CodingPathNode(parent: decoder.path, key: ListMember.tasks)
        guard tape.nodes[array].kind == .array else {
            throw mismatch([TaskSummary].self, at: array, in: tape, path: decoder.path, key: ListMember.tasks)
        }
        var tasks: [TaskSummary] = []
        tasks.reserveCapacity(Int(tape.nodes[array].count))
        var element = array + 1
        let end = Int(tape.nodes[array].end)
        while element < end {
            tasks.append(try TaskSummary(direct: tape, node: element, path: tasksPath, index: tasks.count))
            element = tape.next(after: element)
        }
        return tasks
    }

    private init(direct tape: JSONTape, node: Int, path: CodingPathNode, index: Int) throws {
        let elementKey = IndexKey(index)
        guard tape.nodes[node].kind == .object else {
            throw mismatch(TaskSummary.self, at: node, in: tape, path: path, key: elementKey)
        }
        var id: String?, title: String?, status: TaskStatus?, assignee: String??, tenant: String??, priority: Int?
        var member = node + 1
        let end = Int(tape.nodes[node].end)
        while member < end {
            let value = member + 1
            // Each member's value is read once; a duplicate member after it is ignored.
            func here() -> CodingPathNode { CodingPathNode(parent: path, key: elementKey) }
            if id == nil, tape.keyEquals(member, "id") {
                id = try tape.decodeString(at: value, path: here(), key: Member.id)
            } else if title == nil, tape.keyEquals(member, "title") {
                title = try tape.decodeString(at: value, path: here(), key: Member.title)
            } else if status == nil, tape.keyEquals(member, "status") {
                let raw = try tape.decodeString(at: value, path: here(), key: Member.status)
                guard let known = TaskStatus(rawValue: raw) else {
                    throw DecodingError.dataCorrupted(
                        .init(
                            codingPath: CodingPathNode.path(here(), appending: Member.status),
                            debugDescription: "Cannot initialize TaskStatus from invalid String value \(raw)"))
                }
                status = known
            } else if assignee == nil, tape.keyEquals(member, "assignee") {
                assignee = .some(tape.nodes[value].kind == .null ? nil : try tape.decodeString(at: value, path: here(), key: Member.assignee))
            } else if tenant == nil, tape.keyEquals(member, "tenant") {
                tenant = .some(tape.nodes[value].kind == .null ? nil : try tape.decodeString(at: value, path: here(), key: Member.tenant))
            } else if priority == nil, tape.keyEquals(member, "priority") {
                priority = try tape.decodeInteger(Int.self, at: value, path: here(), key: Member.priority)
            }
            member = tape.next(after: value)
        }
        func missing(_ key: Member) -> DecodingError {
            .keyNotFound(
                key,
                .init(
                    codingPath: CodingPathNode.path(CodingPathNode(parent: path, key: elementKey)),
                    debugDescription: "no value for key \"\(key.stringValue)\""))
        }
        guard let id else { throw missing(.id) }
        guard let title else { throw missing(.title) }
        guard let status else { throw missing(.status) }
        guard let priority else { throw missing(.priority) }
        self.init(id: id, title: title, status: status, assignee: assignee ?? nil, tenant: tenant ?? nil, priority: priority)
    }

    /// Member names, for error paths.
    private enum Member: String, CodingKey { case id, title, status, assignee, tenant, priority }
}

/// The list's one member.
private enum ListMember: String, CodingKey { case tasks }
