// android.os.Debug — https://developer.android.com/reference/android/os/Debug#getPss()
// Compile-check stub: signatures only. getPss() returns this process's PSS in kB.
package android.os;

public final class Debug {
    Debug() { throw new RuntimeException("Stub!"); }
    public static long getPss() { throw new RuntimeException("Stub!"); }
}
