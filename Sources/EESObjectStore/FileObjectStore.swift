import EESCore
import Glibc

/// The `ObjectStore` port on a local directory (the embedded default, `file:///var/lib/ees/segments`):
/// each key is a file under `root`, each `/` a directory.
///
/// `put` is atomic and durable: the bytes go to a temporary file in the target's directory, which
/// is fsynced, renamed over the target, and then the directory is fsynced. Readers therefore see
/// the old object or the whole new one. Temporary files (`.ees-tmp-*`) never appear in `list`.
/// Keys follow `ObjectKey.validate`, and in addition no segment may exceed 255 bytes (`NAME_MAX`)
/// or start with `.ees-tmp-`. A key cannot be both an object and a directory (`a` and `a/b`).
public struct FileObjectStore: ObjectStore {
    /// The directory holding the objects. It must exist (see `createRootIfMissing()`); when it
    /// does not, calls fail with `.noSuchBucket`.
    public let root: String

    static let tempPrefix = ".ees-tmp-"
    static let segmentBytesMax = 255

    /// A store on `root`, an absolute directory path. Touches nothing.
    public init(root: String) {
        precondition(root.hasPrefix("/"), "FileObjectStore root must be an absolute path")
        self.root = root.count > 1 && root.hasSuffix("/") ? String(root.dropLast()) : root
    }

    /// Creates `root` and its missing parents (mode 0755), durably.
    public func createRootIfMissing() throws(ObjectStoreError) {
        var path = ""
        for component in root.split(separator: "/") {
            let parent = path.isEmpty ? "/" : path
            path += "/" + component
            try makeDirectory(path, parent: parent, key: nil)
        }
    }

    public func put(key: String, bytes: [UInt8]) throws(ObjectStoreError) {
        try validate(key)
        let target = path(of: key)
        let directory = parentPath(of: key)
        let temp = "\(directory)/\(FileObjectStore.tempPrefix)\(String(UInt64.random(in: 0...UInt64.max), radix: 16))"
        var fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if fd < 0 && errno == ENOENT {
            try makeParents(of: key)
            fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        }
        guard fd >= 0 else { throw failure("put", key, "create \(temp)", errno) }
        var renamed = false
        defer { if !renamed { unlink(temp) } }
        do throws(ObjectStoreError) {
            try writeAll(fd, bytes, key)
            guard fsync(fd) == 0 else { throw failure("put", key, "fsync \(temp)", errno) }
        } catch {
            close(fd)
            throw error
        }
        // close can report a deferred write error (NFS); an object is only stored if it succeeds.
        guard close(fd) == 0 else { throw failure("put", key, "close \(temp)", errno) }
        guard rename(temp, target) == 0 else { throw failure("put", key, "rename onto \(target)", errno) }
        renamed = true
        try syncDirectory(directory, key)
    }

    public func get(key: String) throws(ObjectStoreError) -> [UInt8]? {
        try validate(key)
        let file = path(of: key)
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let e = errno
            if e == ENOENT || e == ENOTDIR { try requireRoot("get", key); return nil }
            throw failure("get", key, "open \(file)", e)
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure("get", key, "fstat \(file)", errno) }
        guard info.st_mode & S_IFMT == S_IFREG else { return nil }   // a directory is not an object
        var out = [UInt8]()
        out.reserveCapacity(Int(info.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { return out }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("get", key, "read \(file)", errno)
            }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    public func head(key: String) throws(ObjectStoreError) -> Int? {
        try validate(key)
        let file = path(of: key)
        var info = stat()
        guard stat(file, &info) == 0 else {
            let e = errno
            if e == ENOENT || e == ENOTDIR { try requireRoot("head", key); return nil }
            throw failure("head", key, "stat \(file)", e)
        }
        return info.st_mode & S_IFMT == S_IFREG ? Int(info.st_size) : nil
    }

    /// Walks only the directories that can hold matching keys, visiting each directory's entries
    /// in the byte order of `name` (files) or `name/` (directories): that order is exactly the
    /// byte order of the keys below, so the walk stops as soon as `limit` keys are found.
    public func list(prefix: String, startAfter: String?, limit: Int) throws(ObjectStoreError) -> [String] {
        try ObjectKey.validatePrefix(prefix)
        guard limit > 0 else { return [] }
        // The deepest directory the prefix names completely ("stream/ab" -> "stream/").
        let start = prefix.utf8.lastIndex(of: UInt8(ascii: "/")).map { String(prefix[...$0]) } ?? ""
        var keys: [String] = []
        try walk(start, prefix: prefix, startAfter: startAfter, limit: limit, into: &keys)
        return keys
    }

    // MARK: helpers

    private func walk(_ directoryKey: String, prefix: String, startAfter: String?, limit: Int,
                      into keys: inout [String]) throws(ObjectStoreError) {
        let directory = directoryKey.isEmpty ? root : "\(root)/\(directoryKey.dropLast())"
        guard let stream = opendir(directory) else {
            let e = errno
            if e == ENOENT || e == ENOTDIR { try requireRoot("list", prefix); return }
            throw failure("list", prefix, "opendir \(directory)", e)
        }
        var entries: [(name: String, isDirectory: Bool)] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                let e = errno
                closedir(stream)
                if e != 0 { throw failure("list", prefix, "readdir \(directory)", e) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(validating: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            // Names that are not UTF-8 cannot be keys; temp files are not objects yet.
            guard let name, name != ".", name != "..", !name.hasPrefix(FileObjectStore.tempPrefix) else { continue }
            var type = Int32(entry.pointee.d_type)
            if type == Int32(DT_UNKNOWN) {   // some filesystems do not fill d_type
                var info = stat()
                guard lstat("\(directory)/\(name)", &info) == 0 else { continue }
                type = info.st_mode & S_IFMT == S_IFDIR ? Int32(DT_DIR) : info.st_mode & S_IFMT == S_IFREG ? Int32(DT_REG) : -1
            }
            if type == Int32(DT_DIR) || type == Int32(DT_REG) { entries.append((name, type == Int32(DT_DIR))) }
        }
        let ordered = entries.map { $0.isDirectory ? "\(directoryKey)\($0.name)/" : "\(directoryKey)\($0.name)" }
            .sorted { $0.utf8Precedes($1) }
        for key in ordered {
            if key.hasSuffix("/") {
                // Descend only where matching keys can be: on the prefix's path and not wholly
                // at or before startAfter.
                guard key.utf8HasPrefix(prefix) || prefix.utf8HasPrefix(key) else { continue }
                if let startAfter, key.utf8Precedes(startAfter), !startAfter.utf8HasPrefix(key) { continue }
                try walk(key, prefix: prefix, startAfter: startAfter, limit: limit, into: &keys)
            } else {
                guard key.utf8HasPrefix(prefix) else { continue }
                if let startAfter, !startAfter.utf8Precedes(key) { continue }
                keys.append(key)
            }
            if keys.count >= limit { return }
        }
    }

    private func validate(_ key: String) throws(ObjectStoreError) {
        try ObjectKey.validate(key)
        for segment in key.split(separator: "/") {
            if segment.utf8.count > FileObjectStore.segmentBytesMax {
                throw ObjectStoreError(.rejected, "file store: key segment over \(FileObjectStore.segmentBytesMax) bytes: \(key.prefix(80))…")
            }
            if segment.hasPrefix(FileObjectStore.tempPrefix) {
                throw ObjectStoreError(.rejected, "file store: key segment starts with the reserved \(FileObjectStore.tempPrefix): \(key)")
            }
        }
    }

    private func path(of key: String) -> String { "\(root)/\(key)" }

    private func parentPath(of key: String) -> String {
        guard let slash = key.utf8.lastIndex(of: UInt8(ascii: "/")) else { return root }
        return "\(root)/\(key[..<slash])"
    }

    /// Creates the directories between `root` and `key`, fsyncing each new one's parent so the
    /// new entry survives a crash.
    private func makeParents(of key: String) throws(ObjectStoreError) {
        try requireRoot("put", key)
        var path = root
        for component in key.split(separator: "/").dropLast() {
            let parent = path
            path += "/" + component
            try makeDirectory(path, parent: parent, key: key)
        }
    }

    private func makeDirectory(_ path: String, parent: String, key: String?) throws(ObjectStoreError) {
        if mkdir(path, 0o755) == 0 {
            try syncDirectory(parent, key)
            return
        }
        let e = errno
        guard e == EEXIST else { throw failure("mkdir", key, path, e) }
        var info = stat()
        guard stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ObjectStoreError(.rejected, "file store: \(path) exists and is not a directory (key '\(key ?? "")')")
        }
    }

    private func syncDirectory(_ directory: String, _ key: String?) throws(ObjectStoreError) {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw failure("fsync directory", key, directory, errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw failure("fsync directory", key, directory, errno) }
    }

    private func writeAll(_ fd: Int32, _ bytes: [UInt8], _ key: String) throws(ObjectStoreError) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("put", key, "write", errno)
            }
            offset += n
        }
    }

    /// A missing root is the file store's "no such bucket".
    private func requireRoot(_ op: String, _ key: String) throws(ObjectStoreError) {
        var info = stat()
        guard stat(root, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw ObjectStoreError(.noSuchBucket, "file store: root directory \(root) does not exist (\(op) '\(key)')")
        }
    }

    private func failure(_ op: String, _ key: String?, _ what: String, _ e: Int32) -> ObjectStoreError {
        let reason = String(cString: strerror(e))
        let subject = "file store \(op)\(key.map { " '\($0)'" } ?? "") under \(root): \(what): \(reason) (errno \(e))"
        switch e {
        case EISDIR, ENOTDIR, ENAMETOOLONG, EEXIST: return ObjectStoreError(.rejected, subject)
        case EACCES, EPERM, EROFS: return ObjectStoreError(.accessDenied, subject)
        default: return ObjectStoreError(.io, subject)
        }
    }
}
