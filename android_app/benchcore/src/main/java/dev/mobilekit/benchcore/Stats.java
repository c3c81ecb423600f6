package dev.mobilekit.benchcore;

import java.util.Arrays;

import org.json.JSONException;
import org.json.JSONObject;

/**
 * Summary statistics of latency samples, computed exactly as mobilekit/bench/stats.py computes
 * them (TEAM interface 2): float64 nanoseconds; the mean and the ddof=1 variance from correctly
 * rounded sums (Python's math.fsum, reproduced here with the same algorithm); percentiles by
 * linear interpolation between closest ranks, h = (n-1)*p/100. Doing the same operations in the
 * same order keeps Java and Python equal to the last bit, not just to a tolerance.
 */
public final class Stats {
    public final int n;
    public final double meanNs;
    public final double stdNs;
    public final double minNs;
    public final double maxNs;
    public final double p50Ns;
    public final double p90Ns;
    public final double p95Ns;
    public final double p99Ns;

    private Stats(int n, double mean, double std, double min, double max, double p50, double p90, double p95,
                  double p99) {
        this.n = n;
        this.meanNs = mean;
        this.stdNs = std;
        this.minNs = min;
        this.maxNs = max;
        this.p50Ns = p50;
        this.p90Ns = p90;
        this.p95Ns = p95;
        this.p99Ns = p99;
    }

    public static Stats of(long[] samplesNs) {
        double[] values = new double[samplesNs.length];
        for (int i = 0; i < values.length; i++) {
            values[i] = samplesNs[i];
        }
        return of(values);
    }

    public static Stats of(double[] samplesNs) {
        int n = samplesNs.length;
        if (n == 0) {
            throw new IllegalArgumentException("no samples: statistics need at least one timed run");
        }
        double[] sorted = samplesNs.clone();
        Arrays.sort(sorted);
        for (double v : sorted) {
            if (Double.isNaN(v) || Double.isInfinite(v)) {
                throw new IllegalArgumentException("samples must be finite");
            }
        }
        double mean = fsum(sorted) / n;
        double std = 0.0;
        if (n > 1) {
            double[] squares = new double[n];
            for (int i = 0; i < n; i++) {
                double d = sorted[i] - mean;
                squares[i] = d * d;
            }
            std = Math.sqrt(fsum(squares) / (n - 1));
        }
        return new Stats(n, mean, std, sorted[0], sorted[n - 1], percentile(sorted, 50), percentile(sorted, 90),
                percentile(sorted, 95), percentile(sorted, 99));
    }

    /** Linear interpolation between closest ranks on sorted data: x[lo] + (h-lo)*(x[lo+1]-x[lo]). */
    public static double percentile(double[] sorted, double percent) {
        int n = sorted.length;
        double h = (n - 1) * (percent / 100.0);
        int lower = (int) Math.floor(h);
        if (lower >= n - 1) {
            return sorted[n - 1];
        }
        double low = sorted[lower];
        return low + (h - lower) * (sorted[lower + 1] - low);
    }

    /**
     * The correctly rounded sum of finite doubles: Shewchuk's exact partials with the final
     * half-even correction, step for step as CPython's math.fsum (Modules/mathmodule.c).
     */
    static double fsum(double[] values) {
        double[] partials = new double[32];
        int count = 0;
        for (double value : values) {
            double x = value;
            int i = 0;
            for (int j = 0; j < count; j++) {
                double y = partials[j];
                if (Math.abs(x) < Math.abs(y)) {
                    double t = x;
                    x = y;
                    y = t;
                }
                double hi = x + y;
                double lo = y - (hi - x);
                if (lo != 0.0) {
                    partials[i++] = lo;
                }
                x = hi;
            }
            if (i >= partials.length) {
                partials = Arrays.copyOf(partials, partials.length * 2);
            }
            partials[i] = x;
            count = i + 1;
        }
        if (count == 0) {
            return 0.0;
        }
        int n = count;
        double hi = partials[--n];
        double lo = 0.0;
        while (n > 0) {
            double x = hi;
            double y = partials[--n];
            hi = x + y;
            double yr = hi - x;
            lo = y - yr;
            if (lo != 0.0) {
                break;
            }
        }
        // Half-even rounding across several partials (so the sum does not depend on order).
        if (n > 0 && ((lo < 0.0 && partials[n - 1] < 0.0) || (lo > 0.0 && partials[n - 1] > 0.0))) {
            double y = lo * 2.0;
            double x = hi + y;
            double yr = x - hi;
            if (y == yr) {
                hi = x;
            }
        }
        return hi;
    }

    /** The figures under the names the shared fixtures and the Python summary use. */
    public JSONObject toJson() {
        try {
            JSONObject o = new JSONObject();
            o.put("n", n);
            o.put("mean_ns", meanNs);
            o.put("std_ns", stdNs);
            o.put("min_ns", minNs);
            o.put("max_ns", maxNs);
            o.put("p50_ns", p50Ns);
            o.put("p90_ns", p90Ns);
            o.put("p95_ns", p95Ns);
            o.put("p99_ns", p99Ns);
            return o;
        } catch (JSONException e) {
            throw new AssertionError(e);
        }
    }
}
