// org.tensorflow.lite.gpu.GpuDelegateFactory — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/gpu/GpuDelegateFactory.Options
// Compile-check stub: the Options the GPU delegate takes (the factory itself is not used).
package org.tensorflow.lite.gpu;

public class GpuDelegateFactory {
    public GpuDelegateFactory() { throw new RuntimeException("Stub!"); }

    public static class Options {
        public static final int INFERENCE_PREFERENCE_FAST_SINGLE_ANSWER = 0;
        public static final int INFERENCE_PREFERENCE_SUSTAINED_SPEED = 1;

        public Options() { throw new RuntimeException("Stub!"); }
        public Options setPrecisionLossAllowed(boolean precisionLossAllowed) { throw new RuntimeException("Stub!"); }
        public Options setInferencePreference(int preference) { throw new RuntimeException("Stub!"); }
        public boolean isPrecisionLossAllowed() { throw new RuntimeException("Stub!"); }
    }
}
