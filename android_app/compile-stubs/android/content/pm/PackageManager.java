// android.content.pm.PackageManager — https://developer.android.com/reference/android/content/pm/PackageManager#getPackageInfo(java.lang.String,%20int)
// Compile-check stub: signatures only (abstract in the SDK).
package android.content.pm;

public abstract class PackageManager {
    public PackageManager() { throw new RuntimeException("Stub!"); }
    public abstract PackageInfo getPackageInfo(String packageName, int flags) throws NameNotFoundException;

    public static class NameNotFoundException extends Exception {
        public NameNotFoundException() { throw new RuntimeException("Stub!"); }
    }
}
