/// `TaskDetail` written member by member on the streaming encoder (the `task.get` reply), the
/// same way and for the same reason as `TaskInfo` (TaskInfo+DirectJSON.swift): Codable's keyed
/// containers cost more than the JSON. Its events and runs are written through the containers
/// (a handful per reply); the task, its links, comments and age directly. Decoding takes the
/// containers (`TaskDetail.init(from:)`).
extension TaskDetail {
    public func encode(to encoder: any Encoder) throws {
        if let stream = encoder as? StreamEncoder, let sink = stream.directSink() {
            try writeDirect(to: sink)
            return
        }
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(task, forKey: .task)
        try container.encode(parents, forKey: .parents)
        try container.encode(children, forKey: .children)
        try container.encode(comments, forKey: .comments)
        try container.encode(commentCount, forKey: .commentCount)
        try container.encode(events, forKey: .events)
        try container.encode(eventCount, forKey: .eventCount)
        try container.encode(runs, forKey: .runs)
        try container.encode(age, forKey: .age)
    }

    /// Members in declaration order, as the containers write them.
    func writeDirect(to sink: JSONSink) throws {
        func strings(_ values: [String]) {
            sink.bytes.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { sink.bytes.append(UInt8(ascii: ",")) }
                sink.string(value)
            }
            sink.bytes.append(UInt8(ascii: "]"))
        }
        sink.bytes.append(contentsOf: #"{"task":"#.utf8)
        try task.writeDirect(to: sink)
        sink.bytes.append(contentsOf: #","parents":"#.utf8)
        strings(parents)
        sink.bytes.append(contentsOf: #","children":"#.utf8)
        strings(children)
        sink.bytes.append(contentsOf: #","comments":["#.utf8)
        for (index, comment) in comments.enumerated() {
            if index > 0 { sink.bytes.append(UInt8(ascii: ",")) }
            sink.bytes.append(contentsOf: #"{"id":"#.utf8)
            sink.integer(comment.id)
            sink.bytes.append(contentsOf: #","task_id":"#.utf8)
            sink.string(comment.taskID)
            sink.bytes.append(contentsOf: #","author":"#.utf8)
            sink.string(comment.author)
            sink.bytes.append(contentsOf: #","body":"#.utf8)
            sink.string(comment.body)
            sink.bytes.append(contentsOf: #","created_at":"#.utf8)
            try sink.double(comment.createdAt)
            sink.bytes.append(UInt8(ascii: "}"))
        }
        sink.bytes.append(contentsOf: #"],"comment_count":"#.utf8)
        sink.integer(commentCount)
        sink.bytes.append(contentsOf: #","events":"#.utf8)
        try sink.encodeValue(events)
        sink.bytes.append(contentsOf: #","event_count":"#.utf8)
        sink.integer(eventCount)
        sink.bytes.append(contentsOf: #","runs":"#.utf8)
        try sink.encodeValue(runs)
        sink.bytes.append(contentsOf: #","age":{"created_age_seconds":"#.utf8)
        try sink.double(age.createdAgeSeconds)
        if let started = age.startedAgeSeconds {
            sink.bytes.append(contentsOf: #","started_age_seconds":"#.utf8)
            try sink.double(started)
        }
        if let total = age.timeToCompleteSeconds {
            sink.bytes.append(contentsOf: #","time_to_complete_seconds":"#.utf8)
            try sink.double(total)
        }
        sink.bytes.append(contentsOf: "}}".utf8)
    }
}
