package dev.mobilekit.benchcore;

/** Time as the run loop sees it; a fake in tests makes runs, min_secs and max_secs exact. */
public interface Clock {
    /** A monotonic nanosecond counter for durations. */
    long nanoTime();

    /** Wall-clock milliseconds since the epoch, for the result's timestamps. */
    long wallMillis();

    Clock SYSTEM = new Clock() {
        @Override
        public long nanoTime() {
            return System.nanoTime();
        }

        @Override
        public long wallMillis() {
            return System.currentTimeMillis();
        }
    };
}
