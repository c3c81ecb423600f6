// android.widget.ArrayAdapter — https://developer.android.com/reference/android/widget/ArrayAdapter
// Compile-check stub: signatures only (the SDK's superclass is BaseAdapter).
package android.widget;

import android.content.Context;
import java.util.List;

public class ArrayAdapter<T> implements SpinnerAdapter {
    public ArrayAdapter(Context context, int resource, List<T> objects) { throw new RuntimeException("Stub!"); }
    public void setDropDownViewResource(int resource) { throw new RuntimeException("Stub!"); }
}
