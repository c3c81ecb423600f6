// android.widget.ScrollView — https://developer.android.com/reference/android/widget/ScrollView
// Compile-check stub: signatures only (the SDK's superclass is FrameLayout).
package android.widget;

import android.content.Context;
import android.view.ViewGroup;

public class ScrollView extends ViewGroup {
    public ScrollView(Context context) { super(context); throw new RuntimeException("Stub!"); }
}
