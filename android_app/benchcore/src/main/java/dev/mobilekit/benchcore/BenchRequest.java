package dev.mobilekit.benchcore;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

import org.json.JSONArray;
import org.json.JSONException;
import org.json.JSONObject;

/**
 * A parsed, validated bench request. The rules are those of the Python package's
 * bench_request.schema.json (schema versions 1 and 2), checked by hand because Android ships no
 * JSON Schema validator; the shared fixtures in tests/fixtures/protocol keep the two in step.
 * Version 2 adds runs.duration_secs, runs.telemetry_interval_secs and inputs.shapes, all optional;
 * a version-1 request may not carry them.
 */
public final class BenchRequest {
    /** The newest version this app reads (and writes, when a request needs it). */
    public static final int SCHEMA_VERSION = 2;
    /** Every version this app reads, as the Python package's READABLE_VERSIONS. */
    public static final List<Integer> READABLE_VERSIONS = Collections.unmodifiableList(Arrays.asList(1, 2));
    public static final List<String> DELEGATES =
            Collections.unmodifiableList(Arrays.asList("cpu", "xnnpack", "gpu", "nnapi"));

    private static final Pattern RUN_ID = Pattern.compile("[A-Za-z0-9._-]+");
    private static final Pattern SHA256 = Pattern.compile("[0-9a-f]{64}");
    private static final Set<String> TOP_KEYS = keys("schema_version", "run_id", "model", "delegate",
            "runs", "inputs", "save_outputs", "output_dir");
    private static final Set<String> MODEL_KEYS = keys("path", "sha256", "size_bytes");
    private static final Set<String> DELEGATE_KEYS = keys("name", "threads", "gpu_precision_loss_allowed",
            "nnapi_accelerator", "nnapi_allow_fp16");
    private static final Set<String> RUNS_KEYS = keys("warmup_runs", "timed_runs", "min_secs", "max_secs",
            "cooldown_secs", "duration_secs", "telemetry_interval_secs");
    private static final List<String> RUNS_V2_KEYS = Arrays.asList("duration_secs", "telemetry_interval_secs");

    /** The request's schema_version as written (1 or 2). */
    public final int schemaVersion;
    public final String runId;
    public final Model model;
    public final Delegate delegate;
    public final Runs runs;
    public final Inputs inputs;
    public final boolean saveOutputs;
    /** output_dir as written, or null when absent. */
    public final String outputDirRaw;
    /** The folder relative paths resolve against (the request file's folder); may be null. */
    public final File baseDir;

    /** The model to run: path as written, its sha256 and (optionally) its size. */
    public static final class Model {
        public final String path;
        public final String sha256;
        public final Long sizeBytes;

        Model(String path, String sha256, Long sizeBytes) {
            this.path = path;
            this.sha256 = sha256;
            this.sizeBytes = sizeBytes;
        }
    }

    /** The requested delegate and its options, with the schema's defaults filled in. */
    public static final class Delegate {
        public final String name;
        public final int threads;
        public final boolean gpuPrecisionLossAllowed;
        public final String nnapiAccelerator;
        public final boolean nnapiAllowFp16;

        public Delegate(String name, int threads, boolean gpuPrecisionLossAllowed, String nnapiAccelerator,
                        boolean nnapiAllowFp16) {
            this.name = name;
            this.threads = threads;
            this.gpuPrecisionLossAllowed = gpuPrecisionLossAllowed;
            this.nnapiAccelerator = nnapiAccelerator;
            this.nnapiAllowFp16 = nnapiAllowFp16;
        }
    }

    /** How many runs and for how long; seconds are as requested, with the schema's defaults. */
    public static final class Runs {
        public final int warmupRuns;
        public final int timedRuns;
        public final double minSecs;
        public final double maxSecs;
        public final double cooldownSecs;
        /** Version 2: time the runs for this many wall-clock seconds instead of a count; null: absent. */
        public final Double durationSecs;
        /** Version 2: seconds between telemetry samples; null: the runner's default (1 s); 0: off. */
        public final Double telemetryIntervalSecs;

        public Runs(int warmupRuns, int timedRuns, double minSecs, double maxSecs, double cooldownSecs) {
            this(warmupRuns, timedRuns, minSecs, maxSecs, cooldownSecs, null, null);
        }

        public Runs(int warmupRuns, int timedRuns, double minSecs, double maxSecs, double cooldownSecs,
                    Double durationSecs, Double telemetryIntervalSecs) {
            this.warmupRuns = warmupRuns;
            this.timedRuns = timedRuns;
            this.minSecs = minSecs;
            this.maxSecs = maxSecs;
            this.cooldownSecs = cooldownSecs;
            this.durationSecs = durationSecs;
            this.telemetryIntervalSecs = telemetryIntervalSecs;
        }

        /** The telemetry interval in nanoseconds: 1 s by default, 0 when sampling is off. */
        public long telemetryIntervalNanos() {
            if (telemetryIntervalSecs == null) {
                return TelemetrySampler.DEFAULT_INTERVAL_NANOS;
            }
            return BenchRunner.secondsToNanos(telemetryIntervalSecs);
        }

        /** Whether anything here needs schema version 2. */
        boolean needsVersion2() {
            return durationSecs != null || telemetryIntervalSecs != null;
        }
    }

    /** Either seeded random inputs or one .npy file per model input. */
    public static final class Inputs {
        public final String kind;
        public final long seed;
        public final List<String> files;
        /** Random inputs only (version 2): one shape per input, for a model with free dimensions; else null. */
        public final List<int[]> shapes;

        Inputs(String kind, long seed, List<String> files) {
            this(kind, seed, files, null);
        }

        Inputs(String kind, long seed, List<String> files, List<int[]> shapes) {
            this.kind = kind;
            this.seed = seed;
            this.files = Collections.unmodifiableList(new ArrayList<>(files));
            this.shapes = shapes == null ? null : Collections.unmodifiableList(new ArrayList<>(shapes));
        }

        public boolean isRandom() {
            return kind.equals("random");
        }
    }

    private BenchRequest(int schemaVersion, String runId, Model model, Delegate delegate, Runs runs, Inputs inputs,
                         boolean saveOutputs, String outputDirRaw, File baseDir) {
        this.schemaVersion = schemaVersion;
        this.runId = runId;
        this.model = model;
        this.delegate = delegate;
        this.runs = runs;
        this.inputs = inputs;
        this.saveOutputs = saveOutputs;
        this.outputDirRaw = outputDirRaw;
        this.baseDir = baseDir;
    }

    /** Reads and validates a request file; relative paths in it resolve against its folder. */
    public static BenchRequest fromFile(File file) throws RequestException {
        String text;
        try {
            text = new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new RequestException("request", "cannot read " + file + ": " + e);
        }
        return parse(text, file.getAbsoluteFile().getParentFile());
    }

    public static BenchRequest parse(String json, File baseDir) throws RequestException {
        JSONObject root;
        try {
            Object value = new org.json.JSONTokener(json).nextValue();
            if (!(value instanceof JSONObject)) {
                throw new RequestException("request", "must be a JSON object");
            }
            root = (JSONObject) value;
        } catch (JSONException e) {
            throw new RequestException("request", "not valid JSON: " + e.getMessage());
        }
        return fromJson(root, baseDir);
    }

    public static BenchRequest fromJson(JSONObject root, File baseDir) throws RequestException {
        checkKeys(root, TOP_KEYS, "");
        require(root, "", "schema_version", "run_id", "model", "delegate", "runs", "inputs", "save_outputs");

        Object version = root.opt("schema_version");
        // Strictly the JSON integer 1 or 2, as the Python reader checks it (1.0 is refused there too).
        if (!(version instanceof Integer || version instanceof Long)
                || !READABLE_VERSIONS.contains((int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE,
                        ((Number) version).longValue())))) {
            throw new RequestException("schema_version", "this app reads schema_version 1 or 2, got "
                    + describe(version) + "; update the app or mobilekit so both speak the same version");
        }
        int schemaVersion = ((Number) version).intValue();
        String runId = string(root, "run_id", "run_id");
        if (runId.isEmpty() || runId.length() > 200 || !RUN_ID.matcher(runId).matches()) {
            throw new RequestException("run_id", "must be 1-200 characters of A-Z a-z 0-9 . _ -, got "
                    + JSONObject.quote(runId));
        }

        JSONObject modelJson = object(root, "model", "model");
        checkKeys(modelJson, MODEL_KEYS, "model.");
        require(modelJson, "model.", "path", "sha256");
        String modelPath = nonEmptyString(modelJson, "path", "model.path");
        String sha256 = string(modelJson, "sha256", "model.sha256");
        if (!SHA256.matcher(sha256).matches()) {
            throw new RequestException("model.sha256", "must be 64 lowercase hex digits, got " + JSONObject.quote(sha256));
        }
        Long sizeBytes = null;
        if (modelJson.has("size_bytes")) {
            sizeBytes = integer(modelJson, "size_bytes", "model.size_bytes", 0, Long.MAX_VALUE);
        }

        JSONObject delegateJson = object(root, "delegate", "delegate");
        checkKeys(delegateJson, DELEGATE_KEYS, "delegate.");
        require(delegateJson, "delegate.", "name", "threads");
        Object nameValue = delegateJson.opt("name");
        if (!(nameValue instanceof String) || !DELEGATES.contains(nameValue)) {
            throw new RequestException("delegate.name", "unknown delegate " + describe(nameValue)
                    + ": use one of cpu, xnnpack, gpu, nnapi");
        }
        int threads = (int) integer(delegateJson, "threads", "delegate.threads", 1, 64);
        boolean precisionLoss = bool(delegateJson, "gpu_precision_loss_allowed", "delegate.gpu_precision_loss_allowed", false);
        String accelerator = null;
        if (delegateJson.has("nnapi_accelerator") && !delegateJson.isNull("nnapi_accelerator")) {
            accelerator = string(delegateJson, "nnapi_accelerator", "delegate.nnapi_accelerator");
        }
        boolean fp16 = bool(delegateJson, "nnapi_allow_fp16", "delegate.nnapi_allow_fp16", false);

        JSONObject runsJson = object(root, "runs", "runs");
        checkKeys(runsJson, RUNS_KEYS, "runs.");
        require(runsJson, "runs.", "warmup_runs", "timed_runs");
        int warmup = (int) integer(runsJson, "warmup_runs", "runs.warmup_runs", 0, Integer.MAX_VALUE);
        int timed = (int) integer(runsJson, "timed_runs", "runs.timed_runs", 1, Integer.MAX_VALUE);
        double minSecs = number(runsJson, "min_secs", "runs.min_secs", 0.0, false, 0.0);
        double maxSecs = number(runsJson, "max_secs", "runs.max_secs", 0.0, true, 150.0);
        double cooldown = number(runsJson, "cooldown_secs", "runs.cooldown_secs", 0.0, false, 0.0);
        if (schemaVersion == 1) {
            for (String key : RUNS_V2_KEYS) {
                if (runsJson.has(key)) {
                    throw new RequestException("runs." + key, "is a schema version 2 field but the request says "
                            + "schema_version 1: write schema_version 2");
                }
            }
        }
        Double duration = runsJson.has("duration_secs")
                ? number(runsJson, "duration_secs", "runs.duration_secs", 0.0, true, 0.0) : null;
        Double telemetryInterval = runsJson.has("telemetry_interval_secs")
                ? number(runsJson, "telemetry_interval_secs", "runs.telemetry_interval_secs", 0.0, false, 0.0) : null;

        JSONObject inputsJson = object(root, "inputs", "inputs");
        if (schemaVersion == 1 && inputsJson.has("shapes")) {
            throw new RequestException("inputs.shapes", "is a schema version 2 field but the request says "
                    + "schema_version 1: write schema_version 2");
        }
        Inputs inputs = inputs(inputsJson);

        Object save = root.opt("save_outputs");
        if (!(save instanceof Boolean)) {
            throw new RequestException("save_outputs", "must be true or false, got " + describe(save));
        }
        String outputDir = null;
        if (root.has("output_dir")) {
            outputDir = string(root, "output_dir", "output_dir");
        }
        return new BenchRequest(schemaVersion, runId, new Model(modelPath, sha256, sizeBytes),
                new Delegate((String) nameValue, threads, precisionLoss, accelerator, fp16),
                new Runs(warmup, timed, minSecs, maxSecs, cooldown, duration, telemetryInterval), inputs, (Boolean) save, outputDir, baseDir);
    }

    private static Inputs inputs(JSONObject json) throws RequestException {
        Object kind = json.opt("kind");
        if ("random".equals(kind)) {
            checkKeys(json, keys("kind", "seed", "shapes"), "inputs.");
            require(json, "inputs.", "seed");
            long seed = integer(json, "seed", "inputs.seed", 0, Long.MAX_VALUE);
            return new Inputs("random", seed, Collections.<String>emptyList(), json.has("shapes") ? shapes(json) : null);
        }
        if ("npy".equals(kind)) {
            checkKeys(json, keys("kind", "files"), "inputs.");
            require(json, "inputs.", "files");
            Object filesValue = json.opt("files");
            if (!(filesValue instanceof JSONArray) || ((JSONArray) filesValue).length() == 0) {
                throw new RequestException("inputs.files", "must be a non-empty list of .npy paths, one per model input, got "
                        + describe(filesValue));
            }
            JSONArray array = (JSONArray) filesValue;
            List<String> files = new ArrayList<>();
            for (int i = 0; i < array.length(); i++) {
                Object f = array.opt(i);
                if (!(f instanceof String) || ((String) f).isEmpty()) {
                    throw new RequestException("inputs.files[" + i + "]", "must be a non-empty path, got " + describe(f));
                }
                files.add((String) f);
            }
            return new Inputs("npy", 0, files);
        }
        if (kind == null) {
            throw new RequestException("inputs.kind", "missing: use {\"kind\": \"random\", \"seed\": 0} or {\"kind\": \"npy\", \"files\": [...]}");
        }
        throw new RequestException("inputs.kind", "unknown input kind " + describe(kind) + ": use \"random\" or \"npy\"");
    }

    private static List<int[]> shapes(JSONObject json) throws RequestException {
        Object value = json.opt("shapes");
        if (!(value instanceof JSONArray) || ((JSONArray) value).length() == 0) {
            throw new RequestException("inputs.shapes", "must be a non-empty list of shapes, one per model input, got "
                    + describe(value));
        }
        JSONArray array = (JSONArray) value;
        List<int[]> out = new ArrayList<>();
        for (int i = 0; i < array.length(); i++) {
            String field = "inputs.shapes[" + i + "]";
            Object shape = array.opt(i);
            if (!(shape instanceof JSONArray)) {
                throw new RequestException(field, "must be a list of dimensions, got " + describe(shape));
            }
            JSONArray dims = (JSONArray) shape;
            int[] dimensions = new int[dims.length()];
            for (int d = 0; d < dimensions.length; d++) {
                Object dim = dims.opt(d);
                if (!(dim instanceof Integer || dim instanceof Long) || ((Number) dim).longValue() < 1
                        || ((Number) dim).longValue() > Integer.MAX_VALUE) {
                    throw new RequestException(field, "dimensions must be integers of at least 1, got " + describe(dim));
                }
                dimensions[d] = ((Number) dim).intValue();
            }
            out.add(dimensions);
        }
        return out;
    }

    // ---- paths

    public File resolve(String path) {
        File f = new File(path);
        if (f.isAbsolute() || baseDir == null) {
            return f;
        }
        return new File(baseDir, path);
    }

    public File modelFile() {
        return resolve(model.path);
    }

    public List<File> inputFiles() {
        List<File> out = new ArrayList<>();
        for (String f : inputs.files) {
            out.add(resolve(f));
        }
        return out;
    }

    /** Where result.json goes: output_dir if given, else the request file's folder. */
    public File outputDir() {
        if (outputDirRaw != null) {
            return resolve(outputDirRaw);
        }
        return baseDir;
    }

    // ---- back to JSON

    /** The request as JSON with the schema's defaults filled in (what this parser understood). */
    public JSONObject toJson() {
        try {
            JSONObject o = new JSONObject();
            // As the Python writer: the version read, raised to 2 when a version-2 field is set.
            o.put("schema_version", Math.max(schemaVersion, runs.needsVersion2() ? 2 : 1));
            o.put("run_id", runId);
            JSONObject m = new JSONObject();
            m.put("path", model.path);
            m.put("sha256", model.sha256);
            if (model.sizeBytes != null) {
                m.put("size_bytes", (long) model.sizeBytes);
            }
            o.put("model", m);
            JSONObject d = new JSONObject();
            d.put("name", delegate.name);
            d.put("threads", delegate.threads);
            d.put("gpu_precision_loss_allowed", delegate.gpuPrecisionLossAllowed);
            d.put("nnapi_accelerator", delegate.nnapiAccelerator == null ? JSONObject.NULL : delegate.nnapiAccelerator);
            d.put("nnapi_allow_fp16", delegate.nnapiAllowFp16);
            o.put("delegate", d);
            JSONObject r = new JSONObject();
            r.put("warmup_runs", runs.warmupRuns);
            r.put("timed_runs", runs.timedRuns);
            r.put("min_secs", runs.minSecs);
            r.put("max_secs", runs.maxSecs);
            r.put("cooldown_secs", runs.cooldownSecs);
            if (runs.durationSecs != null) {
                r.put("duration_secs", (double) runs.durationSecs);
            }
            if (runs.telemetryIntervalSecs != null) {
                r.put("telemetry_interval_secs", (double) runs.telemetryIntervalSecs);
            }
            o.put("runs", r);
            JSONObject i = new JSONObject();
            i.put("kind", inputs.kind);
            if (inputs.isRandom()) {
                i.put("seed", inputs.seed);
                if (inputs.shapes != null) {
                    JSONArray shapes = new JSONArray();
                    for (int[] shape : inputs.shapes) {
                        JSONArray dims = new JSONArray();
                        for (int size : shape) {
                            dims.put(size);
                        }
                        shapes.put(dims);
                    }
                    i.put("shapes", shapes);
                }
            } else {
                i.put("files", new JSONArray(inputs.files));
            }
            o.put("inputs", i);
            o.put("save_outputs", saveOutputs);
            if (outputDirRaw != null) {
                o.put("output_dir", outputDirRaw);
            }
            return o;
        } catch (JSONException e) {
            throw new AssertionError(e);
        }
    }

    // ---- validation helpers, each naming the field it checks

    private static Set<String> keys(String... names) {
        return Collections.unmodifiableSet(new HashSet<>(Arrays.asList(names)));
    }

    private static void checkKeys(JSONObject json, Set<String> allowed, String prefix) throws RequestException {
        List<String> unknown = new ArrayList<>();
        Iterator<String> it = json.keys();
        while (it.hasNext()) {
            String k = it.next();
            if (!allowed.contains(k)) {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            Collections.sort(unknown);
            List<String> known = new ArrayList<>(allowed);
            Collections.sort(known);
            throw new RequestException(prefix + unknown.get(0), "unknown field" + (unknown.size() > 1 ? "s " + unknown : "")
                    + " (schema_version 1 allows " + known + ")");
        }
    }

    private static void require(JSONObject json, String prefix, String... names) throws RequestException {
        for (String n : names) {
            if (!json.has(n)) {
                throw new RequestException(prefix + n, "missing (required)");
            }
        }
    }

    private static boolean isIntegral(Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) {
            return true;
        }
        double d = n.doubleValue();
        return !Double.isInfinite(d) && !Double.isNaN(d) && d == Math.rint(d);
    }

    static String describe(Object value) {
        if (value == null) {
            return "nothing";
        }
        if (value == JSONObject.NULL) {
            return "null";
        }
        if (value instanceof String) {
            return JSONObject.quote((String) value);
        }
        if (value instanceof JSONObject) {
            return "an object";
        }
        if (value instanceof JSONArray) {
            return "a list";
        }
        return String.valueOf(value);
    }

    private static JSONObject object(JSONObject json, String key, String field) throws RequestException {
        Object v = json.opt(key);
        if (!(v instanceof JSONObject)) {
            throw new RequestException(field, "must be an object, got " + describe(v));
        }
        return (JSONObject) v;
    }

    private static String string(JSONObject json, String key, String field) throws RequestException {
        Object v = json.opt(key);
        if (!(v instanceof String)) {
            throw new RequestException(field, "must be a string, got " + describe(v));
        }
        return (String) v;
    }

    private static String nonEmptyString(JSONObject json, String key, String field) throws RequestException {
        String s = string(json, key, field);
        if (s.isEmpty()) {
            throw new RequestException(field, "must not be empty");
        }
        return s;
    }

    private static long integer(JSONObject json, String key, String field, long min, long max) throws RequestException {
        Object v = json.opt(key);
        if (!(v instanceof Number) || !isIntegral((Number) v)) {
            throw new RequestException(field, "must be an integer, got " + describe(v));
        }
        double d = ((Number) v).doubleValue();
        long value = ((Number) v).longValue();
        if (d < min || d > max || value < min || value > max) {
            String range = max == Long.MAX_VALUE || max == Integer.MAX_VALUE ? ">= " + min : "from " + min + " to " + max;
            throw new RequestException(field, "must be an integer " + range + ", got " + describe(v));
        }
        return value;
    }

    private static double number(JSONObject json, String key, String field, double min, boolean exclusive,
                                 double fallback) throws RequestException {
        if (!json.has(key)) {
            return fallback;
        }
        Object v = json.opt(key);
        if (!(v instanceof Number)) {
            throw new RequestException(field, "must be a number, got " + describe(v));
        }
        double d = ((Number) v).doubleValue();
        if (Double.isNaN(d) || (exclusive ? d <= min : d < min)) {
            throw new RequestException(field, String.format(Locale.ROOT, "must be %s %s, got %s",
                    exclusive ? ">" : ">=", min == Math.rint(min) ? String.valueOf((long) min) : String.valueOf(min),
                    describe(v)));
        }
        return d;
    }

    private static boolean bool(JSONObject json, String key, String field, boolean fallback) throws RequestException {
        if (!json.has(key)) {
            return fallback;
        }
        Object v = json.opt(key);
        if (!(v instanceof Boolean)) {
            throw new RequestException(field, "must be true or false, got " + describe(v));
        }
        return (Boolean) v;
    }
}
