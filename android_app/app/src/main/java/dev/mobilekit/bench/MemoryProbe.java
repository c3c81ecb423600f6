package dev.mobilekit.bench;

import android.os.Debug;

import dev.mobilekit.benchcore.ProcStatus;
import dev.mobilekit.benchcore.Probes;

/** This process's peak resident set (VmHWM) and proportional set size. */
final class MemoryProbe {
    private MemoryProbe() {
    }

    static Probes.MemoryUsage read() {
        Long pss = null;
        try {
            long kilobytes = Debug.getPss();
            pss = kilobytes > 0 ? kilobytes * 1024L : null;
        } catch (RuntimeException e) {
            // Leave it unknown.
        }
        return new Probes.MemoryUsage(ProcStatus.peakRssBytesOfThisProcess(), pss);
    }

    /** This process's resident set now (VmRSS), for telemetry; null where /proc is not readable. */
    static Long rssBytes() {
        return ProcStatus.rssBytesOfThisProcess();
    }
}
