// org.tensorflow.lite.Tensor — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/Tensor
// Compile-check stub: signatures only (an interface in current LiteRT / TensorFlow Lite).
package org.tensorflow.lite;

public interface Tensor {
    DataType dataType();
    int[] shape();
    String name();
    int numBytes();
}
