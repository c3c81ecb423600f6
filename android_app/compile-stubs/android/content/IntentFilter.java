// android.content.IntentFilter — https://developer.android.com/reference/android/content/IntentFilter
// Compile-check stub: signatures only.
package android.content;

public class IntentFilter {
    public IntentFilter(String action) { throw new RuntimeException("Stub!"); }
}
