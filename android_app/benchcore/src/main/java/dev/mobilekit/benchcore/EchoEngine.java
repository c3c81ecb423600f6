package dev.mobilekit.benchcore;

import java.io.File;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONObject;

/**
 * An engine without a runtime: its "model" is a JSON file listing tensors, and each output is a
 * copy of the matching input. It lets the run loop, the .npy reader and writer and the result
 * writer run end to end on a laptop (RunMain, the Python conformance tests), where LiteRT for
 * Android cannot load. Model file: {"echo_inputs": [{"name": "x", "dtype": "float32",
 * "shape": [1, 8, 8, 1]}]}; it runs on the CPU and reports a fallback for any other delegate.
 */
public final class EchoEngine implements Engine {
    private List<TensorSpec> inputs = Collections.emptyList();
    private List<TensorSpec> outputs = Collections.emptyList();

    @Override
    public AppliedDelegate init(File model, BenchRequest.Delegate delegate) throws Exception {
        return init(model, delegate, null);
    }

    /** As LiteRT's engine: free dimensions take the given shapes, the rest must match. */
    @Override
    public AppliedDelegate init(File model, BenchRequest.Delegate delegate, List<int[]> inputShapes) throws Exception {
        JSONArray list = json(model).getJSONArray("echo_inputs");
        List<TfliteModel.Input> declared = read(list);
        if (inputShapes != null && inputShapes.size() != declared.size()) {
            throw new IllegalArgumentException(inputShapes.size() + " shapes for " + declared.size() + " inputs");
        }
        List<TensorSpec> in = new ArrayList<>();
        List<TensorSpec> out = new ArrayList<>();
        for (int i = 0; i < declared.size(); i++) {
            TfliteModel.Input input = declared.get(i);
            int[] shape = input.shape();
            if (inputShapes != null && inputShapes.get(i) != null) {
                String problem = TfliteModel.misfit(input, inputShapes.get(i));
                if (problem != null) {
                    throw new IllegalArgumentException(problem);
                }
                shape = inputShapes.get(i);
            }
            DType dtype = DType.fromName(list.getJSONObject(i).getString("dtype"));
            in.add(new TensorSpec(input.name, dtype, shape));
            out.add(new TensorSpec("echo_" + input.name, dtype, shape));
        }
        inputs = in;
        outputs = out;
        String name = delegate.name;
        if (name.equals("gpu") || name.equals("nnapi")) {
            return new AppliedDelegate("cpu", "the echo engine has no " + name + " delegate");
        }
        return AppliedDelegate.as(name);
    }

    /** Model file: {"echo_inputs": [{"name", "dtype", "shape", optional "shape_signature"}]}. */
    @Override
    public List<TfliteModel.Input> declaredInputs(File model) {
        try {
            return read(json(model).getJSONArray("echo_inputs"));
        } catch (Exception e) {
            return null; // init reports it
        }
    }

    private static JSONObject json(File model) throws Exception {
        return new JSONObject(new String(Files.readAllBytes(model.toPath()), StandardCharsets.UTF_8));
    }

    private static List<TfliteModel.Input> read(JSONArray list) throws Exception {
        List<TfliteModel.Input> out = new ArrayList<>();
        for (int i = 0; i < list.length(); i++) {
            JSONObject t = list.getJSONObject(i);
            int[] signature = ints(t.has("shape_signature") ? t.getJSONArray("shape_signature") : t.getJSONArray("shape"));
            // Stored as LiteRT stores it: 1 for a free dimension, unless the file gives a shape.
            int[] shape = ints(t.getJSONArray("shape"));
            for (int d = 0; d < shape.length; d++) {
                shape[d] = shape[d] < 0 ? 1 : shape[d];
            }
            out.add(new TfliteModel.Input(t.getString("name"), 0, shape, signature, shape.length == 0 ? -1 : 0));
        }
        return out;
    }

    private static int[] ints(JSONArray array) throws org.json.JSONException {
        int[] out = new int[array.length()];
        for (int d = 0; d < out.length; d++) {
            out[d] = array.getInt(d);
        }
        return out;
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
        for (int i = 0; i < in.length; i++) {
            ByteBuffer src = in[i].duplicate();
            src.rewind();
            out[i].clear();
            out[i].put(src);
        }
    }

    @Override
    public String runtime() {
        return "echo";
    }

    @Override
    public String runtimeVersion() {
        return "1";
    }

    @Override
    public void close() {
    }
}
