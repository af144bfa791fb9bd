@testable import KanbanCommands
import KanbanProtocol
import Testing

/// `list`'s table is built as bytes; its columns must still be padded by characters, not bytes.
@Suite struct FormatTests {
    @Test(arguments: ["bob", "(unassigned)", "a-very-long-assignee-name-indeed", "ébénisterie-équipe", "山田花子の担当者", "👩‍💻 dev"])
    func assigneeColumnIsPaddedToTwentyCharacters(name: String) {
        let line = Format.taskLines([TaskSummary(id: "t_1", title: "T", status: .ready, assignee: name)])
        let expected = "▶ t_1  ready     " + name + String(repeating: " ", count: max(0, 20 - name.count)) + "  T"
        #expect(line == expected)
        #expect(Format.padded(name, 20) == name + String(repeating: " ", count: max(0, 20 - name.count)))
    }

    @Test func rowsCarryTenantPriorityAndOneLinePerTask() {
        let text = Format.taskLines([
            TaskSummary(id: "t_1", title: "first", status: .todo, tenant: "acme", priority: -2),
            TaskSummary(id: "t_2", title: "second", status: .done),
        ])
        #expect(text == "◻ t_1  todo      (unassigned)         [acme] P-2  first\n✓ t_2  done      (unassigned)          second")
    }
}
