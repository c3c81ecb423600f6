package dev.mobilekit.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.content.Intent;
import android.os.Looper;

import java.io.File;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.json.JSONObject;
import org.junit.After;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.annotation.Config;

/** BenchActivity's Run button, a rotation during a run, and a request started in front (bench --foreground). */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 35)
public class BenchActivityTest {
    @After
    public void restore() throws Exception {
        BenchActivity.ActiveRun.join(10_000);
        shadowOf(Looper.getMainLooper()).idle();
        BenchInstrumentation.engineFactory = LiteRtEngine::new;
    }

    private static File modelsFolder() {
        return RuntimeEnvironment.getApplication().getExternalFilesDir(null);
    }

    private static void finishRun() throws Exception {
        BenchActivity.ActiveRun.join(60_000);
        shadowOf(Looper.getMainLooper()).idle();
    }

    @Test
    public void runIsDisabledWithoutAModel() {
        ActivityController<BenchActivity> controller = Robolectric.buildActivity(BenchActivity.class).setup();
        assertFalse(controller.get().runButton.isEnabled());
        assertTrue(controller.get().report.getText().toString(), !BenchActivity.ActiveRun.running());
    }

    @Test
    public void aRotationDuringARunKeepsRunDisabledUntilThatRunEnds() throws Exception {
        Requests.echoModel(modelsFolder(), "digits.tflite");
        CountDownLatch release = new CountDownLatch(1);
        HookedEngine engine = new HookedEngine(release);
        BenchInstrumentation.engineFactory = () -> engine;

        ActivityController<BenchActivity> controller = Robolectric.buildActivity(BenchActivity.class).setup();
        BenchActivity first = controller.get();
        assertTrue(first.runButton.isEnabled());
        first.runButton.performClick();
        assertFalse("Run is disabled while the run goes", first.runButton.isEnabled());
        assertTrue(engine.running.await(30, TimeUnit.SECONDS));

        controller.recreate();   // the phone rotates
        BenchActivity second = controller.get();
        assertTrue(second != first);
        assertFalse("the new Activity must not offer Run while the old run goes", second.runButton.isEnabled());
        assertTrue(second.report.getText().toString().startsWith("running"));
        second.runButton.performClick();   // a click that slipped through starts nothing
        assertTrue(BenchActivity.ActiveRun.running());

        release.countDown();
        finishRun();
        assertFalse(BenchActivity.ActiveRun.running());
        assertTrue(second.runButton.isEnabled());
        String shown = second.report.getText().toString();
        assertTrue(shown, shown.contains(": ok") && shown.contains("50 runs"));
    }

    @Test
    public void aRequestInTheIntentRunsInFrontAndWritesItsResult() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        HookedEngine engine = new HookedEngine(release);
        BenchInstrumentation.engineFactory = () -> engine;
        File dir = new File(modelsFolder(), "mobilekit/runs/front");
        assertTrue(dir.mkdirs());
        File model = Requests.echoModel(dir, "model.tflite");
        File request = Requests.request(dir, "front", model, "xnnpack", 1, 7, false);
        Intent intent = new Intent(RuntimeEnvironment.getApplication(), BenchActivity.class)
                .putExtra(BenchActivity.EXTRA_REQUEST, request.getAbsolutePath());

        ActivityController<BenchActivity> controller = Robolectric.buildActivity(BenchActivity.class, intent).setup();
        assertFalse(controller.get().runButton.isEnabled());
        assertTrue(engine.running.await(30, TimeUnit.SECONDS));
        controller.recreate();   // recreated with the same intent: the request must not run twice
        assertFalse(controller.get().runButton.isEnabled());
        release.countDown();
        finishRun();

        File result = new File(dir, "out-front/result.json");
        JSONObject json = Requests.read(result);
        assertEquals("front", json.getString("run_id"));
        assertEquals("activity", json.getJSONObject("runner").getString("launch"));
        assertEquals(7, json.getJSONObject("timing").getJSONArray("samples_ns").length());
        assertTrue(controller.get().report.getText().toString().contains("run front: ok"));
    }
}
