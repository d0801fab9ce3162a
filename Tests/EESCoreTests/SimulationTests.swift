import EESCore
import Foundation
import Testing

@Suite struct TemperatureModelTests {
    func series(_ seed: UInt64, _ device: String, rate: Double, mode: AnomalyMode, count: Int) -> [Reading] {
        var s = DeviceSeries(seed: seed, deviceID: device, model: TemperatureModel(anomalyRate: rate, mode: mode))
        return (0..<count).map { _ in s.next() }
    }

    @Test func sameSeedSameSeries() {
        for mode in AnomalyMode.allCases {
            let a = series(42, "dev-1", rate: 0.05, mode: mode, count: 2_000)
            #expect(a == series(42, "dev-1", rate: 0.05, mode: mode, count: 2_000))
            #expect(a != series(43, "dev-1", rate: 0.05, mode: mode, count: 2_000))
            #expect(a != series(42, "dev-2", rate: 0.05, mode: mode, count: 2_000))
            #expect(a.map(\.seq) == Array(1...2_000))
        }
    }

    @Test func normalReadingsStayInTheirBandAndDriftSlowly() {
        let r = series(7, "quiet", rate: 0, mode: .spike, count: 10_000)
        #expect(r.allSatisfy { (1_280...4_220).contains($0.centiCelsius) })
        #expect(r.allSatisfy { !$0.isAnomalous })
        // Neighbours differ by noise only (σ 0.3 °C clipped at ±1.2 each, plus a tiny drift step).
        for (a, b) in zip(r, r.dropFirst()) { #expect(abs(a.centiCelsius - b.centiCelsius) <= 260) }
        // Over a whole drift period the series moves by degrees, not hundredths.
        let temps = r.map(\.centiCelsius)
        #expect(temps.max()! - temps.min()! >= 300)
    }

    @Test(arguments: [AnomalyMode.spike, .drift], [0.02, 0.05, 0.2])
    func anomalyRateWithinTolerance(mode: AnomalyMode, rate: Double) {
        // 10k readings per device over 5 devices: within ±25% of the rate (far beyond 3σ for spikes,
        // about 4σ for ramps, whose anomalies come four at a time).
        var anomalous = 0
        for d in 1...5 { anomalous += series(11, "dev-\(d)", rate: rate, mode: mode, count: 10_000).filter(\.isAnomalous).count }
        let observed = Double(anomalous) / 50_000
        #expect(abs(observed - rate) <= rate * 0.25, "observed \(observed) for \(rate) in \(mode)")
    }

    @Test func spikesAreFarAboveTheThreshold() {
        let spikes = series(3, "s", rate: 0.05, mode: .spike, count: 10_000).filter(\.isAnomalous)
        #expect(!spikes.isEmpty)
        #expect(spikes.allSatisfy { (8_500...12_000).contains($0.centiCelsius) })
    }

    @Test func driftRampsRiseAndCrossTheThreshold() {
        let r = series(5, "ramp", rate: 0.05, mode: .drift, count: 10_000)
        var ramps = 0
        var i = 0
        while i < r.count {
            guard r[i].isAnomalous else { i += 1; continue }
            // Every run of hot readings is exactly `hotReadings` long, rising, and preceded by a
            // climb of readings that rise towards (but stay below) the threshold.
            let run = r[i...].prefix(while: \.isAnomalous)
            #expect(run.count == DeviceSeries.hotReadings)
            #expect(zip(run, run.dropFirst()).allSatisfy { $0.centiCelsius <= $1.centiCelsius })
            if i >= DeviceSeries.climbReadings {
                let climb = r[(i - DeviceSeries.climbReadings)..<i]
                #expect(climb.allSatisfy { !$0.isAnomalous })
                #expect(zip(climb, climb.dropFirst()).allSatisfy { $0.centiCelsius < $1.centiCelsius })
                #expect(climb.last!.centiCelsius == 7_800)
            }
            ramps += 1
            i += run.count
        }
        #expect(ramps >= 50)
    }

    @Test func ratesOutsideTheModeAreRefused() {
        #expect(TemperatureModel.problem(anomalyRate: 0.5, mode: .drift) != nil)
        #expect(TemperatureModel.problem(anomalyRate: 0.5, mode: .spike) == nil)
        #expect(TemperatureModel.problem(anomalyRate: -0.1, mode: .spike) != nil)
        #expect(TemperatureModel.problem(anomalyRate: .nan, mode: .spike) != nil)
    }

    @Test func temperaturesPrintWithTwoDecimals() {
        #expect(Reading(seq: 1, centiCelsius: 2_305).celsiusText == "23.05")
        #expect(Reading(seq: 1, centiCelsius: 8_000).celsiusText == "80.00")
        #expect(!Reading(seq: 1, centiCelsius: 8_000).isAnomalous)
        #expect(Reading(seq: 1, centiCelsius: 8_001).isAnomalous)
        #expect(Reading(seq: 1, centiCelsius: -5).celsiusText == "-0.05")
    }
}

@Suite struct SimulatedBatchTests {
    @Test func idsAreStableAndDistinct() {
        let a = SimulationIDs(seed: 9, deviceID: "dev-1")
        #expect(a == SimulationIDs(seed: 9, deviceID: "dev-1"))
        #expect(a.eventID(seq: 17) == "\(a.tag)-17")
        #expect(a.batchID(index: 3) == "\(a.tag)-b3")
        #expect(a.tag.utf8.count == 16)
        #expect(a.tag != SimulationIDs(seed: 10, deviceID: "dev-1").tag)
        #expect(a.tag != SimulationIDs(seed: 9, deviceID: "dev-2").tag)
        // Ids stay short whatever the device id's length.
        #expect(SimulationIDs(seed: 9, deviceID: String(repeating: "x", count: 128)).eventID(seq: 1_000_000_000).utf8.count <= 37)
    }

    @Test func bodyIsTheIngestShapeAndIdenticalWhenRebuilt() throws {
        let ids = SimulationIDs(seed: 1, deviceID: "dev-1")
        let readings = [Reading(seq: 1, centiCelsius: 2_345), Reading(seq: 2, centiCelsius: 9_001)]
        let batch = SimulatedBatch(ids: ids, batchIndex: 0, readings: readings, timestampsMs: [1_000, 2_000], sentAtMs: 3_000)
        let again = SimulatedBatch(ids: ids, batchIndex: 0, readings: readings, timestampsMs: [1_000, 2_000], sentAtMs: 3_000)
        #expect(batch.body == again.body)
        #expect(batch.anomalies == [readings[1]])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(batch.body)) as? [String: Any])
        #expect(json["device_id"] as? String == "dev-1")
        #expect(json["batch_id"] as? String == ids.batchID(index: 0))
        #expect(json["sent_at_ms"] as? Int == 3_000)
        let events = try #require(json["events"] as? [[String: Any]])
        #expect(events.count == 2)
        #expect(events[1]["event_id"] as? String == ids.eventID(seq: 2))
        #expect(events[1]["event_type"] as? String == "sensor.temperature")
        #expect(events[1]["ts_device_ms"] as? Int == 2_000)
        #expect((events[1]["payload"] as? [String: Any])?["temperature"] as? Double == 90.01)
    }

    @Test func decimalsPrintLikeString() {
        for v: Int64 in [0, 7, 10, -1, -10, 1_700_000_000_123, .max, .min] {
            var out: [UInt8] = [0x78]
            DecimalASCII.append(v, to: &out)
            #expect(out == Array(("x" + String(v)).utf8))
        }
    }

    @Test func replyCountsAreRead() {
        let body = Array(#"{"request_id":"r","accepted_count":98,"duplicate_count":2,"first_seq":1,"last_seq":98,"streams":[{"stream_key":"s","accepted_count":98,"duplicate_count":2}]}"#.utf8)
        #expect(IngestReply(body: body) == IngestReply(acceptedCount: 98, duplicateCount: 2))
        #expect(IngestReply(body: Array(#"{"accepted_count":1}"#.utf8)) == nil)
        #expect(IngestReply(body: Array(#"{"accepted_count":"x","duplicate_count":0}"#.utf8)) == nil)
    }
}

@Suite struct PacingAndLatencyTests {
    @Test func pacerHoldsTheRate() {
        var p = Pacer(ratePerSecond: 1_000, burstNs: 0)
        // 100 events at 1000/s take 100 ms each: the n-th reservation waits n × 100 ms.
        let waits = (0..<5).map { _ in p.reserve(100, nowNs: 1_000_000_000) }
        #expect(waits == [0, 100_000_000, 200_000_000, 300_000_000, 400_000_000])
        var unpaced = Pacer(ratePerSecond: 0)
        #expect(unpaced.reserve(1_000_000, nowNs: 5) == 0)
    }

    @Test func pacerCreditIsBoundedByTheBurst() {
        var p = Pacer(ratePerSecond: 1_000, burstNs: 50_000_000)
        #expect(p.reserve(100, nowNs: 1_000_000_000) == 0)
        // After 10 s idle only 50 ms of credit remain: two 100-event batches, the second waits 50 ms.
        #expect(p.reserve(100, nowNs: 11_000_000_000) == 0)
        #expect(p.reserve(100, nowNs: 11_000_000_000) == 50_000_000)
    }

    @Test func percentilesAreWithinTheBucketError() {
        var h = LatencyHistogram()
        #expect(h.percentile(0.5) == nil)
        for v in 1...10_000 { h.record(micros: UInt64(v)) }
        for (q, exact) in [(0.5, 5_000.0), (0.99, 9_900.0), (0.999, 9_990.0)] {
            let p = Double(h.percentile(q)!)
            #expect(p >= exact && p <= exact * 1.016, "p\(q) = \(p)")
        }
        #expect(h.percentile(1) == 10_000)
        var other = LatencyHistogram()
        other.record(micros: 1 << 45)   // beyond the last bucket: still counted, max kept exact
        h.merge(other)
        #expect(h.count == 10_001)
        #expect(h.percentile(1) == 1 << 45)
        #expect(h.maxMicros == 1 << 45)
    }
}
