package dev.mobilekit.bench;

import android.content.Context;
import android.content.pm.ApplicationInfo;
import android.content.pm.PackageInfo;
import android.content.pm.PackageManager;
import android.os.Build;
import android.os.Bundle;

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
            String name = packageInfo(context).versionName;
            return name == null ? "unknown" : name;
        } catch (PackageManager.NameNotFoundException | RuntimeException e) {
            return "unknown";
        }
    }

    /**
     * The LiteRT artifact the APK was built with (the manifest's RUNTIME_ARTIFACT meta-data, filled
     * from gradle/libs.versions.toml by both builds), or null when the manifest does not say.
     */
    static String runtimeArtifact(Context context) {
        try {
            ApplicationInfo info = applicationInfo(context);
            Bundle meta = info.metaData;
            String value = meta == null ? null : meta.getString(RUNTIME_ARTIFACT_KEY);
            return value == null || value.isEmpty() || value.startsWith("${") ? null : value;
        } catch (PackageManager.NameNotFoundException | RuntimeException e) {
            return null;
        }
    }

    static final String RUNTIME_ARTIFACT_KEY = "dev.mobilekit.bench.RUNTIME_ARTIFACT";

    private static PackageInfo packageInfo(Context context) throws PackageManager.NameNotFoundException {
        PackageManager pm = context.getPackageManager();
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            return pm.getPackageInfo(context.getPackageName(), PackageManager.PackageInfoFlags.of(0));
        }
        return legacyPackageInfo(pm, context.getPackageName());
    }

    @SuppressWarnings("deprecation")  // the int-flags overload is the only one before API 33
    private static PackageInfo legacyPackageInfo(PackageManager pm, String name)
            throws PackageManager.NameNotFoundException {
        return pm.getPackageInfo(name, 0);
    }

    private static ApplicationInfo applicationInfo(Context context) throws PackageManager.NameNotFoundException {
        PackageManager pm = context.getPackageManager();
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.TIRAMISU) {
            return pm.getApplicationInfo(context.getPackageName(),
                    PackageManager.ApplicationInfoFlags.of(PackageManager.GET_META_DATA));
        }
        return legacyApplicationInfo(pm, context.getPackageName());
    }

    @SuppressWarnings("deprecation")  // the int-flags overload is the only one before API 33
    private static ApplicationInfo legacyApplicationInfo(PackageManager pm, String name)
            throws PackageManager.NameNotFoundException {
        return pm.getApplicationInfo(name, PackageManager.GET_META_DATA);
    }
}
