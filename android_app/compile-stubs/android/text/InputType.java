// android.text.InputType — https://developer.android.com/reference/android/text/InputType
// Compile-check stub: signatures only.
package android.text;

public interface InputType {
    int TYPE_CLASS_NUMBER = 2;
}
