package dev.mobilekit.bench;

import android.content.Context;
import android.os.Build;
import android.os.PowerManager;

import java.io.File;

import dev.mobilekit.benchcore.Probes;
import dev.mobilekit.benchcore.TelemetrySampler;

/**
 * benchcore's telemetry on a phone: thermal status (Android 10+) and battery temperature as
 * {@link ThermalProbe} reads them, thermal headroom ({@code PowerManager.getThermalHeadroom(0)},
 * Android 11+, absent below), each core's {@code scaling_cur_freq} and this process's memory as
 * {@link MemoryProbe} reads it. A figure the phone does not give is null, never zero.
 */
final class TelemetryProbe implements TelemetrySampler.Probe {
    static final File CPU_DIR = new File("/sys/devices/system/cpu");

    private final Context context;
    private final File cpuDir;

    TelemetryProbe(Context context) {
        this(context, CPU_DIR);
    }

    TelemetryProbe(Context context, File cpuDir) {
        this.context = context;
        this.cpuDir = cpuDir;
    }

    @Override
    public TelemetrySampler.Reading read() {
        Probes.ThermalState thermal = ThermalProbe.read(context);
        Probes.MemoryUsage memory = MemoryProbe.read();
        return new TelemetrySampler.Reading(thermal.status, headroom(context), thermal.batteryTempC,
                TelemetrySampler.cpuFrequenciesKhz(cpuDir), MemoryProbe.rssBytes(), memory.pssBytes);
    }

    /**
     * getThermalHeadroom(0): how close the device is to severe throttling now (1.0 is where it
     * starts). Null below Android 11, without a PowerManager, and where the platform has no figure
     * (NaN: no thermal HAL support, or asked again within its one-second rate limit).
     */
    static Double headroom(Context context) {
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.R) {
            return null;
        }
        Object service = context.getSystemService(Context.POWER_SERVICE);
        if (!(service instanceof PowerManager)) {
            return null;
        }
        try {
            float value = ((PowerManager) service).getThermalHeadroom(0);
            return Float.isNaN(value) || Float.isInfinite(value) ? null : (double) value;
        } catch (RuntimeException e) { // a thermal service that fails is absent; the run goes on
            return null;
        }
    }
}
