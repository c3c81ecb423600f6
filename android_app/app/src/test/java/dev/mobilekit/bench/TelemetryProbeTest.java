package dev.mobilekit.bench;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.robolectric.Shadows.shadowOf;

import android.app.Application;
import android.content.Context;
import android.content.Intent;
import android.os.BatteryManager;
import android.os.Build;
import android.os.PowerManager;

import dev.mobilekit.benchcore.EchoEngine;
import dev.mobilekit.benchcore.TelemetrySampler;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.After;
import org.junit.Before;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.runner.RunWith;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.annotation.Config;
import org.robolectric.annotation.Implementation;
import org.robolectric.annotation.Implements;
import org.robolectric.shadows.ShadowPowerManager;
import org.robolectric.util.ReflectionHelpers;

/**
 * The app's telemetry probe against Robolectric's PowerManager and battery shadows and a sysfs-like
 * folder, alone and through BenchInstrumentation into result.json.
 */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 35, shadows = TelemetryProbeTest.HeadroomShadow.class)
public class TelemetryProbeTest {
    /** ShadowPowerManager has no thermal headroom; this one gives what a test sets. */
    @Implements(PowerManager.class)
    public static class HeadroomShadow extends ShadowPowerManager {
        static float headroom = Float.NaN;
        static int forecastSeconds = -1;

        @Implementation(minSdk = Build.VERSION_CODES.R)
        protected float getThermalHeadroom(int forecastSeconds) {
            HeadroomShadow.forecastSeconds = forecastSeconds;
            return headroom;
        }
    }

    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final Application app = RuntimeEnvironment.getApplication();
    private PowerManager power;

    @Before
    public void setUp() {
        power = (PowerManager) app.getSystemService(Context.POWER_SERVICE);
        HeadroomShadow.headroom = Float.NaN;
        HeadroomShadow.forecastSeconds = -1;
    }

    @After
    public void restoreEngine() {
        BenchInstrumentation.engineFactory = LiteRtEngine::new;
    }

    @SuppressWarnings("deprecation")  // sticky broadcasts: how the system publishes ACTION_BATTERY_CHANGED
    private void battery(int tenths) {
        Intent battery = new Intent(Intent.ACTION_BATTERY_CHANGED);
        battery.putExtra(BatteryManager.EXTRA_TEMPERATURE, tenths);
        app.sendStickyBroadcast(battery);
    }

    /** cpu0 and cpu2 with a scaling_cur_freq, cpu1 offline (no cpufreq), cpufreq/ and cpuidle/ beside them. */
    private File cpuDir() throws Exception {
        File dir = tmp.newFolder("cpu");
        write(new File(dir, "cpu0/cpufreq/scaling_cur_freq"), "1804800\n");
        assertTrue(new File(dir, "cpu1").mkdirs());
        write(new File(dir, "cpu2/cpufreq/scaling_cur_freq"), "2400000\n");
        assertTrue(new File(dir, "cpufreq").mkdirs());
        assertTrue(new File(dir, "cpuidle").mkdirs());
        return dir;
    }

    @Test
    public void readsStatusHeadroomBatteryFrequenciesAndMemory() throws Exception {
        shadowOf(power).setCurrentThermalStatus(PowerManager.THERMAL_STATUS_MODERATE);
        HeadroomShadow.headroom = 0.75f;
        battery(334);
        TelemetrySampler.Reading reading = new TelemetryProbe(app, cpuDir()).read();
        assertEquals("moderate", reading.thermalStatus);
        assertEquals(0.75, reading.headroom, 1e-6);
        assertEquals("headroom for now, not a forecast", 0, HeadroomShadow.forecastSeconds);
        assertEquals(33.4, reading.batteryTempC, 1e-9);
        assertEquals(Arrays.asList(1_804_800L, null, 2_400_000L), reading.cpuFreqKhz);
        assertNotNull("VmRSS of this process", reading.rssBytes);
        assertTrue(reading.rssBytes > 1_000_000L);
        assertTrue("PSS is absent or real, never 0: " + reading.pssBytes, reading.pssBytes == null || reading.pssBytes > 0);
    }

    @Test
    public void whatThePhoneDoesNotGiveIsAbsentNotZero() throws Exception {
        // No battery broadcast, headroom NaN (no thermal HAL), no cpufreq files.
        TelemetrySampler.Reading reading = new TelemetryProbe(app, tmp.newFolder("empty")).read();
        assertNull(reading.headroom);
        assertNull(reading.batteryTempC);
        assertNull(reading.cpuFreqKhz);
        assertEquals("none", reading.thermalStatus);
    }

    @Test
    public void headroomIsAbsentBelowAndroid11() throws Exception {
        HeadroomShadow.headroom = 0.4f;
        int sdk = Build.VERSION.SDK_INT;
        ReflectionHelpers.setStaticField(Build.VERSION.class, "SDK_INT", Build.VERSION_CODES.Q);
        try {
            TelemetrySampler.Reading reading = new TelemetryProbe(app, cpuDir()).read();
            assertNull(reading.headroom);
            assertEquals(-1, HeadroomShadow.forecastSeconds);
            assertEquals("thermal status is there from Android 10", "none", reading.thermalStatus);
        } finally {
            ReflectionHelpers.setStaticField(Build.VERSION.class, "SDK_INT", sdk);
        }
        assertEquals(0.4, TelemetryProbe.headroom(app), 1e-6);
    }

    @Test
    public void aRunThroughTheInstrumentationWritesThePhonesTelemetry() throws Exception {
        BenchInstrumentation.engineFactory = EchoEngine::new;
        shadowOf(power).setCurrentThermalStatus(PowerManager.THERMAL_STATUS_LIGHT);
        HeadroomShadow.headroom = 0.5f;
        battery(351);
        File dir = tmp.newFolder();
        File model = Requests.echoModel(dir, "model.tflite");
        File requestFile = Requests.request(dir, "hot", model, "cpu", 1, 5, false);
        JSONObject request = Requests.read(requestFile);
        request.put("schema_version", 2);
        request.getJSONObject("runs").put("duration_secs", 0.3).put("telemetry_interval_secs", 0.1);
        Files.write(requestFile.toPath(), request.toString().getBytes(StandardCharsets.UTF_8));

        BenchInstrumentation.Outcome outcome = BenchInstrumentation.execute(app, requestFile.getPath(), new Transcript());
        JSONObject result = Requests.read(new File(dir, "out-hot/result.json"));
        assertEquals(outcome.bundle.getString("status"), "ok", result.getString("status"));
        assertEquals(2, result.getInt("schema_version"));
        JSONArray samples = result.getJSONObject("timing").getJSONArray("samples_ns");
        JSONArray telemetry = result.getJSONArray("telemetry");
        assertTrue("sampled at the stages and about every 0.1 s: " + telemetry.length(), telemetry.length() >= 7);
        JSONObject first = telemetry.getJSONObject(0);
        assertEquals("load", first.getString("stage"));
        assertEquals(0, first.getLong("t_ns"));
        JSONObject last = telemetry.getJSONObject(telemetry.length() - 1);
        assertEquals("run", last.getString("stage"));
        assertEquals(samples.length(), last.getInt("index"));
        for (int i = 0; i < telemetry.length(); i++) {
            JSONObject sample = telemetry.getJSONObject(i);
            assertEquals("light", sample.getString("thermal_status"));
            assertEquals(0.5, sample.getDouble("headroom"), 1e-6);
            assertEquals(35.1, sample.getDouble("battery_temp_c"), 1e-9);
            assertTrue(sample.getLong("rss_bytes") > 1_000_000L);
        }
    }

    private static void write(File file, String text) throws Exception {
        assertTrue(file.getParentFile().isDirectory() || file.getParentFile().mkdirs());
        Files.write(file.toPath(), text.getBytes(StandardCharsets.US_ASCII));
    }
}
