// android.content.pm.PackageInfo — https://developer.android.com/reference/android/content/pm/PackageInfo
// Compile-check stub: signatures only.
package android.content.pm;

public class PackageInfo {
    public String versionName;

    public PackageInfo() { throw new RuntimeException("Stub!"); }
}
