package dev.mobilekit.bench;

import android.content.Context;

import dev.mobilekit.benchcore.Probes;

/** benchcore's view of the phone: Build facts, memory of this process, thermal state. */
final class AndroidProbes implements Probes {
    private final Context context;

    AndroidProbes(Context context) {
        this.context = context;
    }

    @Override
    public DeviceFacts device() {
        return dev.mobilekit.bench.DeviceFacts.read();
    }

    @Override
    public MemoryUsage memory() {
        return MemoryProbe.read();
    }

    @Override
    public ThermalState thermal() {
        return ThermalProbe.read(context);
    }

    /** The app's versionName, for the result's runner.version. */
    static String versionName(Context context) {
        try {
            String name = context.getPackageManager().getPackageInfo(context.getPackageName(), 0).versionName;
            return name == null ? "unknown" : name;
        } catch (Exception e) {
            return "unknown";
        }
    }
}
