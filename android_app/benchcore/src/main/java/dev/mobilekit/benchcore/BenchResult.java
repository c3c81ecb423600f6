package dev.mobilekit.benchcore;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * One run's measurements in the shape of the Python package's bench_result.schema.json. It keeps
 * every raw sample; statistics are the Python side's job. Written at the lowest schema version
 * that holds it, as the Python package writes requests: version 2 when it carries telemetry (a
 * version-2 field), version 1 otherwise, so a version-1 reader still reads every result that
 * holds nothing new. The throttling figure and the flags are the host's to compute.
 */
public final class BenchResult {
    /** The newest version this class writes. */
    public static final int SCHEMA_VERSION = 2;
    public static final String FILE_NAME = "result.json";

    /** A failure: the stage it happened in (the schema's enum), the exception type and message. */
    public static final class Failure {
        public final String stage;
        public final String type;
        public final String message;

        public Failure(String stage, String type, String message) {
            this.stage = stage;
            this.type = type;
            this.message = message == null ? "" : message;
        }
    }

    /** One saved output file, listed in result.outputs. */
    public static final class Output {
        public final String file;
        public final String name;
        public final long[] shape;
        public final DType dtype;

        public Output(String file, String name, long[] shape, DType dtype) {
            this.file = file;
            this.name = name;
            this.shape = shape.clone();
            this.dtype = dtype;
        }
    }

    public final String runId;
    public final String requestedDelegate;
    public final int threads;
    public String runnerKind = "android";
    public String runnerVersion = "";
    public String runtime = "";
    public String runtimeVersion = "";
    /** Optional: the runtime's Maven artifact (runtimeVersion is the runtime's own version string). */
    public String runtimeArtifact;
    /** Optional: "instrumentation" or "activity", how the run was started on the phone. */
    public String launch;

    public Failure error;
    public Probes.DeviceFacts device = Probes.DeviceFacts.UNKNOWN;
    public String modelSha256;
    public Long modelSizeBytes;
    public String appliedDelegate;
    public String fallbackReason;
    public Long initNs;
    public Long firstInferenceNs;
    public final List<Long> warmupNs = new ArrayList<>();
    public final List<Long> samplesNs = new ArrayList<>();
    public Probes.MemoryUsage memory = Probes.MemoryUsage.UNKNOWN;
    public Probes.ThermalState thermalStart = Probes.ThermalState.UNKNOWN;
    public Probes.ThermalState thermalEnd = Probes.ThermalState.UNKNOWN;
    public final List<Output> outputs = new ArrayList<>();
    public long startedAtMillis;
    public long finishedAtMillis;
    /** Version 2: the telemetry samples ({@link TelemetrySampler#toJson}); null when not sampled. */
    public JSONArray telemetry;

    /** Where result.json was written, once it was. */
    public File resultFile;

    public BenchResult(String runId, String requestedDelegate, int threads) {
        if (!BenchRequest.DELEGATES.contains(requestedDelegate)) {
            throw new IllegalArgumentException("unknown delegate " + requestedDelegate);
        }
        this.runId = runId;
        this.requestedDelegate = requestedDelegate;
        this.threads = Math.max(1, threads);
    }

    public String status() {
        return error == null ? "ok" : "failed";
    }

    public boolean ok() {
        return error == null;
    }

    public long[] samples() {
        long[] out = new long[samplesNs.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = samplesNs.get(i);
        }
        return out;
    }

    /** Statistics of the timed samples, or null when there are none (a failed run). */
    public Stats stats() {
        return samplesNs.isEmpty() ? null : Stats.of(samples());
    }

    public List<Output> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    /** 2 when a version-2 field is present (telemetry), else 1. */
    public int schemaVersion() {
        return telemetry != null ? 2 : 1;
    }

    public JSONObject toJson() {
        JSONObject o = new JSONObject();
        Json.put(o, "schema_version", schemaVersion());
        Json.put(o, "run_id", runId);
        Json.put(o, "status", status());
        if (error == null) {
            Json.put(o, "error", null);
        } else {
            JSONObject e = new JSONObject();
            Json.put(e, "stage", error.stage);
            Json.put(e, "type", error.type);
            Json.put(e, "message", error.message);
            Json.put(o, "error", e);
        }
        JSONObject runner = new JSONObject();
        Json.put(runner, "kind", runnerKind);
        Json.put(runner, "version", runnerVersion);
        Json.put(runner, "runtime", runtime);
        Json.put(runner, "runtime_version", runtimeVersion);
        if (runtimeArtifact != null) {
            Json.put(runner, "runtime_artifact", runtimeArtifact);
        }
        if (launch != null) {
            Json.put(runner, "launch", launch);
        }
        Json.put(o, "runner", runner);
        Json.put(o, "device", device.toJson());
        JSONObject model = new JSONObject();
        Json.put(model, "sha256", modelSha256);
        Json.put(model, "size_bytes", modelSizeBytes);
        Json.put(o, "model", model);
        JSONObject delegate = new JSONObject();
        Json.put(delegate, "requested", requestedDelegate);
        Json.put(delegate, "applied", appliedDelegate);
        Json.put(delegate, "fallback_reason", fallbackReason);
        Json.put(delegate, "threads", threads);
        Json.put(o, "delegate", delegate);
        JSONObject timing = new JSONObject();
        Json.put(timing, "init_ns", initNs);
        Json.put(timing, "first_inference_ns", firstInferenceNs);
        Json.put(timing, "warmup_ns", new JSONArray(warmupNs));
        Json.put(timing, "samples_ns", new JSONArray(samplesNs));
        Json.put(o, "timing", timing);
        Json.put(o, "memory", memory.toJson());
        JSONObject thermal = new JSONObject();
        Json.put(thermal, "start", thermalStart.toJson());
        Json.put(thermal, "end", thermalEnd.toJson());
        Json.put(o, "thermal", thermal);
        JSONArray outs = new JSONArray();
        for (Output out : outputs) {
            JSONObject j = new JSONObject();
            Json.put(j, "file", out.file);
            Json.put(j, "name", out.name);
            JSONArray shape = new JSONArray();
            for (long d : out.shape) {
                shape.put(d);
            }
            Json.put(j, "shape", shape);
            Json.put(j, "dtype", out.dtype.numpyName);
            outs.put(j);
        }
        Json.put(o, "outputs", outs);
        Json.put(o, "started_at", iso(startedAtMillis));
        Json.put(o, "finished_at", iso(finishedAtMillis));
        if (telemetry != null) {
            Json.put(o, "telemetry", telemetry);
        }
        return o;
    }

    /** ISO 8601 UTC with millisecond precision, e.g. 2026-11-22T04:41:45.123Z. */
    static String iso(long epochMillis) {
        Instant t = Instant.ofEpochMilli(epochMillis);
        String s = t.toString();
        // Instant.toString drops a zero fraction; keep one width so the field sorts as text.
        return t.getNano() == 0 ? s.replace("Z", ".000Z") : s;
    }

    /** Writes result.json into {@code dir} atomically and remembers where. */
    public File write(File dir) throws IOException {
        File file = new File(dir, FILE_NAME);
        String text;
        try {
            text = toJson().toString(2) + "\n";
        } catch (JSONException e) {
            throw new IOException("cannot serialise the result: " + e.getMessage(), e);
        }
        AtomicFiles.write(file, text.getBytes(StandardCharsets.UTF_8));
        resultFile = file;
        return file;
    }
}
