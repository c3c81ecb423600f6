package dev.mobilekit.benchcore;

import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The samples a run feeds, checked against the model's inputs: one .npy per input with the input's
 * dtype and shape [N, *input_shape[1:]], or seeded random data. Runs cycle over the N samples one
 * batch (the input's first dimension) at a time.
 */
public final class InputSet {
    private final List<TensorSpec> specs;
    private final List<byte[]> data;
    /** Samples per input (N). */
    public final long samples;
    /** Batches per cycle: N / batch size. */
    public final int batches;

    private InputSet(List<TensorSpec> specs, List<byte[]> data, long samples, int batches) {
        this.specs = specs;
        this.data = data;
        this.samples = samples;
        this.batches = batches;
    }

    /**
     * The shape each input must be allocated at to take the request's samples, or null when the
     * stored shapes do: for a model with free dimensions, each free dimension after the batch takes
     * the size of the .npy file's (read from its header only); the batch stays as stored, as the host
     * runner feeds it. A file that does not fit is left to {@link #prepare} to name. Random inputs
     * take the request's shapes (checked against the model: only free dimensions may differ);
     * without them they cannot give a free height or width a size, and are refused.
     */
    public static List<int[]> shapesFor(BenchRequest request, List<TfliteModel.Input> declared) throws RequestException {
        if (request.inputs.isRandom()) {
            List<int[]> asked = request.inputs.shapes;
            if (asked != null) {
                if (declared != null && asked.size() != declared.size()) {
                    throw new RequestException("inputs.shapes", String.format(Locale.ROOT,
                            "gives %d shape%s but the model has %d input%s: give one per input, in order",
                            asked.size(), asked.size() == 1 ? "" : "s", declared.size(), declared.size() == 1 ? "" : "s"));
                }
                for (int i = 0; declared != null && i < asked.size(); i++) {
                    String problem = TfliteModel.misfit(declared.get(i), asked.get(i));
                    if (problem != null) {
                        throw new RequestException("inputs.shapes[" + i + "]", problem);
                    }
                }
                return asked;
            }
            for (TfliteModel.Input input : declared == null ? Collections.<TfliteModel.Input>emptyList() : declared) {
                if (input.hasFreeDimsBesidesBatch()) {
                    throw new RequestException("inputs", String.format(Locale.ROOT,
                            "model input '%s' has free dimensions besides the batch %s: random inputs would be 1 wide "
                                    + "there; give real inputs (bench --data) or the shape to measure (bench --input-shape)",
                            input.name, Arrays.toString(input.signature())));
                }
            }
            return null;
        }
        boolean free = false;
        for (TfliteModel.Input input : declared == null ? Collections.<TfliteModel.Input>emptyList() : declared) {
            free |= input.hasFreeDims();
        }
        if (!free) {
            return null;
        }
        List<File> files = request.inputFiles();
        if (files.size() != declared.size()) {
            return null;
        }
        List<int[]> shapes = new ArrayList<>();
        boolean changed = false;
        for (int i = 0; i < files.size(); i++) {
            TfliteModel.Input input = declared.get(i);
            int[] stored = input.shape();
            int[] signature = input.signature();
            long[] data;
            try {
                data = Npy.readShape(files.get(i));
            } catch (IOException e) {
                return null;
            }
            if (data.length != stored.length || data.length == 0) {
                shapes.add(null);
                continue;
            }
            int[] want = stored.clone();
            for (int d = 1; d < want.length; d++) {
                if (signature[d] < 0 && data[d] >= 1 && data[d] <= Integer.MAX_VALUE) {
                    want[d] = (int) data[d];
                }
            }
            changed |= !Arrays.equals(want, stored);
            shapes.add(want);
        }
        return changed ? shapes : null;
    }

    public static InputSet prepare(BenchRequest request, List<TensorSpec> specs) throws RequestException {
        if (request.inputs.isRandom()) {
            return random(request.inputs.seed, specs);
        }
        List<File> files = request.inputFiles();
        if (files.size() != specs.size()) {
            throw new RequestException("inputs.files", String.format(Locale.ROOT,
                    "the model has %d input%s %s but %d .npy file%s were given: pass one file per input, in order",
                    specs.size(), specs.size() == 1 ? "" : "s", names(specs), files.size(), files.size() == 1 ? "" : "s"));
        }
        List<byte[]> data = new ArrayList<>();
        long samples = -1;
        int batches = 0;
        for (int i = 0; i < files.size(); i++) {
            String field = "inputs.files[" + i + "]";
            TensorSpec spec = specs.get(i);
            NpyArray array;
            try {
                array = Npy.read(files.get(i));
            } catch (IOException e) {
                throw new RequestException(field, e.getMessage());
            }
            if (array.dtype != spec.dtype) {
                throw new RequestException(field, String.format(Locale.ROOT,
                        "dtype %s does not fit model input '%s' (%s): save the samples as %s (for a quantized input, quantize them with the input's scale and zero point)",
                        array.dtype, spec.name, spec.dtype, spec.dtype));
            }
            long[] shape = array.shape();
            int[] want = spec.shape();
            boolean fits = shape.length == want.length && shape.length >= 1;
            for (int d = 1; fits && d < want.length; d++) {
                fits = shape[d] == want[d];
            }
            if (!fits) {
                throw new RequestException(field, String.format(Locale.ROOT,
                        "shape %s does not fit model input '%s' of shape %s: expected [N%s]",
                        Arrays.toString(shape), spec.name, Arrays.toString(want), tail(want)));
            }
            long n = shape[0];
            int batch = spec.batch();
            if (n < batch || n % batch != 0) {
                throw new RequestException(field, String.format(Locale.ROOT,
                        "%d samples cannot be fed in batches of %d (model input '%s'): give a multiple of %d",
                        n, batch, spec.name, batch));
            }
            if (samples >= 0 && n != samples) {
                throw new RequestException(field, String.format(Locale.ROOT,
                        "has %d samples but inputs.files[0] has %d: every input needs the same number", n, samples));
            }
            samples = n;
            batches = Math.toIntExact(n / batch);
            data.add(array.rawBytes());
        }
        return new InputSet(specs, data, samples, batches);
    }

    /**
     * One batch of random data per input from a seeded generator: floats uniform in [0, 1), 8-bit
     * integers over their full range, wider integers in [0, 100) so index-like inputs stay small.
     */
    public static InputSet random(long seed, List<TensorSpec> specs) {
        SplittableRandom random = new SplittableRandom(seed);
        List<byte[]> data = new ArrayList<>();
        for (TensorSpec spec : specs) {
            ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(spec.bytesPerBatch())).order(ByteOrder.LITTLE_ENDIAN);
            long count = spec.elementsPerSample() * spec.batch();
            for (long i = 0; i < count; i++) {
                switch (spec.dtype) {
                    case FLOAT32: b.putFloat((float) random.nextDouble()); break;
                    case FLOAT16: b.putShort(Half.fromFloat((float) random.nextDouble())); break;
                    case INT8: b.put((byte) random.nextInt(-128, 128)); break;
                    case UINT8: b.put((byte) random.nextInt(0, 256)); break;
                    case INT16: b.putShort((short) random.nextInt(0, 100)); break;
                    case INT32: b.putInt(random.nextInt(0, 100)); break;
                    case INT64: b.putLong(random.nextInt(0, 100)); break;
                    case BOOL: b.put((byte) random.nextInt(0, 2)); break;
                    default: throw new AssertionError(spec.dtype);
                }
            }
            data.add(b.array());
        }
        long samples = specs.isEmpty() ? 1 : specs.get(0).batch();
        return new InputSet(specs, data, samples, 1);
    }

    /** Direct buffers sized for one batch of each input, for {@link #fill}. */
    public ByteBuffer[] newBuffers() {
        ByteBuffer[] out = new ByteBuffer[specs.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ByteBuffer.allocateDirect(Math.toIntExact(specs.get(i).bytesPerBatch())).order(ByteOrder.nativeOrder());
        }
        return out;
    }

    /** Copies batch {@code index % batches} into the buffers, positioned at 0 for the engine. */
    public void fill(ByteBuffer[] buffers, int index) {
        int b = index % batches;
        for (int i = 0; i < buffers.length; i++) {
            int size = Math.toIntExact(specs.get(i).bytesPerBatch());
            buffers[i].clear();
            buffers[i].put(data.get(i), b * size, size);
            buffers[i].flip();
        }
    }

    private static String names(List<TensorSpec> specs) {
        List<String> names = new ArrayList<>();
        for (TensorSpec s : specs) {
            names.add(s.name);
        }
        return names.toString();
    }

    private static String tail(int[] shape) {
        StringBuilder sb = new StringBuilder();
        for (int d = 1; d < shape.length; d++) {
            sb.append(", ").append(shape[d]);
        }
        return sb.toString();
    }
}
