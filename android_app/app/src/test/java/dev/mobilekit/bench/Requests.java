package dev.mobilekit.bench;

import dev.mobilekit.benchcore.BenchRunner;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import org.json.JSONException;
import org.json.JSONObject;

/** Request files for benchcore's EchoEngine (a JSON "model" whose outputs copy its inputs). */
final class Requests {
    private Requests() {
    }

    static File echoModel(File dir, String name) throws IOException {
        File model = new File(dir, name);
        Files.write(model.toPath(), ("{\"echo_inputs\": [{\"name\": \"x\", \"dtype\": \"float32\", "
                + "\"shape\": [1, 4]}]}").getBytes(StandardCharsets.UTF_8));
        return model;
    }

    static File request(File dir, String runId, File model, String delegate, int warmup, int timed, boolean save)
            throws IOException, JSONException {
        JSONObject request = new JSONObject();
        request.put("schema_version", 1);
        request.put("run_id", runId);
        request.put("model", new JSONObject().put("path", model.getAbsolutePath()).put("sha256", BenchRunner.sha256(model)));
        request.put("delegate", new JSONObject().put("name", delegate).put("threads", 2));
        request.put("runs", new JSONObject().put("warmup_runs", warmup).put("timed_runs", timed)
                .put("min_secs", 0).put("max_secs", 600).put("cooldown_secs", 0));
        request.put("inputs", new JSONObject().put("kind", "random").put("seed", 3));
        request.put("save_outputs", save);
        request.put("output_dir", new File(dir, "out-" + runId).getAbsolutePath());
        if (!new File(dir, "out-" + runId).mkdirs()) {
            throw new IOException("cannot create the output folder");
        }
        File file = new File(dir, runId + ".json");
        Files.write(file.toPath(), request.toString(2).getBytes(StandardCharsets.UTF_8));
        return file;
    }

    static JSONObject read(File file) throws IOException, JSONException {
        return new JSONObject(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8));
    }
}
