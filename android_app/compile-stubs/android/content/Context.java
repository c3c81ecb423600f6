// android.content.Context — https://developer.android.com/reference/android/content/Context
// Compile-check stub: signatures only (abstract in the SDK; concrete here so Activity can extend it).
package android.content;

import android.content.pm.PackageManager;
import java.io.File;

public abstract class Context {
    public static final String POWER_SERVICE = "power";

    public Context() { throw new RuntimeException("Stub!"); }
    public File getExternalFilesDir(String type) { throw new RuntimeException("Stub!"); }
    public File getFilesDir() { throw new RuntimeException("Stub!"); }
    public PackageManager getPackageManager() { throw new RuntimeException("Stub!"); }
    public String getPackageName() { throw new RuntimeException("Stub!"); }
    public Object getSystemService(String name) { throw new RuntimeException("Stub!"); }
    public Intent registerReceiver(BroadcastReceiver receiver, IntentFilter filter) { throw new RuntimeException("Stub!"); }
}
