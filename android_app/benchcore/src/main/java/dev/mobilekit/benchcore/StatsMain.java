package dev.mobilekit.benchcore;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

import org.json.JSONArray;
import org.json.JSONObject;

/**
 * Prints the statistics of {"samples_ns": [...]} files as JSON, one object per line, so the
 * Python tests can hold the Java figures equal to mobilekit.results.stats.
 * Usage: java dev.mobilekit.benchcore.StatsMain FILE.json [FILE.json ...]
 */
public final class StatsMain {
    private StatsMain() {
    }

    public static void main(String[] args) {
        if (args.length == 0) {
            System.err.println("usage: StatsMain SAMPLES.json [...]  (each {\"samples_ns\": [...]})");
            System.exit(2);
        }
        int status = 0;
        for (String path : args) {
            try {
                JSONObject json = new JSONObject(new String(Files.readAllBytes(new File(path).toPath()), StandardCharsets.UTF_8));
                JSONArray samples = json.getJSONArray("samples_ns");
                double[] values = new double[samples.length()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = samples.getDouble(i);
                }
                System.out.println(Stats.of(values).toJson());
            } catch (Exception e) {
                System.err.println("error: " + path + ": " + e.getMessage());
                status = 1;
            }
        }
        System.exit(status);
    }
}
