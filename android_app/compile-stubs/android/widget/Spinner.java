// android.widget.Spinner — https://developer.android.com/reference/android/widget/Spinner
// Compile-check stub: signatures only. In the SDK, setAdapter comes from AbsSpinner and
// getSelectedItem from AdapterView; both are public on Spinner through that chain.
package android.widget;

import android.content.Context;
import android.view.View;

public class Spinner extends View {
    public Spinner(Context context) { super(context); throw new RuntimeException("Stub!"); }
    public void setAdapter(SpinnerAdapter adapter) { throw new RuntimeException("Stub!"); }
    public Object getSelectedItem() { throw new RuntimeException("Stub!"); }
}
