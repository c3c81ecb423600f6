package dev.mobilekit.benchcore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class InputSetTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    private static final List<TensorSpec> MODEL = Arrays.asList(new TensorSpec("x", DType.FLOAT32, new int[] {1, 2, 3}));

    private BenchRequest request(String... files) throws Exception {
        JSONObject j = BenchRequestTest.valid();
        j.put("inputs", new JSONObject().put("kind", "npy").put("files", new JSONArray(Arrays.asList(files))));
        return BenchRequest.fromJson(j, tmp.getRoot());
    }

    private void save(String name, DType dtype, long... shape) throws Exception {
        byte[] data = new byte[Math.toIntExact(NpyArray.elementCount(shape) * dtype.itemSize)];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        Npy.write(new NpyArray(dtype, shape, data), new File(tmp.getRoot(), name));
    }

    private String rejectedField(BenchRequest request, List<TensorSpec> model, String text) {
        try {
            InputSet.prepare(request, model);
        } catch (RequestException e) {
            assertTrue(e.getMessage() + " should mention " + text, e.getMessage().contains(text));
            return e.field;
        }
        fail("inputs accepted");
        return null;
    }

    @Test
    public void cyclesOverSamplesOneBatchAtATime() throws Exception {
        save("x.npy", DType.FLOAT32, 3, 2, 3);
        InputSet set = InputSet.prepare(request("x.npy"), MODEL);
        assertEquals(3, set.samples);
        assertEquals(3, set.batches);
        ByteBuffer[] buffers = set.newBuffers();
        set.fill(buffers, 4);
        assertEquals(24, buffers[0].remaining());
        assertEquals(24, buffers[0].get(0));
        set.fill(buffers, 2);
        assertEquals(48, buffers[0].get(0));
    }

    @Test
    public void dtypeMismatchNamesTheFile() throws Exception {
        save("x.npy", DType.UINT8, 3, 2, 3);
        assertEquals("inputs.files[0]", rejectedField(request("x.npy"), MODEL, "dtype uint8 does not fit model input 'x' (float32)"));
    }

    @Test
    public void shapeMismatchNamesTheFile() throws Exception {
        save("x.npy", DType.FLOAT32, 3, 3, 2);
        assertEquals("inputs.files[0]", rejectedField(request("x.npy"), MODEL, "expected [N, 2, 3]"));
        save("flat.npy", DType.FLOAT32, 18);
        assertEquals("inputs.files[0]", rejectedField(request("flat.npy"), MODEL, "does not fit"));
    }

    @Test
    public void truncatedFileNamesTheField() throws Exception {
        save("x.npy", DType.FLOAT32, 3, 2, 3);
        File f = new File(tmp.getRoot(), "x.npy");
        byte[] bytes = Files.readAllBytes(f.toPath());
        Files.write(f.toPath(), Arrays.copyOf(bytes, bytes.length - 10));
        assertEquals("inputs.files[0]", rejectedField(request("x.npy"), MODEL, "truncated"));
    }

    @Test
    public void missingFileNamesTheField() throws Exception {
        assertEquals("inputs.files[0]", rejectedField(request("nope.npy"), MODEL, "not found"));
    }

    @Test
    public void fileCountMustMatchTheInputs() throws Exception {
        save("x.npy", DType.FLOAT32, 1, 2, 3);
        assertEquals("inputs.files", rejectedField(request("x.npy", "x.npy"), MODEL, "the model has 1 input"));
    }

    @Test
    public void everyInputNeedsTheSameSampleCountAndWholeBatches() throws Exception {
        List<TensorSpec> two = Arrays.asList(new TensorSpec("a", DType.INT8, new int[] {2, 4}),
                new TensorSpec("b", DType.INT32, new int[] {2, 1}));
        save("a.npy", DType.INT8, 4, 4);
        save("b.npy", DType.INT32, 6, 1);
        assertEquals("inputs.files[1]", rejectedField(request("a.npy", "b.npy"), two, "same number"));
        save("odd.npy", DType.INT8, 3, 4);
        assertEquals("inputs.files[0]", rejectedField(request("odd.npy", "b.npy"), two, "batches of 2"));
        save("b4.npy", DType.INT32, 4, 1);
        InputSet ok = InputSet.prepare(request("a.npy", "b4.npy"), two);
        assertEquals(2, ok.batches);
    }

    @Test
    public void randomInputsAreSeededAndInRange() {
        List<TensorSpec> specs = Arrays.asList(new TensorSpec("f", DType.FLOAT32, new int[] {1, 16}),
                new TensorSpec("i", DType.INT64, new int[] {1, 16}));
        InputSet a = InputSet.random(7, specs);
        InputSet b = InputSet.random(7, specs);
        InputSet c = InputSet.random(8, specs);
        ByteBuffer[] ba = a.newBuffers();
        ByteBuffer[] bb = b.newBuffers();
        ByteBuffer[] bc = c.newBuffers();
        a.fill(ba, 0);
        b.fill(bb, 0);
        c.fill(bc, 0);
        assertEquals(ba[0], bb[0]);
        assertTrue(!ba[0].equals(bc[0]));
        for (int i = 0; i < 16; i++) {
            float f = ba[0].order(java.nio.ByteOrder.LITTLE_ENDIAN).getFloat(i * 4);
            assertTrue(f >= 0f && f < 1f);
            long v = ba[1].order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(i * 8);
            assertTrue(v >= 0 && v < 100);
        }
        assertArrayEquals(new int[] {1, 16}, specs.get(0).shape());
    }

    private static TfliteModel.Input declared(String name, int[] shape, int[] signature) {
        return new TfliteModel.Input(name, 0, shape, signature, 0);
    }

    @Test
    public void freeDimensionsTakeTheSampleShapeAndTheBatchStaysAsStored() throws Exception {
        save("x.npy", DType.FLOAT32, 6, 20, 30, 3);
        save("y.npy", DType.FLOAT32, 6, 4);
        List<TfliteModel.Input> model = Arrays.asList(
                declared("x", new int[] {1, 1, 1, 3}, new int[] {-1, -1, -1, 3}),
                declared("y", new int[] {1, 4}, new int[] {-1, 4}));
        List<int[]> shapes = InputSet.shapesFor(request("x.npy", "y.npy"), model);
        assertArrayEquals(new int[] {1, 20, 30, 3}, shapes.get(0));
        assertArrayEquals(new int[] {1, 4}, shapes.get(1));
    }

    @Test
    public void storedShapesNeedNoResize() throws Exception {
        save("x.npy", DType.FLOAT32, 6, 4);
        // A free batch alone: fed one stored batch at a time, as the host runner does.
        assertEquals(null, InputSet.shapesFor(request("x.npy"),
                Arrays.asList(declared("x", new int[] {1, 4}, new int[] {-1, 4}))));
        assertEquals(null, InputSet.shapesFor(request("x.npy"),
                Arrays.asList(declared("x", new int[] {1, 4}, new int[] {1, 4}))));
        assertEquals(null, InputSet.shapesFor(request("x.npy"), null)); // engine cannot tell
    }

    @Test
    public void filesThatDoNotFitAreLeftForPrepareToName() throws Exception {
        save("x.npy", DType.FLOAT32, 6, 20, 30);
        List<TfliteModel.Input> model = Arrays.asList(declared("x", new int[] {1, 1, 1, 3}, new int[] {-1, -1, -1, 3}));
        assertEquals(null, InputSet.shapesFor(request("x.npy"), model)); // wrong rank: not resized
        assertEquals(null, InputSet.shapesFor(request("x.npy", "x.npy"), model)); // wrong count
        assertEquals(null, InputSet.shapesFor(request("missing.npy"), model));
    }

    @Test
    public void randomInputsCannotSizeAFreeHeightOrWidth() throws Exception {
        JSONObject j = BenchRequestTest.valid();
        j.put("inputs", new JSONObject().put("kind", "random").put("seed", 0));
        BenchRequest random = BenchRequest.fromJson(j, tmp.getRoot());
        try {
            InputSet.shapesFor(random, Arrays.asList(declared("img", new int[] {1, 1, 1, 3}, new int[] {1, -1, -1, 3})));
            fail("random inputs accepted for a free height and width");
        } catch (RequestException e) {
            assertEquals("inputs", e.field);
            assertTrue(e.getMessage(), e.getMessage().contains("'img' has free dimensions besides the batch [1, -1, -1, 3]"));
        }
        assertEquals(null, InputSet.shapesFor(random, Arrays.asList(declared("v", new int[] {1, 8}, new int[] {-1, 8}))));
    }

    private BenchRequest randomAt(int[]... shapes) throws Exception {
        JSONObject j = BenchRequestTest.valid();
        j.put("schema_version", 2);
        JSONArray list = new JSONArray();
        for (int[] shape : shapes) {
            JSONArray dims = new JSONArray();
            for (int d : shape) {
                dims.put(d);
            }
            list.put(dims);
        }
        j.put("inputs", new JSONObject().put("kind", "random").put("seed", 0).put("shapes", list));
        return BenchRequest.fromJson(j, tmp.getRoot());
    }

    @Test
    public void randomInputsTakeTheRequestedShapeOfTheFreeDimensions() throws Exception {
        List<TfliteModel.Input> model = Arrays.asList(declared("img", new int[] {1, 1, 1, 3}, new int[] {-1, -1, -1, 3}));
        List<int[]> shapes = InputSet.shapesFor(randomAt(new int[] {2, 64, 48, 3}), model);
        assertArrayEquals(new int[] {2, 64, 48, 3}, shapes.get(0));
        InputSet set = InputSet.random(0, Arrays.asList(new TensorSpec("img", DType.FLOAT32, shapes.get(0))));
        assertEquals(2 * 64 * 48 * 3 * 4, set.newBuffers()[0].capacity());
        for (int[] bad : new int[][] {{1, 64, 48, 4}, {1, 64, 48}}) {
            try {
                InputSet.shapesFor(randomAt(bad), model);
                fail("accepted " + Arrays.toString(bad));
            } catch (RequestException e) {
                assertEquals("inputs.shapes[0]", e.field);
            }
        }
        try {
            InputSet.shapesFor(randomAt(new int[] {1, 8, 8, 3}, new int[] {1, 8, 8, 3}), model);
            fail("two shapes for one input accepted");
        } catch (RequestException e) {
            assertEquals("inputs.shapes", e.field);
            assertTrue(e.getMessage(), e.getMessage().contains("gives 2 shapes but the model has 1 input"));
        }
    }
}
