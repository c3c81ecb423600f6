package dev.mobilekit.benchcore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.util.Locale;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

public class BenchRequestTest {
    static final String SHA = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /** A minimal valid request, for tests to break one field at a time. */
    static JSONObject valid() throws Exception {
        return new JSONObject("{\"schema_version\": 1, \"run_id\": \"r1\","
                + " \"model\": {\"path\": \"model.tflite\", \"sha256\": \"" + SHA + "\"},"
                + " \"delegate\": {\"name\": \"cpu\", \"threads\": 2},"
                + " \"runs\": {\"warmup_runs\": 1, \"timed_runs\": 5},"
                + " \"inputs\": {\"kind\": \"random\", \"seed\": 0}, \"save_outputs\": false}");
    }

    private static String rejectedField(JSONObject request) {
        try {
            BenchRequest.fromJson(request, new File("/base"));
        } catch (RequestException e) {
            assertTrue("message should start with the field: " + e.getMessage(), e.getMessage().startsWith(e.field + ": "));
            return e.field;
        }
        fail("accepted an invalid request: " + request);
        return null;
    }

    @Test
    public void minimalRequestParsesWithSchemaDefaults() throws Exception {
        BenchRequest r = BenchRequest.fromJson(valid(), new File("/base"));
        assertEquals("r1", r.runId);
        assertEquals("cpu", r.delegate.name);
        assertEquals(2, r.delegate.threads);
        assertFalse(r.delegate.gpuPrecisionLossAllowed);
        assertNull(r.delegate.nnapiAccelerator);
        assertEquals(0.0, r.runs.minSecs, 0);
        assertEquals(150.0, r.runs.maxSecs, 0);
        assertEquals(0.0, r.runs.cooldownSecs, 0);
        assertTrue(r.inputs.isRandom());
        assertEquals(new File("/base/model.tflite"), r.modelFile());
        assertEquals(new File("/base"), r.outputDir());
    }

    @Test
    public void absolutePathsStayAndOutputDirResolves() throws Exception {
        JSONObject j = valid();
        j.getJSONObject("model").put("path", "/sdcard/m.tflite");
        j.put("output_dir", "out");
        j.put("inputs", new JSONObject("{\"kind\": \"npy\", \"files\": [\"x.npy\", \"/abs/y.npy\"]}"));
        BenchRequest r = BenchRequest.fromJson(j, new File("/base"));
        assertEquals(new File("/sdcard/m.tflite"), r.modelFile());
        assertEquals(new File("/base/out"), r.outputDir());
        assertEquals(new File("/base/x.npy"), r.inputFiles().get(0));
        assertEquals(new File("/abs/y.npy"), r.inputFiles().get(1));
    }

    @Test
    public void integralFloatsCountAsIntegersAsInJsonSchema() throws Exception {
        JSONObject j = valid();
        j.getJSONObject("delegate").put("threads", 4.0);
        assertEquals(4, BenchRequest.fromJson(j, null).delegate.threads);
    }

    @Test
    public void rejectsMissingModel() throws Exception {
        JSONObject j = valid();
        j.remove("model");
        assertEquals("model", rejectedField(j));
        j = valid();
        j.getJSONObject("model").remove("path");
        assertEquals("model.path", rejectedField(j));
        j = valid();
        j.getJSONObject("model").put("path", "");
        assertEquals("model.path", rejectedField(j));
    }

    @Test
    public void rejectsUnknownDelegate() throws Exception {
        JSONObject j = valid();
        j.getJSONObject("delegate").put("name", "tpu");
        assertEquals("delegate.name", rejectedField(j));
    }

    @Test
    public void rejectsThreadsBelowOneOrAboveSixtyFour() throws Exception {
        for (Object threads : new Object[] {0, -1, 65, 1.5, "2", true}) {
            JSONObject j = valid();
            j.getJSONObject("delegate").put("threads", threads);
            assertEquals("threads " + threads, "delegate.threads", rejectedField(j));
        }
    }

    @Test
    public void rejectsRunsBelowOne() throws Exception {
        JSONObject j = valid();
        j.getJSONObject("runs").put("timed_runs", 0);
        assertEquals("runs.timed_runs", rejectedField(j));
        j = valid();
        j.getJSONObject("runs").put("warmup_runs", -1);
        assertEquals("runs.warmup_runs", rejectedField(j));
        j = valid();
        j.getJSONObject("runs").put("max_secs", 0);
        assertEquals("runs.max_secs", rejectedField(j));
        j = valid();
        j.getJSONObject("runs").put("min_secs", -0.5);
        assertEquals("runs.min_secs", rejectedField(j));
        j = valid();
        j.getJSONObject("runs").put("cooldown_secs", "1");
        assertEquals("runs.cooldown_secs", rejectedField(j));
    }

    @Test
    public void rejectsUnknownFieldsAtEveryLevel() throws Exception {
        JSONObject j = valid();
        j.put("colour", "red");
        assertEquals("colour", rejectedField(j));
        j = valid();
        j.getJSONObject("delegate").put("use_xnnpack", true);
        assertEquals("delegate.use_xnnpack", rejectedField(j));
        j = valid();
        j.getJSONObject("runs").put("repeat", 3);
        assertEquals("runs.repeat", rejectedField(j));
        j = valid();
        j.getJSONObject("inputs").put("files", new JSONArray());
        assertEquals("inputs.files", rejectedField(j));
    }

    @Test
    public void rejectsAnotherSchemaVersion() throws Exception {
        for (Object version : new Object[] {3, 0, -1, 4294967297L, "1", 1.5, 1.0, 2.0, true}) {
            JSONObject j = valid();
            j.put("schema_version", version);
            assertEquals("schema_version", rejectedField(j));
        }
        JSONObject j = valid();
        j.remove("schema_version");
        assertEquals("schema_version", rejectedField(j));
    }

    @Test
    public void rejectsBadIdentifiersAndInputs() throws Exception {
        JSONObject j = valid();
        j.put("run_id", "a/b");
        assertEquals("run_id", rejectedField(j));
        j = valid();
        j.getJSONObject("model").put("sha256", SHA.toUpperCase(Locale.ROOT));
        assertEquals("model.sha256", rejectedField(j));
        j = valid();
        j.put("inputs", new JSONObject("{\"kind\": \"npy\", \"files\": []}"));
        assertEquals("inputs.files", rejectedField(j));
        j = valid();
        j.put("inputs", new JSONObject("{\"kind\": \"npy\", \"files\": [\"\"]}"));
        assertEquals("inputs.files[0]", rejectedField(j));
        j = valid();
        j.put("inputs", new JSONObject("{\"kind\": \"random\", \"seed\": -3}"));
        assertEquals("inputs.seed", rejectedField(j));
        j = valid();
        j.put("inputs", new JSONObject("{\"kind\": \"camera\"}"));
        assertEquals("inputs.kind", rejectedField(j));
        j = valid();
        j.put("save_outputs", "yes");
        assertEquals("save_outputs", rejectedField(j));
    }

    @Test
    public void rejectsTextThatIsNotAnObject() {
        for (String text : new String[] {"", "[1, 2]", "{\"schema_version\": 1,"}) {
            try {
                BenchRequest.parse(text, null);
                fail("accepted " + text);
            } catch (RequestException e) {
                assertEquals("request", e.field);
            }
        }
    }

    @Test
    public void toJsonRoundTrips() throws Exception {
        JSONObject j = valid();
        j.getJSONObject("delegate").put("name", "nnapi").put("nnapi_accelerator", "google-edgetpu").put("nnapi_allow_fp16", true);
        BenchRequest r = BenchRequest.fromJson(j, null);
        BenchRequest again = BenchRequest.fromJson(r.toJson(), null);
        assertEquals(r.toJson().toString(), again.toJson().toString());
        assertEquals("google-edgetpu", again.delegate.nnapiAccelerator);
    }

    @Test
    public void version2ReadsDurationAndTelemetryInterval() throws Exception {
        JSONObject j = valid();
        j.put("schema_version", 2);
        BenchRequest plain = BenchRequest.fromJson(j, new File("/base"));
        assertEquals(2, plain.schemaVersion);
        assertNull(plain.runs.durationSecs);
        assertNull(plain.runs.telemetryIntervalSecs);
        assertEquals(TelemetrySampler.DEFAULT_INTERVAL_NANOS, plain.runs.telemetryIntervalNanos());
        assertEquals(2, plain.toJson().getInt("schema_version"));
        assertFalse(plain.toJson().getJSONObject("runs").has("duration_secs"));

        j.getJSONObject("runs").put("duration_secs", 120).put("telemetry_interval_secs", 0.25);
        BenchRequest r = BenchRequest.fromJson(j, new File("/base"));
        assertEquals(120.0, r.runs.durationSecs, 0.0);
        assertEquals(0.25, r.runs.telemetryIntervalSecs, 0.0);
        assertEquals(250_000_000L, r.runs.telemetryIntervalNanos());
        JSONObject runs = r.toJson().getJSONObject("runs");
        assertEquals(120.0, runs.getDouble("duration_secs"), 0.0);
        assertEquals(0.25, runs.getDouble("telemetry_interval_secs"), 0.0);

        j.getJSONObject("runs").put("telemetry_interval_secs", 0);
        assertEquals(0L, BenchRequest.fromJson(j, new File("/base")).runs.telemetryIntervalNanos());
    }

    @Test
    public void version2FieldsAreCheckedAndRefusedInVersion1() throws Exception {
        for (String key : new String[] {"duration_secs", "telemetry_interval_secs"}) {
            JSONObject j = valid();
            j.getJSONObject("runs").put(key, 5);
            assertEquals("runs." + key, rejectedField(j));
            j.put("schema_version", 2);
            BenchRequest.fromJson(j, new File("/base"));
        }
        for (Object bad : new Object[] {0, -1, "5", true}) {
            JSONObject j = valid();
            j.put("schema_version", 2);
            j.getJSONObject("runs").put("duration_secs", bad);
            assertEquals("runs.duration_secs", rejectedField(j));
        }
        for (Object bad : new Object[] {-0.5, "1", false}) {
            JSONObject j = valid();
            j.put("schema_version", 2);
            j.getJSONObject("runs").put("telemetry_interval_secs", bad);
            assertEquals("runs.telemetry_interval_secs", rejectedField(j));
        }
    }

    // ---- the shared fixtures, read as the Python package reads them

    /**
     * schema_version_2.json was version 1's "from the future" vector; since version 2 it is a valid
     * request, as the Python tests treat it. Version 2's own invalid vectors are in v2/.
     */
    static boolean validSinceVersion2(File file) {
        return file.getName().equals("schema_version_2.json");
    }

    static java.util.List<File> sharedFiles(String sub) {
        java.util.List<File> out = new java.util.ArrayList<>(java.util.Arrays.asList(Fixtures.jsonFiles(sub)));
        out.addAll(java.util.Arrays.asList(Fixtures.jsonFiles("v2/" + sub)));
        return out;
    }

    @Test
    public void theOldFromTheFutureVectorIsAValidVersion2Request() throws Exception {
        File file = new File(Fixtures.protocolDir(), "requests_invalid/schema_version_2.json");
        assertTrue("fixture missing: " + file, file.isFile());
        assertEquals(2, BenchRequest.fromFile(file).schemaVersion);
    }

    @Test
    public void everySharedValidRequestParses() throws Exception {
        for (File file : sharedFiles("requests")) {
            try {
                BenchRequest r = BenchRequest.fromFile(file);
                assertEquals(file.getParentFile().getAbsoluteFile(), r.baseDir);
            } catch (RequestException e) {
                fail(file.getName() + " should parse: " + e.getMessage());
            }
        }
    }

    @Test
    public void everySharedInvalidRequestIsRejectedNamingTheField() throws Exception {
        int checked = 0;
        for (File file : sharedFiles("requests_invalid")) {
            if (validSinceVersion2(file)) {
                continue;
            }
            checked++;
            try {
                BenchRequest.fromFile(file);
                fail(file.getName() + " should be rejected");
            } catch (RequestException e) {
                assertTrue(file.getName() + ": the error should name the field in the file name, got '"
                        + e.getMessage() + "'", namesFieldOf(file.getName(), e));
            }
        }
        assertTrue("too few invalid vectors: " + checked, checked >= 20);
    }

    /**
     * Fixture names start with the offending field, e.g. threads_zero.json, delegate_unknown.json,
     * model_missing.json, unknown_field.json: the field path reported must contain the name's
     * leading word(s).
     */
    static boolean namesFieldOf(String fileName, RequestException e) {
        String stem = fileName.replace(".json", "").toLowerCase(Locale.ROOT);
        String field = e.field.toLowerCase(Locale.ROOT);
        String[] words = stem.split("_");
        // Longest leading run of words that names a field (e.g. "schema_version", "timed_runs").
        for (int n = words.length; n >= 1; n--) {
            String lead = String.join("_", java.util.Arrays.copyOfRange(words, 0, n));
            if (field.contains(lead)) {
                return true;
            }
        }
        // v1_with_duration_secs style names: the field is the name's trailing words.
        for (int n = 1; n < words.length; n++) {
            String tail = String.join("_", java.util.Arrays.copyOfRange(words, n, words.length));
            if (tail.contains("_") && field.endsWith(tail)) {
                return true;
            }
        }
        // unknown_field / extra_field style names: the reported field is the unknown one.
        return (stem.contains("unknown") || stem.contains("extra")) && e.getMessage().contains("unknown field");
    }
}
