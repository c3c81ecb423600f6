// org.tensorflow.lite.TensorFlowLite — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/TensorFlowLite
// Compile-check stub: signatures only.
package org.tensorflow.lite;

public final class TensorFlowLite {
    private TensorFlowLite() { throw new RuntimeException("Stub!"); }
    public static String runtimeVersion() { throw new RuntimeException("Stub!"); }
    public static String schemaVersion() { throw new RuntimeException("Stub!"); }
}
