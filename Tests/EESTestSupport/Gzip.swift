import Foundation

/// gzip made by gzip(1), not by the code under test.
public func gzip(_ data: [UInt8], level: Int = 6) throws -> [UInt8] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/gzip")
    p.arguments = ["-c", "-n", "-\(level)"]
    let input = Pipe(), output = Pipe()
    p.standardInput = input
    p.standardOutput = output
    try p.run()
    // Write from another thread: a large input would otherwise fill both pipes and deadlock.
    let writer = Thread {
        input.fileHandleForWriting.write(Data(data))
        try? input.fileHandleForWriting.close()
    }
    writer.start()
    let out = output.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw GzipToolError(status: p.terminationStatus) }
    return Array(out)
}

public struct GzipToolError: Error, CustomStringConvertible {
    public let status: Int32
    public var description: String { "gzip(1) exited \(status)" }
}
