#if canImport(Glibc)
import Glibc
#endif

/// How anomalies look in a simulated series.
public enum AnomalyMode: String, Sendable, CaseIterable {
    /// A single reading far above the threshold (85–120 °C), then back to normal.
    case spike
    /// A ramp: `DeviceSeries.climbReadings` readings rising towards the threshold (still below
    /// it), then `DeviceSeries.hotReadings` readings above it, then back to normal.
    case drift
}

/// What a simulated fleet's temperatures look like: normal readings stay within 12.8–42.2 °C, and
/// anomalies (readings above 80.00 °C, the threshold detector's default) make up `anomalyRate`
/// of all readings on average.
public struct TemperatureModel: Sendable, Equatable {
    /// 80.00 °C in hundredths: a reading is anomalous iff its temperature is strictly above this.
    public static let thresholdCenti = 8_000
    /// In drift mode a ramp holds 10 readings of which 4 are hot, so at most 0.4 of all readings
    /// can be anomalous; 0.3 leaves normal stretches between ramps.
    public static let driftRateMax = 0.3

    public let anomalyRate: Double
    public let mode: AnomalyMode

    public init(anomalyRate: Double, mode: AnomalyMode) {
        precondition(TemperatureModel.problem(anomalyRate: anomalyRate, mode: mode) == nil, "invalid temperature model")
        self.anomalyRate = anomalyRate
        self.mode = mode
    }

    /// Why a rate is unusable in a mode (a one-line message for the CLI), or nil.
    public static func problem(anomalyRate: Double, mode: AnomalyMode) -> String? {
        let max = mode == .spike ? 1.0 : driftRateMax
        guard anomalyRate.isFinite, anomalyRate >= 0, anomalyRate <= max else {
            return "anomaly rate must be within 0...\(max) in \(mode.rawValue) mode"
        }
        return nil
    }
}

/// One simulated reading. Temperatures are kept in hundredths of a degree so the JSON text, the
/// value the database stores and the anomaly test all agree exactly.
public struct Reading: Sendable, Equatable {
    /// 1-based position in the device's series.
    public let seq: Int
    public let centiCelsius: Int

    public init(seq: Int, centiCelsius: Int) {
        self.seq = seq
        self.centiCelsius = centiCelsius
    }

    public var celsius: Double { Double(centiCelsius) / 100 }
    /// True iff the threshold detector (80.0 °C) must report this reading.
    public var isAnomalous: Bool { centiCelsius > TemperatureModel.thresholdCenti }

    /// Appends the temperature as a JSON number with two decimals ("23.05").
    public func appendCelsius(to out: inout [UInt8]) {
        ByteWriter.append(to: &out, bytesMax: ByteWriter.centiBytesMax) { $0.putCenti(centiCelsius) }
    }

    public var celsiusText: String {
        var bytes: [UInt8] = []
        appendCelsius(to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The temperature series of one device: a per-device base (20–35 °C), a slow sinusoidal drift
/// (2–6 °C over 600–3600 readings), Gaussian noise (σ 0.3 °C, clipped to ±1.2) and anomalies.
/// Everything follows from (seed, device id): the same inputs give the same readings.
public struct DeviceSeries: Sendable {
    public static let climbReadings = 6
    public static let hotReadings = 4

    public let model: TemperatureModel
    private var random: SimRandom
    private let base: Double
    private let amplitude: Double
    private let period: Double
    private let phase: Double
    private var seq = 0
    /// Readings already done of the current drift ramp, its start value and its peak.
    private var ramp: (done: Int, from: Double, peak: Double)?
    /// Chance that a normal reading starts a ramp, so that hot readings make up `anomalyRate`:
    /// per cycle of 1/p normal readings plus one ramp, `hot` of `1/p + climb + hot` are hot.
    private let rampStartChance: Double

    public init(seed: UInt64, deviceID: String, model: TemperatureModel) {
        self.model = model
        var r = SimRandom(seed: SimRandom.mix(seed ^ SimRandom.fnv1a(deviceID)))
        base = r.uniform(20...35)
        amplitude = r.uniform(2...6)
        period = r.uniform(600...3600)
        phase = r.uniform(0...(2 * Double.pi))
        random = r
        let total = Double(DeviceSeries.climbReadings + DeviceSeries.hotReadings)
        let rate = model.anomalyRate
        rampStartChance = model.mode == .drift && rate > 0 ? min(1, rate / (Double(DeviceSeries.hotReadings) - total * rate)) : 0
    }

    /// Readings generated so far.
    public var count: Int { seq }

    public mutating func next() -> Reading {
        seq += 1
        let noise = max(-1.2, min(1.2, 0.3 * random.gaussian()))
        let normal = base + amplitude * sin(2 * Double.pi * Double(seq) / period + phase) + noise
        let draw = random.unit()
        let value: Double
        switch model.mode {
        case .spike:
            value = draw < model.anomalyRate ? random.uniform(85...120) : normal
        case .drift:
            if ramp == nil && draw < rampStartChance { ramp = (0, normal, random.uniform(90...115)) }
            value = ramp.map(rampValue) ?? normal
            if let r = ramp { ramp = r.done + 1 == DeviceSeries.climbReadings + DeviceSeries.hotReadings ? nil : (r.done + 1, r.from, r.peak) }
        }
        return Reading(seq: seq, centiCelsius: Int((value * 100).rounded()))
    }

    /// Climb linearly from the start value to 78 °C (below the threshold), then jump to 82 °C
    /// and rise to the peak: the detector sees exactly `hotReadings` anomalies per ramp.
    private func rampValue(_ r: (done: Int, from: Double, peak: Double)) -> Double {
        let climb = DeviceSeries.climbReadings, hot = DeviceSeries.hotReadings
        if r.done < climb { return r.from + (78 - r.from) * Double(r.done + 1) / Double(climb) }
        let k = r.done - climb
        return 82 + (r.peak - 82) * Double(k) / Double(hot - 1)
    }
}
