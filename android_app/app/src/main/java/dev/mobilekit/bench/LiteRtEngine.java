package dev.mobilekit.bench;

import android.os.Build;
import android.util.Log;

import dev.mobilekit.benchcore.AppliedDelegate;
import dev.mobilekit.benchcore.BenchRequest;
import dev.mobilekit.benchcore.DType;
import dev.mobilekit.benchcore.Engine;
import dev.mobilekit.benchcore.TensorSpec;
import dev.mobilekit.benchcore.TfliteModel;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.TensorFlowLite;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;
import org.tensorflow.lite.gpu.GpuDelegateFactory;
import org.tensorflow.lite.nnapi.NnApiDelegate;

/**
 * The LiteRT Interpreter behind benchcore's {@link Engine}: CPU with or without XNNPACK, the GPU
 * delegate, the NNAPI delegate. A delegate that cannot be used falls back to XNNPACK on the CPU
 * with the same threads, and the reason goes into the result, so a run never silently measures
 * something other than what it says.
 */
public final class LiteRtEngine implements Engine {
    private static final String TAG = "mobilekit";

    private Interpreter interpreter;
    private GpuDelegate gpuDelegate;
    private NnApiDelegate nnApiDelegate;
    private List<TensorSpec> inputs = Collections.emptyList();
    private List<TensorSpec> outputs = Collections.emptyList();
    private ByteBuffer[] boundInputs;
    private ByteBuffer[] boundOutputs;
    private Object[] inputArray;
    private final Map<Integer, Object> outputMap = new HashMap<>();
    private File modelFile;
    private List<int[]> inputShapes;

    @Override
    public AppliedDelegate init(File model, BenchRequest.Delegate delegate) throws Exception {
        return init(model, delegate, null);
    }

    /**
     * The Interpreter's constructor allocates tensors at the stored input shapes, so inputs with
     * free dimensions are given the data's shape in the model's bytes first (a copy in memory; see
     * {@link TfliteModel}): one allocation, at the shape the run uses.
     */
    @Override
    public AppliedDelegate init(File model, BenchRequest.Delegate delegate, List<int[]> shapes) throws Exception {
        modelFile = model;
        inputShapes = shapes;
        AppliedDelegate applied;
        switch (delegate.name) {
            case "cpu":
                interpreter = open(cpuOptions(delegate.threads, false));
                applied = AppliedDelegate.as("cpu");
                break;
            case "xnnpack":
                interpreter = open(cpuOptions(delegate.threads, true));
                applied = AppliedDelegate.as("xnnpack");
                break;
            case "gpu":
                applied = initGpu(delegate);
                break;
            case "nnapi":
                applied = initNnApi(delegate);
                break;
            default:
                throw new IllegalArgumentException("unknown delegate " + delegate.name);
        }
        interpreter.allocateTensors();
        inputs = specs(true);
        outputs = specs(false);
        return applied;
    }

    @Override
    public List<TfliteModel.Input> declaredInputs(File model) {
        try {
            return TfliteModel.inputs(TfliteModel.mapReadOnly(model));
        } catch (IOException | RuntimeException e) {
            return null; // the Interpreter names what is wrong with the file
        }
    }

    /** An Interpreter over the model, its free input dimensions set to {@link #inputShapes}. */
    private Interpreter open(Interpreter.Options options) {
        if (inputShapes == null) {
            return new Interpreter(modelFile, options);
        }
        ByteBuffer bytes;
        try {
            bytes = TfliteModel.copyDirect(modelFile);
            TfliteModel.setInputShapes(bytes, inputShapes);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot set the input shapes of " + modelFile + ": " + e.getMessage(), e);
        }
        return new Interpreter(bytes, options);
    }

    private static Interpreter.Options cpuOptions(int threads, boolean xnnpack) {
        Interpreter.Options options = new Interpreter.Options();
        options.setNumThreads(threads);
        options.setUseXNNPACK(xnnpack);
        return options;
    }

    private AppliedDelegate initGpu(BenchRequest.Delegate delegate) {
        String reason;
        try (CompatibilityList compatibility = new CompatibilityList()) {
            if (!compatibility.isDelegateSupportedOnThisDevice()) {
                reason = "the GPU delegate's CompatibilityList does not support this device ("
                        + Build.MANUFACTURER + " " + Build.MODEL + ")";
            } else {
                GpuDelegateFactory.Options options = compatibility.getBestOptionsForThisDevice();
                options.setPrecisionLossAllowed(delegate.gpuPrecisionLossAllowed);
                // A benchmark runs the same model many times: trade init time for throughput.
                options.setInferencePreference(GpuDelegateFactory.Options.INFERENCE_PREFERENCE_SUSTAINED_SPEED);
                gpuDelegate = new GpuDelegate(options);
                Interpreter.Options interpreterOptions = cpuOptions(delegate.threads, true);
                interpreterOptions.addDelegate(gpuDelegate);
                interpreter = open(interpreterOptions);
                return AppliedDelegate.as("gpu");
            }
        } catch (RuntimeException | LinkageError e) {
            // Model ops the GPU cannot run, no OpenCL/OpenGL driver, a missing native library.
            reason = "the GPU delegate failed: " + e.getMessage();
            closeDelegates();
        }
        return fallBack(delegate.threads, reason);
    }

    @SuppressWarnings("deprecation")  // NNAPI is deprecated from Android 15; still measured where it exists.
    private AppliedDelegate initNnApi(BenchRequest.Delegate delegate) {
        String reason = nnApiUnusable(Build.VERSION.SDK_INT, NnApiDevices.declared(new File("/")),
                delegate.nnapiAccelerator);
        if (reason == null) {
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.VANILLA_ICE_CREAM) {
                Log.w(TAG, "NNAPI is deprecated from Android 15; vendors may no longer ship NNAPI drivers");
            }
            try {
                NnApiDelegate.Options options = new NnApiDelegate.Options();
                options.setExecutionPreference(NnApiDelegate.Options.EXECUTION_PREFERENCE_SUSTAINED_SPEED);
                options.setAllowFp16(delegate.nnapiAllowFp16);
                // Keep NNAPI off its reference CPU path: it is slower than XNNPACK and would be
                // reported as "nnapi" (honoured from API 29).
                options.setUseNnapiCpu(false);
                if (delegate.nnapiAccelerator != null) {
                    options.setAcceleratorName(delegate.nnapiAccelerator);
                }
                nnApiDelegate = new NnApiDelegate(options);
                Interpreter.Options interpreterOptions = cpuOptions(delegate.threads, true);
                interpreterOptions.addDelegate(nnApiDelegate);
                interpreter = open(interpreterOptions);
                int errno = nnApiDelegate.getNnapiErrno();
                if (errno == 0) {
                    return AppliedDelegate.as("nnapi");
                }
                // The delegate returned OK but NNAPI itself failed: the graph runs on the CPU.
                reason = "NNAPI reported error " + errno + " while preparing the model (ANEURALNETWORKS_* code)";
                interpreter.close();
                interpreter = null;
                closeDelegates();
            } catch (RuntimeException | LinkageError e) {
                reason = "the NNAPI delegate failed"
                        + (delegate.nnapiAccelerator != null ? " on accelerator '" + delegate.nnapiAccelerator + "'" : "")
                        + ": " + e.getMessage();
                closeDelegates();
            }
        }
        return fallBack(delegate.threads, reason);
    }

    /**
     * Why the NNAPI delegate would not run the model on an accelerator, or null when it can: below
     * API 27 there is no NNAPI; below API 29 the delegate ignores setUseNnapiCpu(false) and the
     * accelerator name, so nnapi-reference (the CPU) may run it; a device whose VINTF manifests
     * declare no NNAPI driver has only nnapi-reference, and the delegate then returns OK while
     * delegating nothing. {@code declared} null: the manifests could not be read, so nothing is
     * known against NNAPI.
     */
    static String nnApiUnusable(int sdk, List<String> declared, String accelerator) {
        if (sdk < 27) {
            return "NNAPI needs Android 8.1 (API 27); this device runs API " + sdk;
        }
        if (sdk < 29) {
            return "on API " + sdk + " (before Android 10) the NNAPI delegate cannot keep NNAPI off its reference CPU "
                    + "implementation (the accelerator name and setUseNnapiCpu(false) are ignored), so it would "
                    + "measure nnapi-reference, not an accelerator";
        }
        if (declared != null && declared.isEmpty()) {
            return "this device declares no NNAPI accelerator driver (no android.hardware.neuralnetworks HAL in its "
                    + "VINTF manifests): NNAPI has only nnapi-reference, and the delegate would run nothing";
        }
        if (declared != null && accelerator != null && !declared.contains(accelerator)) {
            return "NNAPI accelerator '" + accelerator + "' is not on this device (its NNAPI drivers: "
                    + String.join(", ", declared) + ")";
        }
        return null;
    }

    private AppliedDelegate fallBack(int threads, String reason) {
        Log.w(TAG, "falling back to XNNPACK: " + reason);
        interpreter = open(cpuOptions(threads, true));
        return new AppliedDelegate("xnnpack", reason);
    }

    private List<TensorSpec> specs(boolean input) {
        int count = input ? interpreter.getInputTensorCount() : interpreter.getOutputTensorCount();
        List<TensorSpec> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Tensor t = input ? interpreter.getInputTensor(i) : interpreter.getOutputTensor(i);
            out.add(new TensorSpec(t.name(), dtype(t.dataType(), t.name()), t.shape()));
        }
        return Collections.unmodifiableList(out);
    }

    private static DType dtype(DataType type, String name) {
        switch (type) {
            case FLOAT32: return DType.FLOAT32;
            case INT32: return DType.INT32;
            case UINT8: return DType.UINT8;
            case INT64: return DType.INT64;
            case BOOL: return DType.BOOL;
            case INT16: return DType.INT16;
            case INT8: return DType.INT8;
            default:
                throw new IllegalArgumentException("tensor '" + name + "' has type " + type
                        + ", which the benchmark cannot feed or save");
        }
    }

    @Override
    public List<TensorSpec> inputs() {
        return inputs;
    }

    @Override
    public List<TensorSpec> outputs() {
        return outputs;
    }

    @Override
    public void run(ByteBuffer[] in, ByteBuffer[] out) {
        if (in != boundInputs || out != boundOutputs) {
            // The run loop reuses the same buffers: bind them once, outside the timed calls.
            inputArray = in.clone();
            outputMap.clear();
            for (int i = 0; i < out.length; i++) {
                outputMap.put(i, out[i]);
            }
            boundInputs = in;
            boundOutputs = out;
        }
        interpreter.runForMultipleInputsOutputs(inputArray, outputMap);
    }

    @Override
    public Long lastRunNanos() {
        return interpreter == null ? null : interpreter.getLastNativeInferenceDurationNanoseconds();
    }

    @Override
    public String runtime() {
        return "litert";
    }

    /** TfLiteVersion() of the native runtime, e.g. "2.16.1" (the artifact is recorded beside it). */
    @Override
    public String runtimeVersion() {
        try {
            return TensorFlowLite.runtimeVersion();
        } catch (RuntimeException | LinkageError e) {
            return "unknown";
        }
    }

    @Override
    public void close() {
        if (interpreter != null) {
            interpreter.close();
            interpreter = null;
        }
        closeDelegates();
    }

    private void closeDelegates() {
        // Delegates outlive nothing: close them after the interpreter that used them.
        if (gpuDelegate != null) {
            gpuDelegate.close();
            gpuDelegate = null;
        }
        if (nnApiDelegate != null) {
            nnApiDelegate.close();
            nnApiDelegate = null;
        }
    }
}
