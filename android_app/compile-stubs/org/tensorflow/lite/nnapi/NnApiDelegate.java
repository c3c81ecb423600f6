// org.tensorflow.lite.nnapi.NnApiDelegate — https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/nnapi/NnApiDelegate
// Compile-check stub: signatures only. NNAPI itself is deprecated from Android 15 (API 35):
// https://developer.android.com/ndk/guides/neuralnetworks/migration-guide
package org.tensorflow.lite.nnapi;

import org.tensorflow.lite.Delegate;

public class NnApiDelegate implements Delegate, AutoCloseable {
    public NnApiDelegate(Options options) { throw new RuntimeException("Stub!"); }
    public NnApiDelegate() { throw new RuntimeException("Stub!"); }
    @Override
    public long getNativeHandle() { throw new RuntimeException("Stub!"); }
    public int getNnapiErrno() { throw new RuntimeException("Stub!"); }
    @Override
    public void close() { throw new RuntimeException("Stub!"); }

    public static final class Options {
        public static final int EXECUTION_PREFERENCE_UNDEFINED = -1;
        public static final int EXECUTION_PREFERENCE_LOW_POWER = 0;
        public static final int EXECUTION_PREFERENCE_FAST_SINGLE_ANSWER = 1;
        public static final int EXECUTION_PREFERENCE_SUSTAINED_SPEED = 2;

        public Options() { throw new RuntimeException("Stub!"); }
        public Options setExecutionPreference(int preference) { throw new RuntimeException("Stub!"); }
        public Options setAcceleratorName(String name) { throw new RuntimeException("Stub!"); }
        public Options setAllowFp16(boolean enable) { throw new RuntimeException("Stub!"); }
        public Options setUseNnapiCpu(boolean enable) { throw new RuntimeException("Stub!"); }
    }
}
