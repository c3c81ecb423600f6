package dev.mobilekit.benchcore;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.json.JSONObject;

/**
 * Runs one bench request against an {@link Engine}, the way benchmark_model and the Python host
 * runner measure: load, init, a first inference, warmup runs, cooldown, then timed runs until both
 * timed_runs and min_secs are met or max_secs is reached (or, with runs.duration_secs, for that
 * wall-clock duration), then (when asked) every sample once more to save the outputs. Telemetry
 * is sampled at each stage boundary and every runs.telemetry_interval_secs of the timed loop, each
 * sample tagged with how many timed runs had finished. Whatever happens, it
 * returns a result and writes result.json; a failure becomes {@code status: "failed"} with the
 * stage it happened in.
 */
public final class BenchRunner {
    private static final long PROGRESS_INTERVAL_NS = 500_000_000L;

    private final Engine engine;
    private final Clock clock;
    private final Sleeper sleeper;
    private final Probes probes;
    private final String runnerVersion;
    private final ProgressListener progress;
    private long lastProgressNs = Long.MIN_VALUE;
    private long memoryIntervalMillis = 500;
    private String launch;
    private String runtimeArtifact;
    private TelemetrySampler.Probe telemetryProbe;

    public BenchRunner(Engine engine, Clock clock, Sleeper sleeper, Probes probes, String runnerVersion,
                       ProgressListener progress) {
        this.engine = engine;
        this.clock = clock;
        this.sleeper = sleeper;
        this.probes = probes;
        this.runnerVersion = runnerVersion;
        this.progress = progress == null ? ProgressListener.NONE : progress;
    }

    /** How often memory is sampled during warmup and timed runs (0: at the start and before close only). */
    public BenchRunner memoryInterval(long millis) {
        this.memoryIntervalMillis = Math.max(0, millis);
        return this;
    }

    /**
     * How the run was started, for the result's runner.launch: "instrumentation" (headless, the
     * default scheduling group) or "activity" (the app in front, top-app).
     */
    public BenchRunner launch(String launch) {
        this.launch = launch;
        return this;
    }

    /**
     * Where telemetry readings come from. Without one, the run's {@link Probes} give thermal status,
     * battery temperature and memory (headroom and CPU frequencies absent).
     */
    public BenchRunner telemetryProbe(TelemetrySampler.Probe probe) {
        this.telemetryProbe = probe;
        return this;
    }

    /**
     * Telemetry from plain {@link Probes}: what they know, the rest absent. Their RSS figure is the
     * peak so far, not the resident set now, so rss_bytes stays absent rather than wrong.
     */
    static TelemetrySampler.Probe probeFrom(Probes probes) {
        return () -> {
            Probes.ThermalState thermal = probes.thermal();
            Probes.MemoryUsage memory = probes.memory();
            return new TelemetrySampler.Reading(thermal.status, null, thermal.batteryTempC, null,
                    null, memory.pssBytes);
        };
    }

    /** The runtime's artifact as the app was built with it, e.g. "org.tensorflow:tensorflow-lite:2.16.1". */
    public BenchRunner runtimeArtifact(String artifact) {
        this.runtimeArtifact = artifact;
        return this;
    }

    private void describeRunner(BenchResult result) {
        result.runnerVersion = runnerVersion;
        result.runtime = engine.runtime();
        result.runtimeVersion = engine.runtimeVersion();
        result.runtimeArtifact = runtimeArtifact;
        result.launch = launch;
    }

    /**
     * Reads the request file and runs it. A request that does not parse still gets a failed
     * result.json next to it, so the host always finds one.
     */
    public BenchResult runFile(File requestFile) {
        long started = clock.wallMillis();
        BenchRequest request;
        try {
            request = BenchRequest.fromFile(requestFile);
        } catch (RequestException e) {
            BenchResult result = requestFailure(requestFile, e);
            describeRunner(result);
            result.device = safeDevice();
            result.startedAtMillis = started;
            result.finishedAtMillis = clock.wallMillis();
            try {
                result.write(requestFile.getAbsoluteFile().getParentFile());
            } catch (IOException | RuntimeException ignored) {
                // The caller still gets the result (and the Instrumentation puts it in its bundle).
            }
            engine.close();
            return result;
        }
        return run(request);
    }

    /** A failed result for a request that did not parse, using whatever of it is readable. */
    static BenchResult requestFailure(File requestFile, RequestException e) {
        String runId = "invalid-request";
        String delegate = "cpu";
        int threads = 1;
        try {
            JSONObject raw = new JSONObject(new String(Files.readAllBytes(requestFile.toPath()), StandardCharsets.UTF_8));
            String id = raw.optString("run_id", "");
            if (id.matches("[A-Za-z0-9._-]{1,200}")) {
                runId = id;
            }
            JSONObject d = raw.optJSONObject("delegate");
            if (d != null) {
                if (BenchRequest.DELEGATES.contains(d.optString("name"))) {
                    delegate = d.optString("name");
                }
                threads = Math.max(1, Math.min(64, d.optInt("threads", 1)));
            }
        } catch (Exception ignored) {
            // Unreadable or not JSON: the defaults above stand.
        }
        BenchResult result = new BenchResult(runId, delegate, threads);
        result.error = new BenchResult.Failure("request", "RequestException", e.getMessage());
        return result;
    }

    /** Runs a parsed request; never throws. result.json goes to the request's output folder. */
    public BenchResult run(BenchRequest request) {
        BenchResult result = new BenchResult(request.runId, request.delegate.name, request.delegate.threads);
        result.startedAtMillis = clock.wallMillis();
        result.device = safeDevice();
        describeRunner(result);
        String stage = "request";
        MemorySampler sampler = null;
        TelemetrySampler telemetry = null;
        try {
            if (request.runs.minSecs > request.runs.maxSecs) {
                throw new RequestException("runs.min_secs", "(" + request.runs.minSecs + ") is above runs.max_secs ("
                        + request.runs.maxSecs + ")");
            }
            long telemetryInterval = request.runs.telemetryIntervalNanos();
            if (telemetryInterval > 0) { // 0: sampling off
                telemetry = new TelemetrySampler(telemetryProbe != null ? telemetryProbe : probeFrom(probes), clock,
                        telemetryInterval);
            }
            stage = "load";
            if (telemetry != null) {
                telemetry.start("load");
            }
            result.thermalStart = safeThermal();
            progress("load", 0, 1, true);
            File model = request.modelFile();
            checkModel(request, model, result);

            // A model with free dimensions is allocated once, at the samples' shape: allocating at
            // the stored shape first (1 for every free dimension) makes XNNPACK fail to reshape.
            stage = "inputs";
            List<int[]> inputShapes = InputSet.shapesFor(request, engine.declaredInputs(model));

            stage = "init";
            mark(telemetry, stage, result);
            progress("init", 0, 1, true);
            long t0 = clock.nanoTime();
            AppliedDelegate applied = engine.init(model, request.delegate, inputShapes);
            result.initNs = clock.nanoTime() - t0;
            result.appliedDelegate = applied.name;
            result.fallbackReason = applied.fallbackReason;
            try {
                progress.onApplied(applied);
            } catch (RuntimeException ignored) {
                // Reporting is best effort.
            }

            stage = "inputs";
            mark(telemetry, stage, result);
            InputSet inputs = InputSet.prepare(request, engine.inputs());
            ByteBuffer[] in = inputs.newBuffers();
            ByteBuffer[] out = outputBuffers(engine.outputs());

            // As benchmark_model and the host runner: one first inference on sample 0, then the
            // warmup runs on the samples after it, then the cooldown, then the timed runs from
            // sample 0 again.
            stage = "warmup";
            mark(telemetry, stage, result);
            // From here the model is loaded: sample memory until it is closed (PSS after close()
            // would say little about what the model needed).
            sampler = MemorySampler.start(probes, memoryIntervalMillis);
            int warmup = request.runs.warmupRuns;
            progress("warmup", 0, warmup, true);
            result.firstInferenceNs = timedRun(inputs, in, out, 0);
            for (int i = 0; i < warmup; i++) {
                result.warmupNs.add(timedRun(inputs, in, out, i + 1));
                progress("warmup", i + 1, warmup, i + 1 == warmup);
            }
            sleeper.sleepNanos(secondsToNanos(request.runs.cooldownSecs));

            stage = "run";
            mark(telemetry, stage, result);
            int planned = request.runs.timedRuns;
            long minNs = secondsToNanos(request.runs.minSecs);
            long maxNs = secondsToNanos(request.runs.maxSecs);
            if (request.runs.durationSecs != null) {
                // Sustained: the clock alone ends the loop (as the host runner), every sample kept.
                planned = 1;
                minNs = maxNs = secondsToNanos(request.runs.durationSecs);
            }
            progress("run", 0, planned, true);
            long began = clock.nanoTime();
            int done = 0;
            while (true) {
                result.samplesNs.add(timedRun(inputs, in, out, done));
                done++;
                // One clock reading for the loop's bound and the sampler: sampling adds no clock call.
                long now = clock.nanoTime();
                long elapsed = now - began;
                if (telemetry != null) {
                    telemetry.tick(now, done);
                }
                progress("run", done, Math.max(planned, done), false);
                // At least timed_runs and min_secs, never past max_secs.
                if (elapsed >= maxNs || (done >= planned && elapsed >= minNs)) {
                    break;
                }
            }
            if (telemetry != null) {
                telemetry.mark("run", done);
            }
            progress("run", done, done, true);

            if (request.saveOutputs) {
                stage = "outputs";
                mark(telemetry, stage, result);
                saveOutputs(request, inputs, in, out, result);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            result.error = new BenchResult.Failure(stage, "InterruptedException", "the run was interrupted");
        } catch (RequestException e) {
            result.error = new BenchResult.Failure(stage, "RequestException", e.getMessage());
        } catch (Throwable e) {
            // Native loaders throw Errors (UnsatisfiedLinkError), delegates throw anything: all of it
            // belongs in the result, not in a crashed process.
            result.error = new BenchResult.Failure(stage, e.getClass().getSimpleName(), messageOf(e));
        } finally {
            if (sampler != null) {
                sampler.sampleNow();
            }
            try {
                engine.close();
            } catch (Throwable ignored) {
                // A failing close must not hide the measurements.
            }
        }
        if (result.error != null) {
            // Outputs of a failed run are not listed: they may be partial.
            result.outputs.clear();
        }
        if (telemetry != null) {
            result.telemetry = telemetry.toJson();
        }
        result.thermalEnd = safeThermal();
        result.memory = sampler == null ? safeMemory() : sampler.stop(safeMemory());
        result.finishedAtMillis = clock.wallMillis();
        File dir = request.outputDir();
        try {
            progress("write", 0, 1, true);
            result.write(dir == null ? new File(".") : dir);
        } catch (IOException | RuntimeException e) {
            if (result.error == null) {
                result.error = new BenchResult.Failure("write", e.getClass().getSimpleName(),
                        "cannot write result.json to " + dir + ": " + e.getMessage());
            }
        }
        return result;
    }

    private static void mark(TelemetrySampler telemetry, String stage, BenchResult result) {
        if (telemetry != null) {
            telemetry.mark(stage, result.samplesNs.size());
        }
    }

    private long timedRun(InputSet inputs, ByteBuffer[] in, ByteBuffer[] out, int index) throws Exception {
        inputs.fill(in, index);
        for (ByteBuffer b : out) {
            b.clear();
        }
        long t0 = clock.nanoTime();
        engine.run(in, out);
        long ns = clock.nanoTime() - t0;
        Long inner = engine.lastRunNanos();
        return Math.max(0, inner != null ? inner : ns);
    }

    private void checkModel(BenchRequest request, File model, BenchResult result) throws RequestException, IOException {
        if (!model.isFile()) {
            throw new RequestException("model.path", "model file not found: " + model
                    + " (push it first; relative paths resolve against the request's folder)");
        }
        result.modelSizeBytes = model.length();
        String sha = sha256(model);
        result.modelSha256 = sha;
        if (!sha.equals(request.model.sha256)) {
            throw new RequestException("model.sha256", "the file " + model + " has sha256 " + sha
                    + " but the request says " + request.model.sha256 + ": push the model again");
        }
    }

    private void saveOutputs(BenchRequest request, InputSet inputs, ByteBuffer[] in, ByteBuffer[] out,
                             BenchResult result) throws Exception {
        List<byte[]> collected = new ArrayList<>();
        List<TensorSpec> specs = null;
        progress("outputs", 0, inputs.batches, true);
        for (int b = 0; b < inputs.batches; b++) {
            timedRun(inputs, in, out, b);
            if (specs == null) {
                specs = engine.outputs();
                for (TensorSpec s : specs) {
                    collected.add(new byte[Math.toIntExact(s.bytesPerBatch() * inputs.batches)]);
                }
            }
            for (int k = 0; k < out.length; k++) {
                ByteBuffer view = out[k].duplicate();
                view.position(0);
                int size = Math.toIntExact(specs.get(k).bytesPerBatch());
                view.limit(size);
                view.get(collected.get(k), b * size, size);
            }
            progress("outputs", b + 1, inputs.batches, b + 1 == inputs.batches);
        }
        File dir = request.outputDir();
        for (int k = 0; k < specs.size(); k++) {
            TensorSpec spec = specs.get(k);
            int[] s = spec.shape();
            long[] shape = new long[Math.max(1, s.length)];
            shape[0] = (long) spec.batch() * inputs.batches;
            for (int d = 1; d < s.length; d++) {
                shape[d] = s[d];
            }
            String name = k == 0 ? "outputs.npy" : String.format(Locale.ROOT, "outputs_%d.npy", k);
            Npy.write(new NpyArray(spec.dtype, shape, collected.get(k)), new File(dir, name));
            result.outputs.add(new BenchResult.Output(name, spec.name, shape, spec.dtype));
        }
    }

    private static ByteBuffer[] outputBuffers(List<TensorSpec> specs) {
        ByteBuffer[] out = new ByteBuffer[specs.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ByteBuffer.allocateDirect(Math.toIntExact(specs.get(i).bytesPerBatch())).order(ByteOrder.nativeOrder());
        }
        return out;
    }

    private void progress(String stage, int done, int total, boolean force) {
        long now = clock.nanoTime();
        if (!force && now - lastProgressNs < PROGRESS_INTERVAL_NS) {
            return;
        }
        lastProgressNs = now;
        try {
            progress.onProgress(stage, done, total);
        } catch (RuntimeException ignored) {
            // Reporting is best effort; the measurement goes on.
        }
    }

    private Probes.DeviceFacts safeDevice() {
        try {
            return probes.device();
        } catch (RuntimeException e) {
            return Probes.DeviceFacts.UNKNOWN;
        }
    }

    private Probes.ThermalState safeThermal() {
        try {
            return probes.thermal();
        } catch (RuntimeException e) {
            return Probes.ThermalState.UNKNOWN;
        }
    }

    private Probes.MemoryUsage safeMemory() {
        try {
            return probes.memory();
        } catch (RuntimeException e) {
            return Probes.MemoryUsage.UNKNOWN;
        }
    }

    /** Truncates as the host runner's int(seconds * 1e9) does. */
    static long secondsToNanos(double seconds) {
        double ns = seconds * 1e9;
        return ns >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) ns;
    }

    private static String messageOf(Throwable e) {
        String m = e.getMessage();
        return m == null || m.isEmpty() ? e.toString() : m;
    }

    /** Lowercase hex sha256 of a file, as the request's model.sha256 holds it. */
    public static String sha256(File file) throws IOException {
        MessageDigest digest;
        try {
            digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
        byte[] buffer = new byte[1 << 16];
        try (InputStream in = new FileInputStream(file)) {
            int n;
            while ((n = in.read(buffer)) > 0) {
                digest.update(buffer, 0, n);
            }
        }
        StringBuilder sb = new StringBuilder(64);
        for (byte b : digest.digest()) {
            sb.append(String.format(Locale.ROOT, "%02x", b & 0xff));
        }
        return sb.toString();
    }
}
