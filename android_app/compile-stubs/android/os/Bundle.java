// android.os.Bundle — https://developer.android.com/reference/android/os/Bundle
// Compile-check stub: signatures only (putString/getString are inherited from BaseBundle in the SDK).
package android.os;

public final class Bundle {
    public Bundle() { throw new RuntimeException("Stub!"); }
    public void putString(String key, String value) { throw new RuntimeException("Stub!"); }
    public void putInt(String key, int value) { throw new RuntimeException("Stub!"); }
    public String getString(String key) { throw new RuntimeException("Stub!"); }
}
