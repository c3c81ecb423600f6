// android.widget.TextView — https://developer.android.com/reference/android/widget/TextView
// Compile-check stub: signatures only.
package android.widget;

import android.content.Context;
import android.view.View;

public class TextView extends View {
    public TextView(Context context) { super(context); throw new RuntimeException("Stub!"); }
    public final void setText(CharSequence text) { throw new RuntimeException("Stub!"); }
    public CharSequence getText() { throw new RuntimeException("Stub!"); }
    public void setTextIsSelectable(boolean selectable) { throw new RuntimeException("Stub!"); }
    public void setInputType(int type) { throw new RuntimeException("Stub!"); }
    public void setHint(CharSequence hint) { throw new RuntimeException("Stub!"); }
}
