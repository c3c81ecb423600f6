// android.app.Instrumentation — https://developer.android.com/reference/android/app/Instrumentation
// Compile-check stub: signatures only, as in the SDK's android.jar.
package android.app;

import android.content.Context;
import android.os.Bundle;

public class Instrumentation {
    public static final String REPORT_KEY_IDENTIFIER = "id";
    public static final String REPORT_KEY_STREAMRESULT = "stream";

    public Instrumentation() { throw new RuntimeException("Stub!"); }
    public void onCreate(Bundle arguments) { throw new RuntimeException("Stub!"); }
    public void start() { throw new RuntimeException("Stub!"); }
    public void onStart() { throw new RuntimeException("Stub!"); }
    public void sendStatus(int resultCode, Bundle results) { throw new RuntimeException("Stub!"); }
    public void finish(int resultCode, Bundle results) { throw new RuntimeException("Stub!"); }
    public Context getContext() { throw new RuntimeException("Stub!"); }
    public Context getTargetContext() { throw new RuntimeException("Stub!"); }
}
