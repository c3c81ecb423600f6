package dev.mobilekit.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import android.app.Activity;
import android.content.Context;
import android.os.Bundle;
import android.os.Parcel;

import org.robolectric.RuntimeEnvironment;

import dev.mobilekit.benchcore.EchoEngine;

import java.io.File;
import java.util.ArrayList;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.runner.RunWith;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.annotation.Config;

/** BenchInstrumentation from its arguments to its status bundles and its finish bundle, with a fake engine. */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 35)
public class BenchInstrumentationTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private Context context;

    @Before
    public void useEchoEngine() {
        context = RuntimeEnvironment.getApplication();
        BenchInstrumentation.engineFactory = EchoEngine::new;
    }

    @After
    public void restoreEngine() {
        BenchInstrumentation.engineFactory = LiteRtEngine::new;
    }

    private static List<String> stages(List<Bundle> statuses) {
        List<String> out = new ArrayList<>();
        for (Bundle b : statuses) {
            String stage = b.getString("stage");
            if (out.isEmpty() || !out.get(out.size() - 1).equals(stage)) {
                out.add(stage);
            }
        }
        return out;
    }

    @Test
    public void aRunReportsEveryStageAndFinishesWithPathsAndASummary() throws Exception {
        File dir = tmp.newFolder();
        File model = Requests.echoModel(dir, "model.tflite");
        File request = Requests.request(dir, "echo-run", model, "xnnpack", 3, 20, true);
        Transcript transcript = new Transcript();

        BenchInstrumentation.Outcome outcome = BenchInstrumentation.execute(context, request.getPath(), transcript);
        transcript.finish(outcome.code, outcome.bundle);
        transcript.save("robolectric_ok", resultOf(outcome));

        assertEquals(Activity.RESULT_OK, outcome.code);
        assertEquals(java.util.Arrays.asList("load", "init", "warmup", "run", "outputs", "write"),
                stages(transcript.statuses));
        for (Bundle status : transcript.statuses) {
            assertEquals("mobilekit", status.getString("id"));
            assertEquals("echo-run", status.getString("run_id"));
        }
        Bundle applied = null;
        for (Bundle status : transcript.statuses) {
            if (status.containsKey("applied")) {
                applied = status;
            }
        }
        assertNotNull("the init bundle names the applied delegate", applied);
        assertEquals("xnnpack", applied.getString("applied"));

        Bundle done = outcome.bundle;
        assertEquals("ok", done.getString("status"));
        assertEquals("1", done.getString("protocol_version"));
        assertEquals("20", done.getString("samples"));
        assertEquals("xnnpack", done.getString("applied"));
        assertNull("the result JSON stays on the phone", done.getString("result"));
        File resultFile = new File(done.getString("result_path"));
        assertTrue(resultFile.isFile());
        assertEquals(new File(resultFile.getParentFile(), "outputs.npy").getAbsolutePath(), done.getString("outputs"));
        JSONObject result = Requests.read(resultFile);
        assertEquals(20, result.getJSONObject("timing").getJSONArray("samples_ns").length());
        JSONObject runner = result.getJSONObject("runner");
        assertEquals("android", runner.getString("kind"));
        assertEquals("instrumentation", runner.getString("launch"));
        assertEquals(System.getProperty("mobilekit.runtimeArtifact"), runner.getString("runtime_artifact"));
    }

    @Test
    public void twoHundredThousandSamplesStillFinishWithASmallBundle() throws Exception {
        File dir = tmp.newFolder();
        File model = Requests.echoModel(dir, "model.tflite");
        File request = Requests.request(dir, "long-run", model, "cpu", 0, 200_000, false);
        Transcript transcript = new Transcript();

        BenchInstrumentation.Outcome outcome = BenchInstrumentation.execute(context, request.getPath(), transcript);
        transcript.finish(outcome.code, outcome.bundle);
        transcript.save("robolectric_200k", resultOf(outcome));

        assertEquals(Activity.RESULT_OK, outcome.code);
        assertEquals("200000", outcome.bundle.getString("samples"));
        File resultFile = new File(outcome.bundle.getString("result_path"));
        JSONObject result = Requests.read(resultFile);
        JSONArray samples = result.getJSONObject("timing").getJSONArray("samples_ns");
        assertEquals(200_000, samples.length());
        // What the old final bundle carried, the whole result, is past what one Binder transaction holds.
        Bundle old = new Bundle(outcome.bundle);
        old.putString("result", result.toString());
        assertTrue(parcelSize(old) > 1_000_000);
        assertTrue("finish bundle is " + parcelSize(outcome.bundle) + " bytes", parcelSize(outcome.bundle) < 4096);
        // every status bundle is small too (at most about two a second)
        for (Bundle status : transcript.statuses) {
            assertTrue(parcelSize(status) < 2048);
        }
    }

    private static File resultOf(BenchInstrumentation.Outcome outcome) {
        String path = outcome.bundle.getString("result_path");
        return path == null ? null : new File(path);
    }

    private static int parcelSize(Bundle bundle) {
        Parcel parcel = Parcel.obtain();
        try {
            bundle.writeToParcel(parcel, 0);
            return parcel.dataSize();
        } finally {
            parcel.recycle();
        }
    }

    @Test
    public void aMissingRequestArgumentIsACancelledRunThatSaysWhatToPass() throws Exception {
        Transcript transcript = new Transcript();
        BenchInstrumentation.Outcome outcome = BenchInstrumentation.execute(context, null, transcript);
        transcript.finish(outcome.code, outcome.bundle);
        transcript.save("robolectric_no_request", null);
        assertEquals(Activity.RESULT_CANCELED, outcome.code);
        assertEquals("failed", outcome.bundle.getString("status"));
        assertTrue(outcome.bundle.getString("error").contains("-e request"));
        assertTrue(transcript.statuses.isEmpty());
    }

    @Test
    public void aBadRequestIsAFailedResultWrittenNextToIt() throws Exception {
        File dir = tmp.newFolder();
        File model = Requests.echoModel(dir, "model.tflite");
        File request = Requests.request(dir, "bad-sha", model, "cpu", 0, 5, false);
        JSONObject json = Requests.read(request);
        json.getJSONObject("model").put("sha256", "0".repeat(64));
        java.nio.file.Files.write(request.toPath(), json.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        Transcript transcript = new Transcript();

        BenchInstrumentation.Outcome outcome = BenchInstrumentation.execute(context, request.getPath(), transcript);
        transcript.finish(outcome.code, outcome.bundle);
        transcript.save("robolectric_failed", resultOf(outcome));

        // The run ended (RESULT_OK); the result says it failed, and where.
        assertEquals(Activity.RESULT_OK, outcome.code);
        assertEquals("failed", outcome.bundle.getString("status"));
        assertTrue(outcome.bundle.getString("error"), outcome.bundle.getString("error").startsWith("load: model.sha256"));
        assertFalse(outcome.bundle.containsKey("outputs"));
        JSONObject result = Requests.read(new File(outcome.bundle.getString("result_path")));
        assertEquals("load", result.getJSONObject("error").getString("stage"));
    }
}
