package dev.mobilekit.benchcore;

import java.io.File;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * An inference engine the run loop drives: the app's LiteRT engine on a phone, a fake in tests.
 * The loop owns timing; an engine only loads, runs and closes.
 */
public interface Engine extends AutoCloseable {
    /**
     * Loads the model with the requested delegate, falling back where the delegate cannot be used,
     * and allocates tensors. Returns what was actually applied.
     */
    AppliedDelegate init(File model, BenchRequest.Delegate delegate) throws Exception;

    /**
     * As {@link #init(File, BenchRequest.Delegate)}, allocating the inputs at {@code inputShapes}
     * (one per input, null to keep one as stored) instead of the stored shapes: the run loop asks
     * for it when a model has free dimensions, so tensors are allocated once, at the data's shape.
     * {@code inputShapes} null: the stored shapes.
     */
    default AppliedDelegate init(File model, BenchRequest.Delegate delegate, List<int[]> inputShapes) throws Exception {
        if (inputShapes != null) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot resize inputs");
        }
        return init(model, delegate);
    }

    /**
     * The model's inputs as its file declares them, read before {@link #init} (no interpreter, no
     * allocation), or null when the engine cannot tell; then inputs are allocated as stored.
     */
    default List<TfliteModel.Input> declaredInputs(File model) {
        return null;
    }

    /** Input tensors, valid after {@link #init}. */
    List<TensorSpec> inputs();

    /** Output tensors, valid after {@link #init}. */
    List<TensorSpec> outputs();

    /**
     * One inference. Input buffers hold one batch each, little-endian, positioned at 0; output
     * buffers have room for one batch each and are filled from position 0.
     */
    void run(ByteBuffer[] inputs, ByteBuffer[] outputs) throws Exception;

    /**
     * The runtime's own measure of the last {@link #run}, in nanoseconds, or null when it has
     * none. LiteRT's getLastNativeInferenceDurationNanoseconds() times the native invoke only,
     * as benchmark_model and the Python host runner do; the loop prefers it to its own clock,
     * which would also count the copies between Java buffers and tensors.
     */
    default Long lastRunNanos() {
        return null;
    }

    /** Runtime name and version for the result's runner block, e.g. "litert", "1.4.0". */
    String runtime();

    String runtimeVersion();

    @Override
    void close();
}
