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
        JSONObject json = new JSONObject(new String(Files.readAllBytes(model.toPath()), StandardCharsets.UTF_8));
        JSONArray list = json.getJSONArray("echo_inputs");
        List<TensorSpec> in = new ArrayList<>();
        List<TensorSpec> out = new ArrayList<>();
        for (int i = 0; i < list.length(); i++) {
            JSONObject t = list.getJSONObject(i);
            JSONArray shapeJson = t.getJSONArray("shape");
            int[] shape = new int[shapeJson.length()];
            for (int d = 0; d < shape.length; d++) {
                shape[d] = shapeJson.getInt(d);
            }
            DType dtype = DType.fromName(t.getString("dtype"));
            in.add(new TensorSpec(t.getString("name"), dtype, shape));
            out.add(new TensorSpec("echo_" + t.getString("name"), dtype, shape));
        }
        inputs = in;
        outputs = out;
        String name = delegate.name;
        if (name.equals("gpu") || name.equals("nnapi")) {
            return new AppliedDelegate("cpu", "the echo engine has no " + name + " delegate");
        }
        return AppliedDelegate.as(name);
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
