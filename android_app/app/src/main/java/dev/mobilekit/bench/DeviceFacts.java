package dev.mobilekit.bench;

import android.os.Build;

import dev.mobilekit.benchcore.Probes;

/** The phone as the result's device block describes it, from android.os.Build. */
final class DeviceFacts {
    private DeviceFacts() {
    }

    static Probes.DeviceFacts read() {
        String soc;
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.S) {
            soc = join(Build.SOC_MANUFACTURER, Build.SOC_MODEL);
        } else {
            // Before Android 12 only the board name is public (e.g. "qcom", "exynos990").
            soc = Build.HARDWARE;
        }
        String abi = Build.SUPPORTED_ABIS != null && Build.SUPPORTED_ABIS.length > 0 ? Build.SUPPORTED_ABIS[0] : null;
        // The serial needs READ_PRIVILEGED_PHONE_STATE; the host knows it from adb and fills it in.
        return new Probes.DeviceFacts(null, Build.MANUFACTURER, Build.MODEL, soc,
                "Android " + Build.VERSION.RELEASE, Build.VERSION.SDK_INT, abi,
                Runtime.getRuntime().availableProcessors());
    }

    private static String join(String manufacturer, String model) {
        boolean hasMaker = manufacturer != null && !manufacturer.isEmpty() && !"unknown".equals(manufacturer);
        boolean hasModel = model != null && !model.isEmpty() && !"unknown".equals(model);
        if (hasMaker && hasModel) {
            return manufacturer + " " + model;
        }
        return hasModel ? model : (hasMaker ? manufacturer : null);
    }
}
