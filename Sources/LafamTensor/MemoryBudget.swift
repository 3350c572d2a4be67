import Foundation

/// The most memory lafam may allocate for one thing sized by a model or an input: a tensor read
/// from a file, a constant made at load, the live values of a run (the plan's peak, computed
/// before it starts), a kernel's scratch space, a decoded image, an array read from `.npy`.
/// Every such size is checked against the budget in force before the allocation, and a size
/// over it is refused (`LafamError.overMemoryBudget`) instead of failing to allocate, or
/// swapping, later. It bounds what the inputs make lafam allocate, not lafam's own bookkeeping.
///
/// The budget in force is the task-local `MemoryBudget.current`: a model sets its own
/// (`ModelOptions.memoryBudget`) around loading and running; the default is half the machine's
/// physical memory.
public struct MemoryBudget: Sendable, Equatable, CustomStringConvertible {
    /// The most bytes one allocation may take (never negative).
    public let bytes: Int

    /// A budget of `bytes` bytes; a negative number is taken as 0.
    public init(bytes: Int) { self.bytes = max(0, bytes) }

    /// Half the physical memory (at least 256 MB).
    public static let `default` = MemoryBudget(bytes: max(256 << 20, Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)))

    /// The budget in force on this task or thread.
    @TaskLocal public static var current = MemoryBudget.default

    /// The budget in readable units, such as "8.0 GB".
    public var description: String { Sizes.describe(bytes: bytes) }

    /// Throws `LafamError.overMemoryBudget` when `bytes` exceed the budget; `what` says what
    /// would have needed them ("tensor 'w' of shape [..]", "the output of node 'conv1'").
    public func check(_ bytes: Int, for what: @autoclosure () -> String) throws {
        guard bytes > self.bytes else { return }
        throw LafamError.overMemoryBudget(what: what(), bytes: bytes, budget: self.bytes)
    }

    /// Checks `count` elements of `width` bytes (and that their size is computable at all).
    public func check(count: Int, width: Int, for what: @autoclosure () -> String) throws {
        let bytes: Int
        do {
            bytes = try Sizes.bytes(count: count, width: width)
        } catch {
            throw LafamError.overMemoryBudget(what: what(), bytes: .max, budget: self.bytes)
        }
        try check(bytes, for: what())
    }

    /// Parses a size as people write it: `8G`, `512M`, `64K`, `1.5G`, or a number of bytes.
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("TB", 0x1p40), ("GB", 0x1p30), ("MB", 0x1p20), ("KB", 0x1p10),
                                         ("T", 0x1p40), ("G", 0x1p30), ("M", 0x1p20), ("K", 0x1p10), ("B", 1)]
        var number = Substring(t), scale = 1.0
        for (suffix, factor) in units where t.hasSuffix(suffix) {
            number = t.dropLast(suffix.count)
            scale = factor
            break
        }
        guard let value = Double(number), value.isFinite, value > 0, value * scale < 0x1p62 else { return nil }
        self.init(bytes: Int(value * scale))
    }
}
