// android.text.Editable — https://developer.android.com/reference/android/text/Editable
// Compile-check stub: signatures only.
package android.text;

public interface Editable extends CharSequence {
}
