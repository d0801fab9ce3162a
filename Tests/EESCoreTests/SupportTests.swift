import EESCore
import Testing

@Suite struct MetricsRegistryTests {
    @Test func counterRendering() {
        let r = MetricsRegistry()
        let c = r.counter("ees_things_total", "Things counted")
        c.inc()
        c.inc(4)
        #expect(r.render() == "# HELP ees_things_total Things counted\n# TYPE ees_things_total counter\nees_things_total 5\n")
    }

    @Test func labelledCountersShareOneFamily() {
        let r = MetricsRegistry()
        r.counter("ees_http_requests_total", "Requests", [("route", "/ingest"), ("status", "200")]).inc(2)
        r.counter("ees_http_requests_total", "Requests", [("route", "/ingest"), ("status", "400")]).inc()
        // The same labels give the same series.
        r.counter("ees_http_requests_total", "Requests", [("route", "/ingest"), ("status", "200")]).inc()
        #expect(r.render() == """
            # HELP ees_http_requests_total Requests
            # TYPE ees_http_requests_total counter
            ees_http_requests_total{route="/ingest",status="200"} 3
            ees_http_requests_total{route="/ingest",status="400"} 1

            """)
    }

    @Test func labelValuesAreEscaped() {
        let r = MetricsRegistry()
        r.counter("x_total", "X", [("reason", "a\"b\\c\nd")]).inc()
        #expect(r.render().contains(#"x_total{reason="a\"b\\c\nd"} 1"#))
    }

    @Test func histogramBucketsAreCumulative() {
        let r = MetricsRegistry()
        let h = r.histogram("ees_t_seconds", "T", buckets: [0.1, 1, 10], [("route", "/x")])
        for v in [0.05, 0.1, 0.5, 2, 20] { h.observe(v) }
        #expect(h.count == 5)
        #expect(r.render() == """
            # HELP ees_t_seconds T
            # TYPE ees_t_seconds histogram
            ees_t_seconds_bucket{route="/x",le="0.1"} 2
            ees_t_seconds_bucket{route="/x",le="1.0"} 3
            ees_t_seconds_bucket{route="/x",le="10.0"} 4
            ees_t_seconds_bucket{route="/x",le="+Inf"} 5
            ees_t_seconds_sum{route="/x"} 22.65
            ees_t_seconds_count{route="/x"} 5

            """)
    }

    @Test func unlabelledHistogram() {
        let r = MetricsRegistry()
        r.histogram("h_seconds", "H", buckets: [1]).observe(0.5)
        let text = r.render()
        #expect(text.contains("h_seconds_bucket{le=\"1.0\"} 1\n"))
        #expect(text.contains("h_seconds_bucket{le=\"+Inf\"} 1\n"))
        #expect(text.contains("h_seconds_sum 0.5\nh_seconds_count 1\n"))
    }

    @Test func gauge() {
        let r = MetricsRegistry()
        let g = r.gauge("ees_depth", "Depth")
        g.set(3)
        g.add(1.5)
        g.add(-0.5)
        #expect(g.current == 4)
        #expect(r.render().hasSuffix("ees_depth 4.0\n"))
    }

    @Test func familiesRenderInRegistrationOrder() {
        let r = MetricsRegistry()
        _ = r.counter("b_total", "B")
        _ = r.counter("a_total", "A")
        let text = r.render()
        let help = text.split(separator: "\n").filter { $0.hasPrefix("# HELP") }
        #expect(help == ["# HELP b_total B", "# HELP a_total A"])
    }

    @Test func concurrentIncrementsAreNotLost() async {
        let r = MetricsRegistry()
        await withTaskGroup(of: Void.self) { g in
            for _ in 0..<8 {
                g.addTask {
                    for i in 0..<1_000 { r.counter("c_total", "C", [("k", String(i % 3))]).inc() }
                }
            }
        }
        let total = (0..<3).map { r.counter("c_total", "C", [("k", String($0))]).current }.reduce(0, +)
        #expect(total == 8_000)
    }
}

@Suite struct SmallCoreTests {
    @Test func manualTimeMovesOnlyWhenTold() {
        let t = ManualTime(nowMs: 1_000)
        #expect(t.nowMs() == 1_000)
        #expect(t.monotonicNs() == 1_000_000_000)
        t.advance(ms: 250)
        #expect(t.nowMs() == 1_250)
        #expect(t.monotonicNs() == 1_250_000_000)
    }

    @Test func errorCodesMapToStatuses() {
        let expected: [(IngestError.Code, Int, String)] = [
            (.invalidRequest, 400, "invalid_request"), (.unauthorized, 401, "unauthorized"), (.notFound, 404, "not_found"),
            (.methodNotAllowed, 405, "method_not_allowed"), (.payloadTooLarge, 413, "payload_too_large"),
            (.unsupportedMediaType, 415, "unsupported_media_type"), (.rateLimited, 429, "rate_limited"),
            (.unavailable, 503, "unavailable"),
        ]
        for (code, status, name) in expected {
            #expect(IngestError(code, "m").status == status)
            #expect(code.rawValue == name)
        }
        #expect(IngestError.invalid("x: required") == IngestError(.invalidRequest, "x: required"))
    }

    @Test func jsonStringEscaping() {
        #expect(JSONText.quoted("plain") == "\"plain\"")
        #expect(JSONText.quoted("a\"b\\c") == #""a\"b\\c""#)
        #expect(JSONText.quoted("\n\r\t\u{0}\u{1f}") == #""\n\r\t\u0000\u001f""#)
        #expect(JSONText.quoted("é😀\u{7f}") == "\"é😀\u{7f}\"")
    }

    @Test func replacingAll() {
        #expect("a.b.c".replacingAll(".", with: "::") == "a::b::c")
        #expect("..".replacingAll(".", with: "x") == "xx")
        #expect("abc".replacingAll("", with: "x") == "abc")
        #expect("abc".replacingAll("z", with: "x") == "abc")
    }

    @Test func atomicFlag() {
        let f = AtomicFlag()
        #expect(!f.isSet)
        f.set()
        #expect(f.isSet)
    }
}
