package dev.mobilekit.benchcore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.util.Arrays;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Test;

public class StatsTest {
    /** The shared tolerance: equal to 1e-9, relative for large figures. */
    private static void assertClose(String what, double expected, double actual) {
        double tolerance = 1e-9 * Math.max(1.0, Math.abs(expected));
        assertEquals(what, expected, actual, tolerance);
    }

    @Test
    public void matchesTheSharedVectors() throws Exception {
        for (File file : Fixtures.jsonFiles("stats")) {
            JSONObject json = Fixtures.readJson(file);
            JSONArray samples = json.getJSONArray("samples_ns");
            double[] values = new double[samples.length()];
            for (int i = 0; i < values.length; i++) {
                values[i] = samples.getDouble(i);
            }
            Stats stats = Stats.of(values);
            JSONObject expected = json.getJSONObject("expected");
            JSONObject actual = stats.toJson();
            for (String key : new String[] {"mean_ns", "std_ns", "min_ns", "max_ns", "p50_ns", "p90_ns", "p95_ns", "p99_ns"}) {
                assertTrue(file.getName() + " lacks expected." + key, expected.has(key));
                assertClose(file.getName() + " " + key, expected.getDouble(key), actual.getDouble(key));
            }
        }
    }

    @Test
    public void oneSampleHasZeroSpread() {
        Stats s = Stats.of(new long[] {1234});
        assertEquals(1234.0, s.meanNs, 0);
        assertEquals(0.0, s.stdNs, 0);
        assertEquals(1234.0, s.p50Ns, 0);
        assertEquals(1234.0, s.p99Ns, 0);
    }

    @Test
    public void percentilesInterpolateBetweenClosestRanks() {
        // numpy: np.percentile([10, 20, 30, 40], [50, 90, 95, 99]) = [25, 37, 38.5, 39.7]
        Stats s = Stats.of(new long[] {40, 10, 30, 20});
        assertClose("p50", 25.0, s.p50Ns);
        assertClose("p90", 37.0, s.p90Ns);
        assertClose("p95", 38.5, s.p95Ns);
        assertClose("p99", 39.7, s.p99Ns);
        assertEquals(10.0, s.minNs, 0);
        assertEquals(40.0, s.maxNs, 0);
        assertEquals(25.0, s.meanNs, 0);
        // sample standard deviation (ddof=1): sqrt(500/3)
        assertClose("std", Math.sqrt(500.0 / 3.0), s.stdNs);
    }

    @Test
    public void sumsAreCorrectlyRoundedLikePythonsFsum() {
        // Values from CPython's math.fsum documentation and tests.
        double[] tenths = new double[10];
        Arrays.fill(tenths, 0.1);
        assertEquals(1.0, Stats.fsum(tenths), 0);
        assertEquals(1.0, Stats.fsum(new double[] {1e16, 1.0, -1e16}), 0);
        assertEquals(1.0000000000000002e16, Stats.fsum(new double[] {1e-16, 1.0, 1e16}), 0);
        assertEquals(0.0, Stats.fsum(new double[0]), 0);
        double[] big = new double[1000];
        long total = 0;
        for (int i = 0; i < big.length; i++) {
            big[i] = 1_000_000L + (i * 7919L) % 10007L;
            total += (long) big[i];
        }
        assertEquals((double) total, Stats.fsum(big), 0);
    }

    @Test
    public void noSamplesIsAnError() {
        try {
            Stats.of(new long[0]);
            fail("expected an error");
        } catch (IllegalArgumentException e) {
            assertTrue(e.getMessage().contains("no samples"));
        }
    }
}
