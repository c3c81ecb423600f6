package dev.mobilekit.benchcore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/** An n-dimensional array as an .npy file holds it: dtype, C-order shape, little-endian bytes. */
public final class NpyArray {
    public final DType dtype;
    private final long[] shape;
    private final byte[] data;

    public NpyArray(DType dtype, long[] shape, byte[] data) {
        long expected = elementCount(shape) * dtype.itemSize;
        if (data.length != expected) {
            throw new IllegalArgumentException("data holds " + data.length + " bytes but shape "
                    + Arrays.toString(shape) + " of " + dtype + " needs " + expected);
        }
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
    }

    public static long elementCount(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public long[] shape() {
        return shape.clone();
    }

    /** The raw little-endian bytes (not copied: callers must not modify them). */
    public byte[] rawBytes() {
        return data;
    }

    /** A read-only little-endian view of the bytes. */
    public ByteBuffer buffer() {
        return ByteBuffer.wrap(data).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Number of rows along the first axis (1 for a scalar array). */
    public long rows() {
        return shape.length == 0 ? 1 : shape[0];
    }

    public int bytesPerRow() {
        long perRow = dtype.itemSize;
        for (int i = 1; i < shape.length; i++) {
            perRow *= shape[i];
        }
        return Math.toIntExact(perRow);
    }

    /** Element i (C order) widened to double, whatever the dtype; for tests and displays. */
    public double getAsDouble(long index) {
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        int at = Math.toIntExact(index * dtype.itemSize);
        switch (dtype) {
            case FLOAT32: return b.getFloat(at);
            case FLOAT16: return Half.toFloat(b.getShort(at));
            case INT8: return b.get(at);
            case UINT8: return b.get(at) & 0xff;
            case INT16: return b.getShort(at);
            case INT32: return b.getInt(at);
            case INT64: return b.getLong(at);
            case BOOL: return b.get(at) != 0 ? 1 : 0;
            default: throw new AssertionError(dtype);
        }
    }

    @Override
    public String toString() {
        return "NpyArray(" + dtype + ", " + Arrays.toString(shape) + ")";
    }
}
