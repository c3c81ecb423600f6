package dev.mobilekit.bench;

import android.content.Context;
import android.content.Intent;
import android.content.IntentFilter;
import android.os.BatteryManager;
import android.os.Build;
import android.os.PowerManager;

import dev.mobilekit.benchcore.Probes;

/** Thermal status (Android 10+) and battery temperature, read at the start and end of a run. */
final class ThermalProbe {
    private ThermalProbe() {
    }

    static Probes.ThermalState read(Context context) {
        String status = null;
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q) {
            Object service = context.getSystemService(Context.POWER_SERVICE);
            if (service instanceof PowerManager) {
                status = Probes.ThermalState.statusName(((PowerManager) service).getCurrentThermalStatus());
            }
        }
        Double batteryC = null;
        // ACTION_BATTERY_CHANGED is sticky: registering a null receiver returns the last broadcast.
        Intent battery = context.registerReceiver(null, new IntentFilter(Intent.ACTION_BATTERY_CHANGED));
        if (battery != null) {
            int tenths = battery.getIntExtra(BatteryManager.EXTRA_TEMPERATURE, Integer.MIN_VALUE);
            if (tenths != Integer.MIN_VALUE) {
                batteryC = tenths / 10.0;
            }
        }
        return new Probes.ThermalState(status, batteryC);
    }
}
