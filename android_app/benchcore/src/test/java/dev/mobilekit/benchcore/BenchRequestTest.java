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
        for (Object version : new Object[] {2, 0, "1", 1.5, 1.0, true}) {
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

    // ---- the shared fixtures, read as the Python package reads them

    @Test
    public void everySharedValidRequestParses() throws Exception {
        for (File file : Fixtures.jsonFiles("requests")) {
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
        for (File file : Fixtures.jsonFiles("requests_invalid")) {
            try {
                BenchRequest.fromFile(file);
                fail(file.getName() + " should be rejected");
            } catch (RequestException e) {
                assertTrue(file.getName() + ": the error should name the field in the file name, got '"
                        + e.getMessage() + "'", namesFieldOf(file.getName(), e));
            }
        }
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
        // unknown_field / extra_field style names: the reported field is the unknown one.
        return (stem.contains("unknown") || stem.contains("extra")) && e.getMessage().contains("unknown field");
    }
}
