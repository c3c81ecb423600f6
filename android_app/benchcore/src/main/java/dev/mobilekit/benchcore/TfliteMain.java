package dev.mobilekit.benchcore;

import java.io.File;
import java.io.FileOutputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONObject;

/**
 * What the app reads of a .tflite's inputs, as JSON ({"inputs": [{"name", "type", "shape",
 * "shape_signature"}]}), and with SHAPE arguments a copy of the model with its inputs' stored
 * shapes set as the app sets them before the Interpreter allocates, so the Python tests can load
 * both in the real LiteRT runtime. The input file is never changed.
 * Usage: java dev.mobilekit.benchcore.TfliteMain MODEL.tflite [OUT.tflite SHAPE [SHAPE ...]]
 * where SHAPE is comma-separated, e.g. 1,32,48,3, or "-" to keep an input as stored.
 */
public final class TfliteMain {
    private TfliteMain() {
    }

    public static void main(String[] args) {
        if (args.length != 1 && args.length < 3) {
            System.err.println("usage: TfliteMain MODEL.tflite [OUT.tflite SHAPE [SHAPE ...]]");
            System.exit(2);
        }
        try {
            File model = new File(args[0]);
            if (args.length == 1) {
                System.out.println(describe(TfliteModel.inputs(TfliteModel.mapReadOnly(model))));
                return;
            }
            List<int[]> shapes = new ArrayList<>();
            for (int i = 2; i < args.length; i++) {
                shapes.add(args[i].equals("-") ? null : parse(args[i]));
            }
            ByteBuffer bytes = TfliteModel.copyDirect(model);
            TfliteModel.setInputShapes(bytes, shapes);
            ByteBuffer copy = bytes.duplicate();
            copy.rewind();
            byte[] out = new byte[copy.remaining()];
            copy.get(out);
            try (OutputStream stream = new FileOutputStream(args[1])) {
                stream.write(out);
            }
            System.out.println(describe(TfliteModel.inputs(ByteBuffer.wrap(out))));
        } catch (Exception e) {
            System.err.println("error: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            System.exit(1);
        }
    }

    private static int[] parse(String text) {
        String[] parts = text.split(",", -1);
        int[] out = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            out[i] = Integer.parseInt(parts[i].trim());
        }
        return out;
    }

    private static String describe(List<TfliteModel.Input> inputs) throws org.json.JSONException {
        JSONArray list = new JSONArray();
        for (TfliteModel.Input input : inputs) {
            JSONObject o = new JSONObject();
            o.put("name", input.name);
            o.put("type", input.type);
            o.put("shape", ints(input.shape()));
            o.put("shape_signature", ints(input.signature()));
            list.put(o);
        }
        return new JSONObject().put("inputs", list).toString();
    }

    private static JSONArray ints(int[] values) {
        JSONArray out = new JSONArray();
        for (int v : values) {
            out.put(v);
        }
        return out;
    }
}
