package dev.mobilekit.benchcore;

/**
 * Samples this process's memory while a model runs, as benchmark_model's memory sampler does: a
 * background thread reads the probes every interval, and {@link #sampleNow} takes one more
 * reading where it matters (before the interpreter closes). Keeps the largest figures seen, so
 * the result's pss_bytes is the peak PSS of the run, not what is left after close.
 */
public final class MemorySampler {
    private final Probes probes;
    private final long intervalMillis;
    private final Thread thread;
    private volatile boolean running = true;
    private Long peakRss;
    private Long peakPss;
    private int samples;

    private MemorySampler(Probes probes, long intervalMillis) {
        this.probes = probes;
        this.intervalMillis = intervalMillis;
        this.thread = new Thread(this::loop, "mobilekit-memory");
        this.thread.setDaemon(true);
    }

    /** Starts sampling every {@code intervalMillis} (0: only on {@link #sampleNow}). */
    public static MemorySampler start(Probes probes, long intervalMillis) {
        MemorySampler sampler = new MemorySampler(probes, intervalMillis);
        sampler.sampleNow();
        if (intervalMillis > 0) {
            sampler.thread.start();
        }
        return sampler;
    }

    private void loop() {
        while (running) {
            try {
                Thread.sleep(intervalMillis);
            } catch (InterruptedException e) {
                return;
            }
            if (running) {
                sampleNow();
            }
        }
    }

    /** One reading now; a probe that fails is skipped. */
    public void sampleNow() {
        Probes.MemoryUsage usage;
        try {
            usage = probes.memory();
        } catch (RuntimeException e) {
            return;
        }
        synchronized (this) {
            samples++;
            peakRss = max(peakRss, usage.peakRssBytes);
            peakPss = max(peakPss, usage.pssBytes);
        }
    }

    /** Stops the thread; the peaks seen, including {@code last} (a reading after the run). */
    public Probes.MemoryUsage stop(Probes.MemoryUsage last) {
        running = false;
        thread.interrupt();
        try {
            thread.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        synchronized (this) {
            if (last != null) {
                peakRss = max(peakRss, last.peakRssBytes);
                peakPss = max(peakPss, last.pssBytes);
            }
            return new Probes.MemoryUsage(peakRss, peakPss);
        }
    }

    public synchronized int samples() {
        return samples;
    }

    private static Long max(Long a, Long b) {
        if (a == null) {
            return b;
        }
        return b == null ? a : Math.max(a, b);
    }
}
