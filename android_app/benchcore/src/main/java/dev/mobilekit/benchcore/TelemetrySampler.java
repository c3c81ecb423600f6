package dev.mobilekit.benchcore;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONObject;

/**
 * Telemetry beside the latency series: thermal status, headroom, battery temperature, each CPU
 * core's current frequency and memory, sampled at a fixed interval and at every stage boundary.
 * Each sample carries the index of the latency sample it was taken at (how many timed runs had
 * finished), so the two series line up. A figure the device does not give is null, never zero.
 *
 * <p>The run loop calls {@link #tick(long, int)} after each timed run with the clock reading it
 * already took: a sample is due when the interval has passed, so sampling costs one comparison
 * per run and never runs concurrently with an inference. The same JSON shape as the Python host
 * runner's sampler (mobilekit/benchmark/telemetry.py).
 */
public final class TelemetrySampler {
    public static final long DEFAULT_INTERVAL_NANOS = 1_000_000_000L;

    /** Where the readings come from: PowerManager and sysfs on a phone, a fake in tests. */
    public interface Probe {
        Reading read();
    }

    /** One reading; any field may be null. */
    public static final class Reading {
        public final String thermalStatus;
        public final Double headroom;
        public final Double batteryTempC;
        public final List<Long> cpuFreqKhz;
        public final Long rssBytes;
        public final Long pssBytes;

        public Reading(String thermalStatus, Double headroom, Double batteryTempC, List<Long> cpuFreqKhz,
                       Long rssBytes, Long pssBytes) {
            this.thermalStatus = thermalStatus;
            this.headroom = finite(headroom);
            this.batteryTempC = finite(batteryTempC);
            this.cpuFreqKhz = cpuFreqKhz == null ? null : Collections.unmodifiableList(new ArrayList<>(cpuFreqKhz));
            this.rssBytes = rssBytes;
            this.pssBytes = pssBytes;
        }

        public static final Reading ABSENT = new Reading(null, null, null, null, null, null);

        private static Double finite(Double value) {
            return value == null || value.isNaN() || value.isInfinite() ? null : value;
        }
    }

    /** A reading with its place on the run's time axis. */
    public static final class Sample {
        public final long tNanos;
        public final int index;
        public final String stage;
        public final Reading reading;

        Sample(long tNanos, int index, String stage, Reading reading) {
            this.tNanos = tNanos;
            this.index = index;
            this.stage = stage;
            this.reading = reading;
        }

        public JSONObject toJson() {
            JSONObject o = new JSONObject();
            Json.put(o, "t_ns", tNanos);
            Json.put(o, "index", index);
            Json.put(o, "stage", stage);
            Json.put(o, "thermal_status", reading.thermalStatus);
            Json.put(o, "headroom", reading.headroom);
            Json.put(o, "battery_temp_c", reading.batteryTempC);
            Json.put(o, "zone_temps_c", null);
            JSONArray freqs = null;
            if (reading.cpuFreqKhz != null) {
                freqs = new JSONArray();
                for (Long freq : reading.cpuFreqKhz) {
                    freqs.put(freq == null ? JSONObject.NULL : freq);
                }
            }
            Json.put(o, "cpu_freq_khz", freqs);
            Json.put(o, "rss_bytes", reading.rssBytes);
            Json.put(o, "pss_bytes", reading.pssBytes);
            return o;
        }
    }

    private final Probe probe;
    private final Clock clock;
    private final long intervalNanos;
    private final List<Sample> samples = new ArrayList<>();
    private long began;
    private long last;
    private String stage;

    public TelemetrySampler(Probe probe, Clock clock, long intervalNanos) {
        if (intervalNanos <= 0) {
            throw new IllegalArgumentException("telemetry interval must be above 0 ns, got " + intervalNanos);
        }
        this.probe = probe;
        this.clock = clock;
        this.intervalNanos = intervalNanos;
    }

    /** The first sample; the time axis starts here. */
    public Sample start(String stage) {
        long now = clock.nanoTime(); // one reading: the first sample is at t_ns 0 on any clock
        began = now;
        this.stage = stage;
        return sample(now, 0);
    }

    /** A sample at a stage boundary; later interval samples carry this stage. */
    public Sample mark(String stage, int index) {
        this.stage = stage;
        return sample(clock.nanoTime(), index);
    }

    /** Called after a timed run with the clock reading the loop took: samples when one is due. */
    public boolean tick(long nowNanos, int index) {
        if (nowNanos - last < intervalNanos) {
            return false;
        }
        sample(nowNanos, index);
        return true;
    }

    public List<Sample> samples() {
        return Collections.unmodifiableList(samples);
    }

    public JSONArray toJson() {
        JSONArray out = new JSONArray();
        for (Sample sample : samples) {
            out.put(sample.toJson());
        }
        return out;
    }

    private Sample sample(long now, int index) {
        Reading reading;
        try {
            reading = probe.read();
        } catch (RuntimeException e) { // a sensor that fails is absent; the run goes on
            reading = null;
        }
        Sample sample = new Sample(now - began, index, stage, reading == null ? Reading.ABSENT : reading);
        samples.add(sample);
        last = now;
        return sample;
    }

    /**
     * Each core's scaling_cur_freq under {@code cpuDir} (/sys/devices/system/cpu on a phone), cpu0
     * first; a core without a readable file is null; null when no core has one.
     */
    public static List<Long> cpuFrequenciesKhz(File cpuDir) {
        File[] cores = cpuDir.listFiles((dir, name) -> name.matches("cpu[0-9]+"));
        if (cores == null || cores.length == 0) {
            return null;
        }
        Arrays.sort(cores, (a, b) -> Integer.compare(Integer.parseInt(a.getName().substring(3)),
                Integer.parseInt(b.getName().substring(3))));
        List<Long> out = new ArrayList<>();
        boolean any = false;
        for (File core : cores) {
            Long value = null;
            try {
                String text = new String(Files.readAllBytes(new File(core, "cpufreq/scaling_cur_freq").toPath()),
                        StandardCharsets.US_ASCII).trim();
                value = Long.parseLong(text);
                any = true;
            } catch (IOException | NumberFormatException e) {
                value = null;
            }
            out.add(value);
        }
        return any ? out : null;
    }
}
