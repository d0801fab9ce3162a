#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The threads of one role (flusher, processor): started by name, asked to stop together, and
/// waited for within a bound. Role loops poll `stopping` between units of work.
public final class RoleThreads: Sendable {
    /// Set once `stop` is called.
    public let stopping = AtomicFlag()
    private let running = Atomic<Int>(0)

    public init() {}

    /// Starts `body` on a new detached thread.
    public func spawn(_ body: @escaping @Sendable () -> Void) {
        running.add(1, ordering: .relaxed)
        let job = Unmanaged.passRetained(Job(body: body, threads: self)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let job = Unmanaged<Job>.fromOpaque(arg!).takeRetainedValue()
            job.body()
            job.threads.running.subtract(1, ordering: .relaxed)
            return nil
        }, job)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        pthread_detach(thread)
    }

    /// Asks every thread to stop and waits up to `timeoutMs` for them; returns how many still run.
    @discardableResult
    public func stop(timeoutMs: Int) -> Int {
        stopping.set()
        var waited = 0
        while running.load(ordering: .relaxed) > 0 && waited < timeoutMs {
            sleepMs(10)
            waited += 10
        }
        return running.load(ordering: .relaxed)
    }

    private final class Job: Sendable {
        let body: @Sendable () -> Void
        let threads: RoleThreads
        init(body: @escaping @Sendable () -> Void, threads: RoleThreads) {
            self.body = body
            self.threads = threads
        }
    }
}
