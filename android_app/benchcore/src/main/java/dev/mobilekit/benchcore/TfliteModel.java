package dev.mobilekit.benchcore;

import java.io.File;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The input tensors of a .tflite file read straight from its flatbuffer, and the same file with
 * those inputs' stored shapes set to the data's, so an interpreter allocates once at the shape it
 * will run at.
 *
 * <p>Why: LiteRT's Java Interpreter allocates tensors in its constructor, at the stored shape,
 * where every free (-1) dimension is 1. For a free-height/width model that first allocation
 * happens at 1x1 pixels, and XNNPACK then fails to reshape ("XNNPack delegate failed to
 * reshape runtime"), or a VALID convolution fails outright. Writing the data's shape into the
 * stored shape of the free dimensions (of a copy in memory: the file is never changed) makes the constructor's allocation the right one, as the host runner does by resizing
 * before its first allocation. Only the free dimensions may change; the shape signature stays.
 *
 * <p>Pure Java over the flatbuffer layout of LiteRT's schema (Model.subgraphs[0].tensors /
 * .inputs; Tensor.shape, .type, .name, .shape_signature), so it runs and is tested on a laptop.
 */
public final class TfliteModel {
    // Field slots in the schema's tables (schema.fbs).
    private static final int MODEL_SUBGRAPHS = 2;
    private static final int SUBGRAPH_TENSORS = 0;
    private static final int SUBGRAPH_INPUTS = 1;
    private static final int TENSOR_SHAPE = 0;
    private static final int TENSOR_TYPE = 1;
    private static final int TENSOR_NAME = 3;
    private static final int TENSOR_SHAPE_SIGNATURE = 7;

    /** One model input as the file declares it. */
    public static final class Input {
        public final String name;
        /** The schema's TensorType code (0 FLOAT32, 9 INT8, ...). */
        public final int type;
        private final int[] shape;
        private final int[] signature;
        /** Byte position of the stored shape's first element, or -1 for a scalar. */
        final int shapeAt;

        Input(String name, int type, int[] shape, int[] signature, int shapeAt) {
            this.name = name;
            this.type = type;
            this.shape = shape;
            this.signature = signature;
            this.shapeAt = shapeAt;
        }

        /** The stored shape: what an interpreter allocates without a resize (1 for a free dimension). */
        public int[] shape() {
            return shape.clone();
        }

        /** The shape signature, -1 for a free dimension; the stored shape when the file has none. */
        public int[] signature() {
            return signature.clone();
        }

        /** Whether a dimension after the batch (height, width, length...) is free. */
        public boolean hasFreeDimsBesidesBatch() {
            for (int d = 1; d < signature.length; d++) {
                if (signature[d] < 0) {
                    return true;
                }
            }
            return false;
        }

        public boolean hasFreeDims() {
            return signature.length > 0 && (signature[0] < 0 || hasFreeDimsBesidesBatch());
        }

        @Override
        public String toString() {
            return name + Arrays.toString(signature);
        }
    }

    private TfliteModel() {
    }

    /** Maps a model file read-only. */
    public static MappedByteBuffer mapReadOnly(File file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file, "r"); FileChannel channel = raf.getChannel()) {
            return channel.map(FileChannel.MapMode.READ_ONLY, 0, channel.size());
        }
    }

    /**
     * The model file's bytes in a direct buffer in native order, as LiteRT's Interpreter takes
     * them: a copy that {@link #setInputShapes} may change, never the file (a copy-on-write
     * mapping would need the file opened for writing).
     */
    public static ByteBuffer copyDirect(File file) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file, "r"); FileChannel channel = raf.getChannel()) {
            long size = channel.size();
            if (size > Integer.MAX_VALUE) {
                throw new IOException(file + " is too large (" + size + " bytes) to set its input shapes");
            }
            ByteBuffer copy = ByteBuffer.allocateDirect((int) size).order(ByteOrder.nativeOrder());
            while (copy.hasRemaining() && channel.read(copy) >= 0) {
                // read it all
            }
            copy.flip();
            return copy;
        }
    }

    /** The first subgraph's inputs, in order. IOException when the bytes are not a .tflite flatbuffer. */
    public static List<Input> inputs(ByteBuffer model) throws IOException {
        ByteBuffer b = model.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        try {
            if (b.limit() < 8) {
                throw new IOException("too short for a .tflite flatbuffer (" + b.limit() + " bytes)");
            }
            int root = indirect(b, 0);
            int subgraphs = field(b, root, MODEL_SUBGRAPHS);
            if (subgraphs < 0 || vectorLength(b, indirect(b, subgraphs)) == 0) {
                throw new IOException("the model has no subgraph");
            }
            int subgraph = indirect(b, indirect(b, subgraphs) + 4);
            int tensorsField = field(b, subgraph, SUBGRAPH_TENSORS);
            int inputsField = field(b, subgraph, SUBGRAPH_INPUTS);
            if (tensorsField < 0 || inputsField < 0) {
                return Collections.emptyList();
            }
            int tensors = indirect(b, tensorsField);
            int tensorCount = vectorLength(b, tensors);
            int inputs = indirect(b, inputsField);
            int inputCount = vectorLength(b, inputs);
            List<Input> out = new ArrayList<>(inputCount);
            for (int i = 0; i < inputCount; i++) {
                int index = b.getInt(inputs + 4 + 4 * i);
                if (index < 0 || index >= tensorCount) {
                    throw new IOException("input " + i + " names tensor " + index + " of " + tensorCount);
                }
                out.add(tensor(b, indirect(b, tensors + 4 + 4 * index)));
            }
            return Collections.unmodifiableList(out);
        } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
            throw new IOException("not a readable .tflite flatbuffer (" + e.getClass().getSimpleName() + ")");
        }
    }

    /**
     * Writes {@code shapes} (one per input, null to leave one as stored) into the stored shapes of
     * the model's inputs, in place. Each shape must have the input's rank and keep every fixed
     * dimension; a free dimension takes any size of at least 1.
     */
    public static void setInputShapes(ByteBuffer model, List<int[]> shapes) throws IOException {
        List<Input> inputs = inputs(model);
        if (shapes.size() != inputs.size()) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%d shapes for a model with %d inputs", shapes.size(), inputs.size()));
        }
        ByteBuffer b = model.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < inputs.size(); i++) {
            int[] want = shapes.get(i);
            if (want == null) {
                continue;
            }
            Input input = inputs.get(i);
            String problem = misfit(input, want);
            if (problem != null) {
                throw new IllegalArgumentException(problem);
            }
            for (int d = 0; d < want.length; d++) {
                b.putInt(input.shapeAt + 4 * d, want[d]);
            }
        }
    }

    /** Why {@code want} cannot be an input's shape, or null when it can. */
    public static String misfit(Input input, int[] want) {
        int[] signature = input.signature;
        if (want.length != signature.length || input.shapeAt < 0 && want.length > 0) {
            return String.format(Locale.ROOT, "shape %s has rank %d but model input '%s' %s has rank %d",
                    Arrays.toString(want), want.length, input.name, Arrays.toString(signature), signature.length);
        }
        for (int d = 0; d < want.length; d++) {
            boolean free = signature[d] < 0;
            if (want[d] < 1 || !free && want[d] != signature[d]) {
                return String.format(Locale.ROOT, "shape %s does not fit model input '%s' %s: only its free (-1) "
                        + "dimensions can change, to a size of at least 1", Arrays.toString(want), input.name,
                        Arrays.toString(signature));
            }
        }
        return null;
    }

    private static Input tensor(ByteBuffer b, int table) {
        int shapeField = field(b, table, TENSOR_SHAPE);
        int[] shape = new int[0];
        int shapeAt = -1;
        if (shapeField >= 0) {
            int vector = indirect(b, shapeField);
            shape = ints(b, vector);
            shapeAt = vector + 4;
        }
        int typeField = field(b, table, TENSOR_TYPE);
        int type = typeField < 0 ? 0 : b.get(typeField);
        int nameField = field(b, table, TENSOR_NAME);
        String name = "";
        if (nameField >= 0) {
            int string = indirect(b, nameField);
            int length = vectorLength(b, string);
            byte[] bytes = new byte[length];
            ByteBuffer slice = b.duplicate();
            slice.position(string + 4);
            slice.get(bytes);
            name = new String(bytes, StandardCharsets.UTF_8);
        }
        int signatureField = field(b, table, TENSOR_SHAPE_SIGNATURE);
        int[] signature = signatureField < 0 ? shape.clone() : ints(b, indirect(b, signatureField));
        if (signature.length != shape.length) {
            signature = shape.clone(); // a signature that disagrees with the shape is ignored, as LiteRT does
        }
        return new Input(name, type, shape, signature, shapeAt);
    }

    /** Position of a table's field, or -1 when the field is absent. */
    private static int field(ByteBuffer b, int table, int slot) {
        int vtable = table - b.getInt(table);
        int vtableSize = b.getShort(vtable) & 0xffff;
        int entry = 4 + 2 * slot;
        if (entry + 2 > vtableSize) {
            return -1;
        }
        int offset = b.getShort(vtable + entry) & 0xffff;
        return offset == 0 ? -1 : table + offset;
    }

    /** Follows the unsigned offset stored at {@code at}. */
    private static int indirect(ByteBuffer b, int at) {
        long target = (long) at + (b.getInt(at) & 0xffffffffL);
        if (target >= b.limit()) {
            throw new IndexOutOfBoundsException("offset past the end");
        }
        return (int) target;
    }

    private static int vectorLength(ByteBuffer b, int vector) {
        int length = b.getInt(vector);
        if (length < 0 || (long) vector + 4 + length > b.limit()) {
            throw new IndexOutOfBoundsException("vector past the end");
        }
        return length;
    }

    private static int[] ints(ByteBuffer b, int vector) {
        int length = vectorLength(b, vector);
        if ((long) vector + 4 + 4L * length > b.limit()) {
            throw new IndexOutOfBoundsException("vector past the end");
        }
        int[] out = new int[length];
        for (int i = 0; i < length; i++) {
            out[i] = b.getInt(vector + 4 + 4 * i);
        }
        return out;
    }
}
