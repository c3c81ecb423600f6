package dev.mobilekit.benchcore;

import java.util.Arrays;

/** A model input or output as the engine reports it: name, element type and shape. */
public final class TensorSpec {
    public final String name;
    public final DType dtype;
    private final int[] shape;

    public TensorSpec(String name, DType dtype, int[] shape) {
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
    }

    public int[] shape() {
        return shape.clone();
    }

    /** The batch dimension; a dynamic (-1) or missing batch counts as 1. */
    public int batch() {
        return shape.length == 0 || shape[0] < 1 ? 1 : shape[0];
    }

    /** Elements in one sample, i.e. the product of shape[1:]; a scalar tensor has one. */
    public long elementsPerSample() {
        long n = 1;
        for (int i = 1; i < shape.length; i++) {
            n *= Math.max(shape[i], 0);
        }
        return n;
    }

    public long bytesPerBatch() {
        return elementsPerSample() * batch() * dtype.itemSize;
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }
}
