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
import android.os.PowerManager;

import dev.mobilekit.benchcore.BenchResult;
import dev.mobilekit.benchcore.BenchRunner;
import dev.mobilekit.benchcore.Clock;
import dev.mobilekit.benchcore.Probes;
import dev.mobilekit.benchcore.Sleeper;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;
import org.junit.runner.RunWith;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.RuntimeEnvironment;
import org.robolectric.annotation.Config;

/** The thermal, battery and memory probes against Robolectric's shadows; NNAPI's honesty checks. */
@RunWith(RobolectricTestRunner.class)
@Config(sdk = 35)
public class ProbesTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private final Application app = RuntimeEnvironment.getApplication();

    @Test
    public void thermalStatusComesFromPowerManager() {
        PowerManager power = (PowerManager) app.getSystemService(Context.POWER_SERVICE);
        shadowOf(power).setCurrentThermalStatus(PowerManager.THERMAL_STATUS_SEVERE);
        assertEquals("severe", ThermalProbe.read(app).status);
        shadowOf(power).setCurrentThermalStatus(PowerManager.THERMAL_STATUS_NONE);
        assertEquals("none", ThermalProbe.read(app).status);
    }

    @Test
    @SuppressWarnings("deprecation")  // sticky broadcasts: how the system publishes ACTION_BATTERY_CHANGED
    public void batteryTemperatureComesFromTheStickyBatteryBroadcast() {
        assertNull("no battery broadcast yet: unknown, not zero", ThermalProbe.read(app).batteryTempC);
        Intent battery = new Intent(Intent.ACTION_BATTERY_CHANGED);
        battery.putExtra(BatteryManager.EXTRA_TEMPERATURE, 312);
        app.sendStickyBroadcast(battery);
        assertEquals(31.2, ThermalProbe.read(app).batteryTempC, 1e-9);
    }

    @Test
    public void memoryIsThisProcesssPeakRss() {
        Probes.MemoryUsage usage = MemoryProbe.read();
        assertNotNull("VmHWM of this process", usage.peakRssBytes);
        assertTrue(usage.peakRssBytes > 1_000_000);
    }

    @Test
    public void versionAndRuntimeArtifactComeFromTheManifest() {
        assertEquals(System.getProperty("mobilekit.runtimeArtifact"), AndroidProbes.runtimeArtifact(app));
        assertNotNull(AndroidProbes.versionName(app));
    }

    /** Memory is sampled during the timed runs and before the engine closes, not after. */
    @Test
    public void pssIsSampledWhileTheModelIsLoaded() throws Exception {
        File dir = tmp.newFolder();
        File model = Requests.echoModel(dir, "m.tflite");
        File requestFile = Requests.request(dir, "mem", model, "cpu", 1, 2000, false);
        final HookedEngine echo = new HookedEngine(null);
        final List<Boolean> sampledWhileOpen = Collections.synchronizedList(new ArrayList<>());
        Probes probes = new Probes() {
            @Override
            public DeviceFacts device() {
                return DeviceFacts.UNKNOWN;
            }

            @Override
            public MemoryUsage memory() {
                sampledWhileOpen.add(!echo.closed);
                // 50 MB while the model is loaded, 5 MB once it is closed
                return new MemoryUsage(60_000_000L, echo.closed ? 5_000_000L : 50_000_000L);
            }

            @Override
            public ThermalState thermal() {
                return ThermalState.UNKNOWN;
            }
        };
        BenchResult result = new BenchRunner(echo, Clock.SYSTEM, Sleeper.SYSTEM, probes, "test", null)
                .memoryInterval(1).runFile(requestFile);
        assertTrue(result.ok());
        assertEquals(Long.valueOf(50_000_000L), result.memory.pssBytes);
        assertTrue("sampled while open: " + sampledWhileOpen, sampledWhileOpen.contains(true));
    }

    @Test
    public void nnapiIsNotClaimedWhereNothingWouldRunOnIt() {
        assertTrue(LiteRtEngine.nnApiUnusable(26, Arrays.asList("qti-dsp"), null).contains("API 27"));
        assertTrue(LiteRtEngine.nnApiUnusable(28, Arrays.asList("qti-dsp"), null).contains("nnapi-reference"));
        assertTrue(LiteRtEngine.nnApiUnusable(34, Collections.<String>emptyList(), null).contains("no NNAPI accelerator"));
        assertTrue(LiteRtEngine.nnApiUnusable(34, Arrays.asList("google-edgetpu"), "qti-dsp").contains("google-edgetpu"));
        assertNull(LiteRtEngine.nnApiUnusable(34, Arrays.asList("google-edgetpu"), "google-edgetpu"));
        assertNull(LiteRtEngine.nnApiUnusable(34, Arrays.asList("google-edgetpu"), null));
        assertNull("unreadable manifests prove nothing", LiteRtEngine.nnApiUnusable(34, null, null));
    }

    @Test
    public void nnapiDriversAreReadFromTheVintfManifests() throws Exception {
        File root = tmp.newFolder();
        assertNull(NnApiDevices.declared(root));
        File vintf = new File(root, "vendor/etc/vintf/manifest");
        assertTrue(vintf.mkdirs());
        write(new File(root, "vendor/etc/vintf/manifest.xml"), "<manifest version=\"2.0\" type=\"device\">"
                + "<hal format=\"hidl\"><name>android.hardware.camera.provider</name><fqname>@2.4::ICameraProvider/internal/0</fqname></hal>"
                + "</manifest>");
        assertEquals(Collections.emptyList(), NnApiDevices.declared(root));
        write(new File(vintf, "android.hardware.neuralnetworks-edgetpu.xml"), "<manifest version=\"1.0\" type=\"device\">"
                + "<hal format=\"aidl\"><name>android.hardware.neuralnetworks</name>"
                + "<fqname>IDevice/google-edgetpu</fqname></hal></manifest>");
        write(new File(vintf, "nnapi-hidl.xml"), "<manifest version=\"1.0\" type=\"device\">"
                + "<hal format=\"hidl\"><name>android.hardware.neuralnetworks</name><transport>hwbinder</transport>"
                + "<version>1.3</version><interface><name>IDevice</name><instance>qti-dsp</instance>"
                + "<instance>qti-gpu</instance></interface></hal></manifest>");
        assertEquals(Arrays.asList("google-edgetpu", "qti-dsp", "qti-gpu"), NnApiDevices.declared(root));
    }

    private static void write(File file, String text) throws Exception {
        Files.write(file.toPath(), text.getBytes(StandardCharsets.UTF_8));
    }
}
