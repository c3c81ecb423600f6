// android.widget.SpinnerAdapter — https://developer.android.com/reference/android/widget/SpinnerAdapter
// Compile-check stub: signatures only (the app only passes adapters through).
package android.widget;

public interface SpinnerAdapter {
}
