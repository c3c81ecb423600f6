package dev.mobilekit.benchcore;

/** Waits for the cooldown; a fake in tests advances a fake clock instead of sleeping. */
public interface Sleeper {
    void sleepNanos(long nanos) throws InterruptedException;

    Sleeper SYSTEM = nanos -> {
        if (nanos > 0) {
            Thread.sleep(nanos / 1_000_000L, (int) (nanos % 1_000_000L));
        }
    };
}
