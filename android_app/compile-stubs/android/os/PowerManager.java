// android.os.PowerManager — https://developer.android.com/reference/android/os/PowerManager#getCurrentThermalStatus()
// Compile-check stub: signatures only. getCurrentThermalStatus() and THERMAL_STATUS_* are API 29.
package android.os;

public final class PowerManager {
    public static final int THERMAL_STATUS_NONE = 0;
    public static final int THERMAL_STATUS_LIGHT = 1;
    public static final int THERMAL_STATUS_MODERATE = 2;
    public static final int THERMAL_STATUS_SEVERE = 3;
    public static final int THERMAL_STATUS_CRITICAL = 4;
    public static final int THERMAL_STATUS_EMERGENCY = 5;
    public static final int THERMAL_STATUS_SHUTDOWN = 6;

    PowerManager() { throw new RuntimeException("Stub!"); }
    public int getCurrentThermalStatus() { throw new RuntimeException("Stub!"); }
}
