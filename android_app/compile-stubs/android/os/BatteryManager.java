// android.os.BatteryManager — https://developer.android.com/reference/android/os/BatteryManager#EXTRA_TEMPERATURE
// Compile-check stub: signatures only. EXTRA_TEMPERATURE is in tenths of a degree Celsius.
package android.os;

public class BatteryManager {
    public static final String EXTRA_TEMPERATURE = "temperature";

    BatteryManager() { throw new RuntimeException("Stub!"); }
}
