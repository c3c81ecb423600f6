// android.widget.EditText — https://developer.android.com/reference/android/widget/EditText
// Compile-check stub: signatures only. getText() returns Editable in the SDK.
package android.widget;

import android.content.Context;
import android.text.Editable;

public class EditText extends TextView {
    public EditText(Context context) { super(context); throw new RuntimeException("Stub!"); }
    @Override
    public Editable getText() { throw new RuntimeException("Stub!"); }
}
