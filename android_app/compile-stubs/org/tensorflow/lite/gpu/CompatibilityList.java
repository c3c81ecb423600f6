// org.tensorflow.lite.gpu.CompatibilityList — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/gpu/CompatibilityList
// Compile-check stub: signatures only.
package org.tensorflow.lite.gpu;

import java.io.Closeable;

public class CompatibilityList implements Closeable {
    public CompatibilityList() { throw new RuntimeException("Stub!"); }
    public boolean isDelegateSupportedOnThisDevice() { throw new RuntimeException("Stub!"); }
    @SuppressWarnings("deprecation")
    public GpuDelegate.Options getBestOptionsForThisDevice() { throw new RuntimeException("Stub!"); }
    @Override
    public void close() { throw new RuntimeException("Stub!"); }
}
