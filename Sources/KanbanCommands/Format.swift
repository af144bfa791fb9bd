#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KanbanProtocol

/// Text forms shared by every command (and so by the chat gateway).
enum Format {
    static func icon(_ status: TaskStatus) -> String {
        switch status {
        case .triage: return "?"
        case .todo: return "◻"
        case .ready: return "▶"
        case .running: return "●"
        case .blocked: return "⊘"
        case .done: return "✓"
        case .archived: return "—"
        }
    }

    /// `YYYY-MM-DD HH:MM` in local time.
    static func time(_ seconds: Double?) -> String {
        guard let seconds else { return "-" }
        var time = time_t(seconds)
        var parts = tm()
        localtime_r(&time, &parts)
        func pad(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday)) \(pad(parts.tm_hour)):\(pad(parts.tm_min))"
    }

    static func padded(_ text: String, _ width: Int) -> String {
        var line = ""
        appendPadded(&line, text, width)
        return line
    }

    /// Appends `text` and spaces up to `width` characters. ASCII text (ids, statuses, most
    /// names) is measured by its bytes, without walking grapheme clusters.
    static func appendPadded(_ line: inout String, _ text: String, _ width: Int) {
        line += text
        let utf8 = text.utf8
        let count = utf8.count < width && utf8.allSatisfy({ $0 < 0x80 }) ? utf8.count : text.count
        if count < width { line += spaces.prefix(width - count) }
    }

    private static let spaces = String(repeating: " ", count: 64)

    /// The rows of `list`, one per line, in one string (no per-row strings to join).
    static func taskLines(_ tasks: [TaskSummary]) -> String {
        var text = ""
        text.reserveCapacity(tasks.reduce(0) { $0 + $1.id.utf8.count + $1.title.utf8.count + 49 })
        for (index, task) in tasks.enumerated() {
            if index > 0 { text += "\n" }
            appendTaskLine(&text, task)
        }
        return text
    }

    /// One row of `list`, appended in place: a 10k-row list spent a quarter of its client time in
    /// interpolation, padding and joining per-row strings.
    static func appendTaskLine(_ line: inout String, _ task: TaskSummary) {
        line += icon(task.status)
        line += " "
        line += task.id
        line += "  "
        appendPadded(&line, task.status.rawValue, 8)
        line += "  "
        appendPadded(&line, task.assignee ?? "(unassigned)", 20)
        if let tenant = task.tenant {
            line += " ["
            line += tenant
            line += "]"
        }
        if task.priority != 0 {
            line += " P"
            line += String(task.priority)
        }
        line += "  "
        line += task.title
    }

    static func eventLine(_ event: EventInfo, withTask: Bool = false, assignee: String? = nil) -> String {
        var line = "[\(time(event.createdAt))] "
        if withTask { line += padded(event.taskID, 18) + " " }
        line += padded(event.kind, 18)
        if let payload = event.payload, payload != .null { line += " " + payload.compactText }
        return line
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total)s" }
        if total < 3600 { return "\(total / 60)m\(total % 60)s" }
        if total < 86400 { return "\(total / 3600)h\((total % 3600) / 60)m" }
        return "\(total / 86400)d\((total % 86400) / 3600)h"
    }

    /// Pretty JSON with sorted keys: the stable shape scripts read.
    static func json<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return "null" }
        return String(decoding: data, as: UTF8.self)
    }
}
