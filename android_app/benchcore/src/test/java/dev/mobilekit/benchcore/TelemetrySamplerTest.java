package dev.mobilekit.benchcore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import org.json.JSONObject;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The sampler on a fake clock with a fake probe: when it samples, what it records, how it fails. */
public class TelemetrySamplerTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final long MS = 1_000_000L;

    /** Warms by one degree per reading; status turns light at the third. */
    static final class WarmingProbe implements TelemetrySampler.Probe {
        int reads;
        boolean failNext;

        @Override
        public TelemetrySampler.Reading read() {
            reads++;
            if (failNext) {
                failNext = false;
                throw new IllegalStateException("sensor gone");
            }
            return new TelemetrySampler.Reading(reads >= 3 ? "light" : "none", 0.1 * reads, 30.0 + reads,
                    Arrays.asList(2_000_000L - 100_000L * reads, null), 50_000_000L, null);
        }
    }

    @Test
    public void samplesAtStagesAndOnceEachIntervalWithTheLatencyIndex() {
        BenchRunnerTest.FakeClock clock = new BenchRunnerTest.FakeClock();
        WarmingProbe probe = new WarmingProbe();
        TelemetrySampler sampler = new TelemetrySampler(probe, clock, 1_000 * MS);
        sampler.start("warmup");
        clock.now += 200 * MS;
        sampler.mark("run", 0);
        int due = 0;
        for (int run = 1; run <= 50; run++) { // 50 runs of 100 ms: a sample each second
            clock.now += 100 * MS;
            if (sampler.tick(clock.now, run)) {
                due++;
            }
        }
        sampler.mark("outputs", 50);
        assertEquals(5, due);
        List<TelemetrySampler.Sample> samples = sampler.samples();
        assertEquals(8, samples.size());
        assertEquals(0L, samples.get(0).tNanos);
        assertEquals("warmup", samples.get(0).stage);
        assertEquals(200 * MS, samples.get(1).tNanos);
        assertEquals(10, samples.get(2).index); // one second after the run mark
        assertEquals("run", samples.get(2).stage);
        assertEquals(1_200 * MS, samples.get(2).tNanos);
        assertEquals("outputs", samples.get(7).stage);
        assertEquals(50, samples.get(7).index);
    }

    @Test
    public void absentFiguresAreNullInJsonNotZero() throws Exception {
        BenchRunnerTest.FakeClock clock = new BenchRunnerTest.FakeClock();
        TelemetrySampler sampler = new TelemetrySampler(new WarmingProbe(), clock, 1_000 * MS);
        JSONObject first = sampler.start("run").toJson();
        assertEquals("none", first.getString("thermal_status"));
        assertEquals(31.0, first.getDouble("battery_temp_c"), 1e-9);
        assertEquals(1_900_000L, first.getJSONArray("cpu_freq_khz").getLong(0));
        assertTrue(first.getJSONArray("cpu_freq_khz").isNull(1));
        assertTrue(first.isNull("pss_bytes"));
        assertTrue(first.isNull("zone_temps_c"));
        assertEquals(50_000_000L, first.getLong("rss_bytes"));
    }

    @Test
    public void aFailingProbeGivesAnAbsentSampleAndTheRunGoesOn() throws Exception {
        BenchRunnerTest.FakeClock clock = new BenchRunnerTest.FakeClock();
        WarmingProbe probe = new WarmingProbe();
        TelemetrySampler sampler = new TelemetrySampler(probe, clock, 1_000 * MS);
        sampler.start("run");
        probe.failNext = true;
        clock.now += 1_000 * MS;
        assertTrue(sampler.tick(clock.now, 3));
        JSONObject failed = sampler.samples().get(1).toJson();
        assertTrue(failed.isNull("thermal_status"));
        assertTrue(failed.isNull("cpu_freq_khz"));
        assertEquals(3, failed.getInt("index"));
        clock.now += 10 * MS;
        assertFalse(sampler.tick(clock.now, 4));
        assertEquals(2, sampler.toJson().length());
    }

    @Test
    public void readsEachCoresFrequencyFromSysfsAndKeepsMissingCoresInPlace() throws Exception {
        File cpu = tmp.newFolder("cpu");
        write(new File(cpu, "cpu0/cpufreq/scaling_cur_freq"), "1804800\n");
        assertTrue(new File(cpu, "cpu1").mkdirs()); // offline core: no cpufreq
        write(new File(cpu, "cpu10/cpufreq/scaling_cur_freq"), "2850000\n");
        assertTrue(new File(cpu, "cpufreq").mkdirs()); // not a core
        assertEquals(Arrays.asList(1_804_800L, null, 2_850_000L), TelemetrySampler.cpuFrequenciesKhz(cpu));
        File bare = tmp.newFolder("bare");
        assertTrue(new File(bare, "cpu0").mkdirs());
        assertNull(TelemetrySampler.cpuFrequenciesKhz(bare));
    }

    @Test(expected = IllegalArgumentException.class)
    public void refusesAZeroInterval() {
        new TelemetrySampler(new WarmingProbe(), new BenchRunnerTest.FakeClock(), 0);
    }

    private static void write(File file, String text) throws Exception {
        assertTrue(file.getParentFile().isDirectory() || file.getParentFile().mkdirs());
        Files.write(file.toPath(), text.getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    public void theFirstSampleIsAtZeroOnAClockThatMovesOnEveryReading() {
        BenchRunnerTest.FakeClock ticking = new BenchRunnerTest.FakeClock() {
            @Override
            public long nanoTime() {
                return now += 7;
            }
        };
        TelemetrySampler sampler = new TelemetrySampler(() -> TelemetrySampler.Reading.ABSENT, ticking, 1_000 * MS);
        assertEquals(0, sampler.start("load").tNanos);
        assertEquals(7, sampler.mark("init", 0).tNanos);
    }
}
