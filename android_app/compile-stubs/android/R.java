// android.R.layout — https://developer.android.com/reference/android/R.layout
// Compile-check stub: the two platform layouts the app's spinners use.
package android;

public final class R {
    public R() { throw new RuntimeException("Stub!"); }

    public static final class layout {
        public static final int simple_spinner_item = 17367048;
        public static final int simple_spinner_dropdown_item = 17367049;

        public layout() { throw new RuntimeException("Stub!"); }
    }
}
