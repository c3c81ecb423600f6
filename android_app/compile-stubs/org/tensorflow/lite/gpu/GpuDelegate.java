// org.tensorflow.lite.gpu.GpuDelegate — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/gpu/GpuDelegate
// Compile-check stub: signatures only (artifact litert-gpu / tensorflow-lite-gpu).
package org.tensorflow.lite.gpu;

import org.tensorflow.lite.Delegate;

public class GpuDelegate implements Delegate {
    public GpuDelegate(GpuDelegateFactory.Options options) { throw new RuntimeException("Stub!"); }
    public GpuDelegate() { throw new RuntimeException("Stub!"); }
    @Override
    public long getNativeHandle() { throw new RuntimeException("Stub!"); }
    @Override
    public void close() { throw new RuntimeException("Stub!"); }

    /** Deprecated in the library in favour of GpuDelegateFactory.Options, which the app names. */
    @Deprecated
    public static final class Options extends GpuDelegateFactory.Options {
        public Options() { throw new RuntimeException("Stub!"); }
    }
}
