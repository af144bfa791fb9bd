import Foundation

// kanban-bench: every figure next to a baseline measured in this same run, on this machine.
// Usage: kanban-bench [--quick] [--json] [--only rpc,lifecycle,cli,dispatch,fanout,scale]
//        kanban-bench echo-server PATH   (the round-trip baseline, started by the rpc suite)
//        kanban-bench load SOCKET CLIENTS SECONDS   (lifecycle load on a running kanband, to profile it)
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "echo-server", arguments.count == 2 { EchoServer.run(path: arguments[1]) }
if arguments.first == "load", arguments.count == 4, let clients = Int(arguments[2]), let seconds = Double(arguments[3]) {
    signal(SIGPIPE, SIG_IGN)
    let before = Measurements.writerHealth(socket: arguments[1])
    let rate = try Measurements.daemonCycles(socket: arguments[1], clients: clients, seconds: seconds)
    let batch = Measurements.writesPerCommit(before, Measurements.writerHealth(socket: arguments[1]))
    print(String(format: "%.0f cycles/s", rate) + batch)
    exit(0)
}
if arguments.contains("--help") || arguments.contains("-h") {
    print("""
        usage: kanban-bench [--quick] [--json] [--only SUITES]
               kanban-bench load SOCKET CLIENTS SECONDS
          suites: rpc, lifecycle, cli, dispatch, fanout, scale (default: all)
          load: create → claim → complete on CLIENTS connections to a running kanband, for profiling
          Build release first: swift build -c release && .build/release/kanban-bench
        """)
    exit(0)
}
let quick = arguments.contains("--quick")
let json = arguments.contains("--json")
var only: Set<String>?
if let index = arguments.firstIndex(of: "--only"), index + 1 < arguments.count {
    only = Set(arguments[index + 1].split(separator: ",").map(String.init))
}
signal(SIGPIPE, SIG_IGN)
let suites: [(String, (Bool) throws -> [Row])] = [
    ("rpc", Measurements.rpc), ("lifecycle", Measurements.lifecycle), ("cli", Measurements.cli),
    ("dispatch", Measurements.dispatch), ("fanout", Measurements.fanout), ("scale", Scale.run),
]
var rows: [Row] = []
var failed = false
for (name, suite) in suites where only?.contains(name) ?? true {
    if !json { FileHandle.standardError.write(Data("running \(name)…\n".utf8)) }
    do {
        rows += try suite(quick)
    } catch {
        failed = true
        FileHandle.standardError.write(Data("\(name) failed: \(error)\n".utf8))
    }
}
if json {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    print(String(decoding: try encoder.encode(rows), as: UTF8.self))
} else {
    func fmt(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "-" }
        return value >= 100 ? String(format: "%.0f", value) : String(format: "%.2f", value)
    }
    func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }
    print(pad("measurement", 66) + pad("value", 14) + pad("baseline", 26) + pad("ratio", 8) + pad("target", 28) + "ok")
    for row in rows {
        let baseline = row.baselineName.map { "\(fmt(row.baseline)) (\($0))" } ?? "-"
        let verdict = row.pass.map { $0 ? "yes" : "NO" } ?? ""
        print(pad(row.name, 66) + pad("\(fmt(row.value)) \(row.unit)", 14) + pad(baseline, 26) + pad(fmt(row.ratio), 8)
            + pad(row.target, 28) + verdict)
    }
}
exit(failed ? 1 : 0)
