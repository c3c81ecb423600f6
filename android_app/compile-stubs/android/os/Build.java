// android.os.Build — https://developer.android.com/reference/android/os/Build
// Compile-check stub: signatures only. SOC_MODEL and SOC_MANUFACTURER were added in API 31.
package android.os;

public class Build {
    public static final String MANUFACTURER = null;
    public static final String MODEL = null;
    public static final String DEVICE = null;
    public static final String HARDWARE = null;
    public static final String SOC_MANUFACTURER = null;
    public static final String SOC_MODEL = null;
    public static final String[] SUPPORTED_ABIS = null;

    public Build() { throw new RuntimeException("Stub!"); }

    public static class VERSION {
        public static final int SDK_INT = 0;
        public static final String RELEASE = null;

        public VERSION() { throw new RuntimeException("Stub!"); }
    }

    public static class VERSION_CODES {
        public static final int Q = 29;
        public static final int R = 30;
        public static final int S = 31;
        public static final int VANILLA_ICE_CREAM = 35;

        public VERSION_CODES() { throw new RuntimeException("Stub!"); }
    }
}
