package dev.mobilekit.benchcore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import org.json.JSONObject;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The run loop against a fake engine and a fake clock, so counts and time bounds are exact. */
public class BenchRunnerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final long MS = 1_000_000L;

    /** A clock that only moves when the engine runs or the sleeper sleeps. */
    static class FakeClock implements Clock {
        long now = 5_000 * MS;

        @Override
        public long nanoTime() {
            return now;
        }

        @Override
        public long wallMillis() {
            return 1_790_000_000_000L + now / MS;
        }
    }

    /** Takes latencyNs per run on the fake clock; doubles each float input into the output. */
    static final class FakeEngine implements Engine {
        final FakeClock clock;
        long latencyNs = 10 * MS;
        long initNs = 30 * MS;
        String failAt;
        int failOnRun = -1;
        int runs;
        boolean closed;
        Long nativeNanos;
        String applied;
        String fallback;
        List<Long> sleptBeforeRun;
        final List<Integer> sleepsSeenByRun = new ArrayList<>();

        FakeEngine(FakeClock clock) {
            this.clock = clock;
        }

        @Override
        public AppliedDelegate init(File model, BenchRequest.Delegate delegate) throws Exception {
            clock.now += initNs;
            if ("init".equals(failAt)) {
                throw new IllegalStateException("GPU delegate could not be applied: out of memory");
            }
            return applied == null ? AppliedDelegate.as(delegate.name) : new AppliedDelegate(applied, fallback);
        }

        @Override
        public List<TensorSpec> inputs() {
            return Arrays.asList(new TensorSpec("x", DType.FLOAT32, new int[] {1, 2}));
        }

        @Override
        public List<TensorSpec> outputs() {
            return Arrays.asList(new TensorSpec("y", DType.FLOAT32, new int[] {1, 2}));
        }

        @Override
        public void run(ByteBuffer[] in, ByteBuffer[] out) throws Exception {
            if (runs == failOnRun) {
                throw new RuntimeException("Internal error: Failed to run on the given Interpreter");
            }
            runs++;
            if (sleptBeforeRun != null) {
                sleepsSeenByRun.add(sleptBeforeRun.size());
            }
            clock.now += latencyNs + runs;  // +runs so every sample differs
            ByteBuffer src = in[0].duplicate().order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer dst = out[0].order(ByteOrder.LITTLE_ENDIAN);
            dst.putFloat(0, src.getFloat(0) * 2);
            dst.putFloat(4, src.getFloat(4) * 2);
        }

        @Override
        public Long lastRunNanos() {
            return nativeNanos;
        }

        @Override
        public String runtime() {
            return "fake";
        }

        @Override
        public String runtimeVersion() {
            return "0";
        }

        @Override
        public void close() {
            closed = true;
        }
    }

    private FakeClock clock;
    private FakeEngine engine;
    private final List<Long> slept = new ArrayList<>();
    private final List<String> progress = new ArrayList<>();
    private File model;

    @Before
    public void setUp() throws Exception {
        clock = new FakeClock();
        engine = new FakeEngine(clock);
        model = tmp.newFile("model.tflite");
        Files.write(model.toPath(), new byte[] {1, 2, 3});
    }

    private BenchRunner runner() {
        Sleeper sleeper = nanos -> {
            slept.add(nanos);
            clock.now += nanos;
        };
        Probes probes = new Probes() {
            @Override
            public DeviceFacts device() {
                return new DeviceFacts(null, "Google", "Pixel 8", "Tensor G3", "Android 15", 35, "arm64-v8a", 9);
            }

            @Override
            public MemoryUsage memory() {
                return new MemoryUsage(123_456_789L, 45_678_901L);
            }

            @Override
            public ThermalState thermal() {
                return new ThermalState("none", 31.5);
            }
        };
        return new BenchRunner(engine, clock, sleeper, probes, "0.1.0",
                (stage, done, total) -> progress.add(stage + " " + done + "/" + total));
    }

    private JSONObject request() throws Exception {
        JSONObject j = BenchRequestTest.valid();
        j.getJSONObject("model").put("sha256", BenchRunner.sha256(model));
        return j;
    }

    private BenchResult run(JSONObject request) throws Exception {
        return runner().run(BenchRequest.fromJson(request, tmp.getRoot()));
    }

    @Test
    public void honoursWarmupAndTimedRunCounts() throws Exception {
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 3).put("timed_runs", 7);
        BenchResult r = run(j);
        assertTrue(r.ok());
        assertEquals(3, r.warmupNs.size());
        assertEquals(7, r.samplesNs.size());
        // One first inference, then the warmups, then the timed runs.
        assertEquals(11, engine.runs);
        assertEquals(Long.valueOf(30 * MS), r.initNs);
        assertEquals(Long.valueOf(10 * MS + 1), r.firstInferenceNs);
        assertEquals(Long.valueOf(10 * MS + 2), r.warmupNs.get(0));
        assertEquals(Long.valueOf(10 * MS + 5), r.samplesNs.get(0));
        assertTrue(engine.closed);
        assertTrue(progress.contains("warmup 3/3"));
        assertTrue(progress.contains("run 7/7"));
    }

    @Test
    public void prefersTheRuntimesOwnInvokeTime() throws Exception {
        engine.nativeNanos = 7_000L;
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 1).put("timed_runs", 3);
        BenchResult r = run(j);
        assertEquals(Arrays.asList(7_000L, 7_000L, 7_000L), r.samplesNs);
        assertEquals(Long.valueOf(7_000L), r.firstInferenceNs);
    }

    @Test
    public void withoutWarmupThereIsStillAFirstInference() throws Exception {
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 0).put("timed_runs", 2);
        BenchResult r = run(j);
        assertEquals(0, r.warmupNs.size());
        assertEquals(2, r.samplesNs.size());
        assertEquals(Long.valueOf(10 * MS + 1), r.firstInferenceNs);
    }

    @Test
    public void minSecsAboveMaxSecsFailsAsARequestError() throws Exception {
        JSONObject j = request();
        j.getJSONObject("runs").put("min_secs", 5).put("max_secs", 1);
        BenchResult r = run(j);
        assertEquals("request", r.error.stage);
        assertTrue(r.error.message.startsWith("runs.min_secs"));
        assertEquals(0, engine.runs);
    }

    @Test
    public void minSecsKeepsRunningPastTheCount() throws Exception {
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 0).put("timed_runs", 2).put("min_secs", 0.095);
        BenchResult r = run(j);
        // ~10 ms a run: 10 runs are needed to pass 95 ms.
        assertEquals(10, r.samplesNs.size());
    }

    @Test
    public void maxSecsStopsBeforeTheCount() throws Exception {
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 1).put("timed_runs", 1000).put("max_secs", 0.05);
        BenchResult r = run(j);
        assertTrue(r.ok());
        // 10 ms a run: after the 5th run 50 ms have passed and the loop stops.
        assertEquals(5, r.samplesNs.size());
        assertEquals(1, r.warmupNs.size());
    }

    @Test
    public void maxSecsWinsOverMinSecsAndOneRunAlwaysHappens() throws Exception {
        engine.latencyNs = 2_000 * MS;
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 0).put("timed_runs", 5).put("min_secs", 1).put("max_secs", 1);
        BenchResult r = run(j);
        assertEquals(1, r.samplesNs.size());
    }

    @Test
    public void cooldownSleepsBetweenWarmupAndTimedRuns() throws Exception {
        JSONObject j = request();
        j.getJSONObject("runs").put("cooldown_secs", 2.5).put("warmup_runs", 2).put("timed_runs", 3);
        engine.sleptBeforeRun = slept;
        BenchResult r = run(j);
        assertEquals(Arrays.asList(2_500_000_000L), slept);
        // Runs 0-2 (first inference, 2 warmups) saw no sleep yet; the timed runs came after it.
        assertEquals(Arrays.asList(0, 0, 0, 1, 1, 1), engine.sleepsSeenByRun);
        assertTrue(r.finishedAtMillis - r.startedAtMillis >= 2_500);
        assertEquals("none", r.thermalStart.status);
    }

    @Test
    public void noCooldownMeansNoSleep() throws Exception {
        run(request());
        assertEquals(Arrays.asList(0L), slept);
    }

    @Test
    public void failingInitYieldsAFailedResultNotACrash() throws Exception {
        engine.failAt = "init";
        BenchResult r = run(request());
        assertFalse(r.ok());
        assertEquals("init", r.error.stage);
        assertEquals("IllegalStateException", r.error.type);
        assertTrue(r.error.message.contains("GPU delegate"));
        assertTrue(engine.closed);
        JSONObject written = Fixtures.readJson(new File(tmp.getRoot(), "result.json"));
        assertEquals("failed", written.getString("status"));
        assertEquals("init", written.getJSONObject("error").getString("stage"));
        assertTrue(written.getJSONObject("timing").isNull("init_ns"));
    }

    @Test
    public void failingRunKeepsTheSamplesSoFar() throws Exception {
        engine.failOnRun = 4;
        JSONObject j = request();
        j.getJSONObject("runs").put("warmup_runs", 1).put("timed_runs", 10);
        BenchResult r = run(j);
        assertEquals("run", r.error.stage);
        assertEquals(1, r.warmupNs.size());
        assertEquals(2, r.samplesNs.size());
        assertEquals("failed", Fixtures.readJson(r.resultFile).getString("status"));
    }

    @Test
    public void failingFirstInferenceIsReportedAsWarmup() throws Exception {
        engine.failOnRun = 0;
        BenchResult r = run(request());
        assertEquals("warmup", r.error.stage);
        assertNull(r.firstInferenceNs);
        assertEquals(0, r.samplesNs.size());
    }

    @Test
    public void missingOrStaleModelFailsAtLoad() throws Exception {
        JSONObject j = request();
        j.getJSONObject("model").put("path", "gone.tflite");
        BenchResult r = run(j);
        assertEquals("load", r.error.stage);
        assertTrue(r.error.message.startsWith("model.path: model file not found"));
        assertEquals(0, engine.runs);

        j = request();
        j.getJSONObject("model").put("sha256", BenchRequestTest.SHA);
        r = run(j);
        assertEquals("load", r.error.stage);
        assertTrue(r.error.message.startsWith("model.sha256:"));
        assertEquals(BenchRunner.sha256(model), r.modelSha256);
    }

    @Test
    public void badInputsFailAtInputsNamingTheField() throws Exception {
        Npy.write(new NpyArray(DType.INT8, new long[] {1, 2}, new byte[2]), new File(tmp.getRoot(), "x.npy"));
        JSONObject j = request();
        j.put("inputs", new JSONObject("{\"kind\": \"npy\", \"files\": [\"x.npy\"]}"));
        BenchResult r = run(j);
        assertEquals("inputs", r.error.stage);
        assertTrue(r.error.message, r.error.message.startsWith("inputs.files[0]: dtype int8"));
    }

    @Test
    public void recordsTheAppliedDelegateAndFallback() throws Exception {
        engine.applied = "cpu";
        engine.fallback = "GPU delegate not supported on this device (CompatibilityList)";
        JSONObject j = request();
        j.getJSONObject("delegate").put("name", "gpu");
        JSONObject d = run(j).toJson().getJSONObject("delegate");
        assertEquals("gpu", d.getString("requested"));
        assertEquals("cpu", d.getString("applied"));
        assertTrue(d.getString("fallback_reason").contains("CompatibilityList"));
    }

    @Test
    public void savesEveryOutputOnceAfterTiming() throws Exception {
        float[] x = {1f, 2f, 3f, 4f, 5f, 6f};
        ByteBuffer b = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : x) {
            b.putFloat(f);
        }
        Npy.write(new NpyArray(DType.FLOAT32, new long[] {3, 2}, b.array()), new File(tmp.getRoot(), "x.npy"));
        JSONObject j = request();
        j.put("inputs", new JSONObject("{\"kind\": \"npy\", \"files\": [\"x.npy\"]}"));
        j.put("save_outputs", true);
        j.put("output_dir", "out");
        j.getJSONObject("runs").put("warmup_runs", 0).put("timed_runs", 4);
        BenchResult r = run(j);
        assertTrue(r.error == null ? "" : r.error.message, r.ok());
        assertEquals(1 + 4 + 3, engine.runs);
        NpyArray out = Npy.read(new File(tmp.getRoot(), "out/outputs.npy"));
        assertArrayEquals(new long[] {3, 2}, out.shape());
        for (int i = 0; i < 6; i++) {
            assertEquals(x[i] * 2, out.getAsDouble(i), 0);
        }
        assertEquals(1, r.outputs.size());
        assertEquals("outputs.npy", r.outputs.get(0).file);
        assertEquals("y", r.outputs.get(0).name);
        assertTrue(new File(tmp.getRoot(), "out/result.json").isFile());
    }

    @Test
    public void unreadableRequestStillWritesAFailedResult() throws Exception {
        File dir = tmp.newFolder("bad");
        File req = new File(dir, "request.json");
        JSONObject j = request();
        j.getJSONObject("delegate").put("threads", 0);
        j.put("run_id", "bad-threads");
        Files.write(req.toPath(), j.toString().getBytes("UTF-8"));
        BenchResult r = runner().runFile(req);
        assertEquals("request", r.error.stage);
        assertTrue(r.error.message.startsWith("delegate.threads:"));
        JSONObject written = Fixtures.readJson(new File(dir, "result.json"));
        assertEquals("bad-threads", written.getString("run_id"));
        assertEquals("failed", written.getString("status"));
        assertEquals(0, engine.runs);
    }

    @Test
    public void probesFillDeviceMemoryAndThermal() throws Exception {
        JSONObject o = run(request()).toJson();
        assertEquals("Pixel 8", o.getJSONObject("device").getString("model"));
        assertEquals(35, o.getJSONObject("device").getInt("sdk_level"));
        assertTrue(o.getJSONObject("device").isNull("serial"));
        assertEquals(123_456_789L, o.getJSONObject("memory").getLong("peak_rss_bytes"));
        assertEquals(31.5, o.getJSONObject("thermal").getJSONObject("end").getDouble("battery_temp_c"), 0);
        assertEquals(3, o.getJSONObject("model").getLong("size_bytes"));
        assertEquals("2026-09-21T14:13:25.000Z", o.getString("started_at"));
    }

    // ---- telemetry and sustained runs (schema version 2)

    private JSONObject v2Request() throws Exception {
        JSONObject j = request();
        j.put("schema_version", 2);
        return j;
    }

    /** Every field given, status turning light after the fourth reading. */
    static final class FullProbe implements TelemetrySampler.Probe {
        int reads;

        @Override
        public TelemetrySampler.Reading read() {
            reads++;
            return new TelemetrySampler.Reading(reads > 4 ? "light" : "none", 0.2 + 0.01 * reads, 30.0 + 0.1 * reads,
                    Arrays.asList(2_850_000L, null, 1_800_000L), 61_000_000L, 52_000_000L);
        }
    }

    @Test
    public void durationModeTimesForTheWallClockDurationKeepingEverySample() throws Exception {
        JSONObject j = v2Request();
        // timed_runs and max_secs would stop the loop at 50 runs / 0.5 s: with a duration they do not apply.
        j.getJSONObject("runs").put("timed_runs", 50).put("max_secs", 0.5).put("duration_secs", 2.0);
        BenchResult r = run(j);
        assertTrue(r.ok());
        long total = 0;
        for (long ns : r.samplesNs) {
            total += ns;
        }
        long last = r.samplesNs.get(r.samplesNs.size() - 1);
        assertTrue("timed for at least the duration: " + total, total >= 2_000 * MS);
        assertTrue("stopped at the first run past the duration: " + total, total - last < 2_000 * MS);
        assertTrue(r.samplesNs.size() > 150);
        // The default interval (1 s) samples twice in 2 s of timing, beside the stage boundaries.
        List<String> stages = new ArrayList<>();
        int intervalSamples = 0;
        for (int i = 0; i < r.telemetry.length(); i++) {
            JSONObject sample = r.telemetry.getJSONObject(i);
            stages.add(sample.getString("stage"));
            if (sample.getString("stage").equals("run") && sample.getInt("index") > 0) {
                intervalSamples++;
            }
        }
        assertEquals(Arrays.asList("load", "init", "inputs", "warmup", "run"), stages.subList(0, 5));
        assertEquals(3, intervalSamples); // at 1 s, at 2 s and the end-of-run mark
        JSONObject end = r.telemetry.getJSONObject(r.telemetry.length() - 1);
        assertEquals("run", end.getString("stage"));
        assertEquals(r.samplesNs.size(), end.getInt("index"));
        assertEquals(2, r.toJson().getInt("schema_version"));
    }

    @Test
    public void telemetryHasTheShapeOfTheVersion2FixtureAndLinesUpWithTheSamples() throws Exception {
        JSONObject j = v2Request();
        j.getJSONObject("runs").put("warmup_runs", 2).put("timed_runs", 20).put("telemetry_interval_secs", 0.05);
        FullProbe probe = new FullProbe();
        BenchResult r = runner().telemetryProbe(probe).run(BenchRequest.fromJson(j, tmp.getRoot()));
        assertTrue(r.ok());
        JSONObject fixture = Fixtures.readJson(new File(Fixtures.protocolDir(), "v2/results/ok_android_sustained_flagged.json"));
        JSONObject want = fixture.getJSONArray("telemetry").getJSONObject(0);
        JSONObject o = r.toJson();
        assertEquals(2, o.getInt("schema_version"));
        assertEquals(fixture.getInt("schema_version"), o.getInt("schema_version"));
        // Every top-level key of the fixture but the host's own (throttling, flags, cooldown).
        java.util.Set<String> keys = new java.util.TreeSet<>();
        for (java.util.Iterator<String> it = fixture.keys(); it.hasNext(); ) {
            keys.add(it.next());
        }
        keys.removeAll(Arrays.asList("throttling", "flags", "cooldown"));
        java.util.Set<String> got = new java.util.TreeSet<>();
        for (java.util.Iterator<String> it = o.keys(); it.hasNext(); ) {
            got.add(it.next());
        }
        assertEquals(keys, got);
        org.json.JSONArray telemetry = o.getJSONArray("telemetry");
        assertEquals(probe.reads, telemetry.length());
        long lastT = -1;
        int lastIndex = 0;
        for (int i = 0; i < telemetry.length(); i++) {
            JSONObject sample = telemetry.getJSONObject(i);
            java.util.Set<String> sampleKeys = new java.util.TreeSet<>();
            for (java.util.Iterator<String> it = sample.keys(); it.hasNext(); ) {
                sampleKeys.add(it.next());
            }
            java.util.Set<String> wantKeys = new java.util.TreeSet<>();
            for (java.util.Iterator<String> it = want.keys(); it.hasNext(); ) {
                wantKeys.add(it.next());
            }
            assertEquals(wantKeys, sampleKeys);
            assertTrue(sample.getLong("t_ns") >= lastT);
            assertTrue(sample.getInt("index") >= lastIndex && sample.getInt("index") <= 20);
            lastT = sample.getLong("t_ns");
            lastIndex = sample.getInt("index");
            assertTrue(sample.isNull("zone_temps_c"));
            assertEquals(3, sample.getJSONArray("cpu_freq_khz").length());
            assertTrue(sample.getJSONArray("cpu_freq_khz").isNull(1));
            assertEquals(2_850_000L, sample.getJSONArray("cpu_freq_khz").getLong(0));
            assertEquals(52_000_000L, sample.getLong("pss_bytes"));
        }
        assertEquals(0, telemetry.getJSONObject(0).getLong("t_ns"));
        // 20 runs of about 10 ms, a sample each 50 ms: one every 5 runs, at the index it was taken.
        List<Integer> runIndices = new ArrayList<>();
        for (int i = 0; i < telemetry.length(); i++) {
            if (telemetry.getJSONObject(i).getString("stage").equals("run")) {
                runIndices.add(telemetry.getJSONObject(i).getInt("index"));
            }
        }
        assertEquals(Arrays.asList(0, 5, 10, 15, 20, 20), runIndices);
        assertEquals("light", telemetry.getJSONObject(telemetry.length() - 1).getString("thermal_status"));
    }

    @Test
    public void telemetryOffWritesAVersion1Result() throws Exception {
        JSONObject j = v2Request();
        j.getJSONObject("runs").put("telemetry_interval_secs", 0);
        FullProbe probe = new FullProbe();
        BenchResult r = runner().telemetryProbe(probe).run(BenchRequest.fromJson(j, tmp.getRoot()));
        assertTrue(r.ok());
        assertNull(r.telemetry);
        assertEquals(0, probe.reads);
        JSONObject o = r.toJson();
        assertEquals(1, o.getInt("schema_version"));
        assertFalse(o.has("telemetry"));
    }

    @Test
    public void withoutATelemetryProbeTheRunsProbesFillWhatTheyKnow() throws Exception {
        BenchResult r = run(request()); // a version-1 request: telemetry at the default interval
        assertTrue(r.ok());
        JSONObject first = r.toJson().getJSONArray("telemetry").getJSONObject(0);
        assertEquals("load", first.getString("stage"));
        assertEquals("none", first.getString("thermal_status"));
        assertEquals(31.5, first.getDouble("battery_temp_c"), 0);
        assertEquals(45_678_901L, first.getLong("pss_bytes"));
        assertTrue(first.isNull("headroom"));
        assertTrue(first.isNull("cpu_freq_khz"));
        assertTrue("the probes' RSS is a peak, not the resident set now", first.isNull("rss_bytes"));
    }

    @Test
    public void aFailedRunKeepsTheTelemetryUpToItsStage() throws Exception {
        engine.failAt = "init";
        BenchResult r = runner().telemetryProbe(new FullProbe()).run(BenchRequest.fromJson(v2Request(), tmp.getRoot()));
        assertFalse(r.ok());
        assertEquals("init", r.error.stage);
        assertEquals(2, r.telemetry.length());
        assertEquals("load", r.telemetry.getJSONObject(0).getString("stage"));
        assertEquals("init", r.telemetry.getJSONObject(1).getString("stage"));
    }
}
