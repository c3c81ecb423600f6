// org.tensorflow.lite.Interpreter (LiteRT / TensorFlow Lite Java API)
// https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/Interpreter
// Compile-check stub: signatures only. In the library the run/tensor methods come from
// InterpreterImpl / InterpreterApi; they are public on Interpreter through that chain.
package org.tensorflow.lite;

import java.io.File;
import java.util.Map;

public final class Interpreter implements AutoCloseable {
    public Interpreter(File modelFile, Options options) { throw new RuntimeException("Stub!"); }
    public void runForMultipleInputsOutputs(Object[] inputs, Map<Integer, Object> outputs) { throw new RuntimeException("Stub!"); }
    public void allocateTensors() { throw new RuntimeException("Stub!"); }
    public int getInputTensorCount() { throw new RuntimeException("Stub!"); }
    public int getOutputTensorCount() { throw new RuntimeException("Stub!"); }
    public Tensor getInputTensor(int inputIndex) { throw new RuntimeException("Stub!"); }
    public Tensor getOutputTensor(int outputIndex) { throw new RuntimeException("Stub!"); }
    public Long getLastNativeInferenceDurationNanoseconds() { throw new RuntimeException("Stub!"); }
    @Override
    public void close() { throw new RuntimeException("Stub!"); }

    // https://ai.google.dev/edge/api/tflite/java/org/tensorflow/lite/Interpreter.Options
    public static class Options {
        public Options() { throw new RuntimeException("Stub!"); }
        public Options setNumThreads(int numThreads) { throw new RuntimeException("Stub!"); }
        public Options setUseXNNPACK(boolean useXNNPACK) { throw new RuntimeException("Stub!"); }
        public Options addDelegate(Delegate delegate) { throw new RuntimeException("Stub!"); }
    }
}
