package dev.mobilekit.benchcore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;

import java.io.File;

import org.junit.Assume;
import org.junit.Test;

public class ProcStatusTest {
    // Lines as an Android 14 phone prints them (tabs and right-aligned numbers).
    private static final String STATUS = "Name:\tdev.mobilekit.bench\nUmask:\t0077\nState:\tR (running)\n"
            + "VmPeak:\t15861164 kB\nVmSize:\t15722160 kB\nVmHWM:\t  243716 kB\nVmRSS:\t  231008 kB\nThreads:\t42\n";

    @Test
    public void readsThePeakResidentSetInBytes() {
        assertEquals(Long.valueOf(243_716L * 1024L), ProcStatus.peakRssBytes(STATUS));
    }

    @Test
    public void readsTheResidentSetNowInBytes() {
        assertEquals(Long.valueOf(231_008L * 1024L), ProcStatus.rssBytes(STATUS));
        assertNull(ProcStatus.rssBytes("Name:\tx\nVmHWM:\t1 kB\n"));
    }

    @Test
    public void missingOrOddFieldsGiveNull() {
        assertNull(ProcStatus.peakRssBytes("Name:\tx\nVmRSS:\t1 kB\n"));
        assertNull(ProcStatus.peakRssBytes("VmHWM:\t12 pages\n"));
        assertNull(ProcStatus.peakRssBytes(""));
    }

    @Test
    public void readsThisProcessOnLinux() {
        Assume.assumeTrue("needs /proc (Linux or Android)", new File("/proc/self/status").canRead());
        Long peak = ProcStatus.peakRssBytesOfThisProcess();
        // A JVM running JUnit holds well over a megabyte.
        assertTrue(String.valueOf(peak), peak != null && peak > 1_000_000L);
        Long now = ProcStatus.rssBytesOfThisProcess();
        assertTrue(String.valueOf(now), now != null && now > 1_000_000L);
    }
}
