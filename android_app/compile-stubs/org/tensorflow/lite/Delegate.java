// org.tensorflow.lite.Delegate — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/Delegate
// Compile-check stub: signatures only.
package org.tensorflow.lite;

import java.io.Closeable;

public interface Delegate extends Closeable {
    long getNativeHandle();

    @Override
    default void close() {
    }
}
