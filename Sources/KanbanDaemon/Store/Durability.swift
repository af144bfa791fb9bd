/// What an acknowledged write survives. Both modes survive a crash of kanband itself (a commit is
/// in the WAL before the reply is sent); only `full` survives the machine losing power, at the cost
/// of an fsync per commit — which group commit shares between every write that arrived meanwhile.
public enum Durability: String, Sendable, CaseIterable {
    case full
    case normal

    var synchronousPragma: String { self == .full ? "FULL" : "NORMAL" }

    /// What `PRAGMA synchronous` reads back when the mode is in effect.
    var synchronousLevel: Int { self == .full ? 2 : 1 }
}
