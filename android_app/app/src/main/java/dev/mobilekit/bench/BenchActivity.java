package dev.mobilekit.bench;

import android.app.Activity;
import android.os.Bundle;
import android.text.InputType;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.EditText;
import android.widget.LinearLayout;
import android.widget.ScrollView;
import android.widget.Spinner;
import android.widget.TextView;

import dev.mobilekit.benchcore.BenchRequest;
import dev.mobilekit.benchcore.BenchResult;
import dev.mobilekit.benchcore.BenchRunner;
import dev.mobilekit.benchcore.Stats;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

import org.json.JSONObject;

/**
 * For people: pick a .tflite pushed into the app's files folder, a delegate and threads, run, and
 * read the figures. It writes a request next to the run and goes through the same runner as the
 * Instrumentation, so what it shows is what a headless run would record.
 */
public final class BenchActivity extends Activity {
    private Spinner modelPicker;
    private Spinner delegatePicker;
    private EditText threadsField;
    private EditText runsField;
    private Button runButton;
    private TextView report;
    private final List<File> models = new ArrayList<>();

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setTitle("mobilekit bench");
        LinearLayout column = new LinearLayout(this);
        column.setOrientation(LinearLayout.VERTICAL);
        column.setPadding(32, 32, 32, 32);

        File root = getExternalFilesDir(null);
        findModels(root, 0);
        List<String> names = new ArrayList<>();
        for (File model : models) {
            names.add(relative(root, model));
        }
        TextView hint = new TextView(this);
        hint.setText(models.isEmpty()
                ? "No .tflite found. Push one: adb push model.tflite " + root + "/"
                : "Model (from " + root + "):");
        column.addView(hint);
        modelPicker = new Spinner(this);
        modelPicker.setAdapter(adapter(names));
        column.addView(modelPicker);

        delegatePicker = new Spinner(this);
        delegatePicker.setAdapter(adapter(BenchRequest.DELEGATES));
        column.addView(delegatePicker);

        threadsField = numberField("threads", Math.min(4, Runtime.getRuntime().availableProcessors()));
        column.addView(threadsField);
        runsField = numberField("timed runs", 50);
        column.addView(runsField);

        runButton = new Button(this);
        runButton.setText("Run");
        runButton.setEnabled(!models.isEmpty());
        runButton.setOnClickListener(v -> startRun());
        column.addView(runButton);

        report = new TextView(this);
        report.setTextIsSelectable(true);
        column.addView(report);

        ScrollView scroll = new ScrollView(this);
        scroll.addView(column);
        setContentView(scroll);
    }

    private ArrayAdapter<String> adapter(List<String> items) {
        ArrayAdapter<String> adapter = new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
        adapter.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        return adapter;
    }

    private EditText numberField(String hint, int value) {
        EditText field = new EditText(this);
        field.setInputType(InputType.TYPE_CLASS_NUMBER);
        field.setHint(hint);
        field.setText(Integer.toString(value));
        return field;
    }

    private void findModels(File dir, int depth) {
        File[] entries = dir == null || depth > 5 ? null : dir.listFiles();
        if (entries == null) {
            return;
        }
        List<File> sorted = new ArrayList<>();
        Collections.addAll(sorted, entries);
        Collections.sort(sorted);
        for (File f : sorted) {
            if (f.isDirectory()) {
                findModels(f, depth + 1);
            } else if (f.getName().endsWith(".tflite")) {
                models.add(f);
            }
        }
    }

    private static String relative(File root, File file) {
        String r = root.getAbsolutePath() + File.separator;
        String path = file.getAbsolutePath();
        return path.startsWith(r) ? path.substring(r.length()) : path;
    }

    private static int parsePositive(CharSequence text, int fallback) {
        try {
            int value = Integer.parseInt(text.toString().trim());
            return value >= 1 ? value : fallback;
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private void startRun() {
        int index = Math.max(0, modelPicker.getSelectedItem() == null ? 0
                : relativeNames().indexOf(modelPicker.getSelectedItem().toString()));
        File model = models.get(index);
        String delegate = String.valueOf(delegatePicker.getSelectedItem());
        int threads = Math.min(64, parsePositive(threadsField.getText(), 1));
        int runs = parsePositive(runsField.getText(), 50);
        runButton.setEnabled(false);
        report.setText("running " + model.getName() + " on " + delegate + " with " + threads + " threads...");
        new Thread(() -> {
            String text;
            try {
                text = describe(runInteractive(model, delegate, threads, runs));
            } catch (Exception e) {
                text = "could not start the run: " + e;
            }
            final String shown = text;
            runOnUiThread(() -> {
                report.setText(shown);
                runButton.setEnabled(true);
            });
        }, "mobilekit-bench").start();
    }

    private List<String> relativeNames() {
        File root = getExternalFilesDir(null);
        List<String> names = new ArrayList<>();
        for (File m : models) {
            names.add(relative(root, m));
        }
        return names;
    }

    private BenchResult runInteractive(File model, String delegate, int threads, int runs) throws Exception {
        String runId = String.format(Locale.ROOT, "interactive-%d", System.currentTimeMillis());
        File dir = new File(getExternalFilesDir(null), "mobilekit/interactive/" + runId);
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IllegalStateException("cannot create " + dir);
        }
        JSONObject request = new JSONObject();
        request.put("schema_version", BenchRequest.SCHEMA_VERSION);
        request.put("run_id", runId);
        request.put("model", new JSONObject().put("path", model.getAbsolutePath()).put("sha256", BenchRunner.sha256(model)));
        request.put("delegate", new JSONObject().put("name", delegate).put("threads", threads));
        request.put("runs", new JSONObject().put("warmup_runs", 5).put("timed_runs", runs).put("max_secs", 60));
        request.put("inputs", new JSONObject().put("kind", "random").put("seed", 0));
        request.put("save_outputs", false);
        File requestFile = new File(dir, "request.json");
        Files.write(requestFile.toPath(), request.toString(2).getBytes(StandardCharsets.UTF_8));
        return BenchInstrumentation.run(this, requestFile, (code, bundle) -> {
            String line = bundle.getString("stage") + " " + (bundle.getString("done") == null ? ""
                    : bundle.getString("done") + "/" + bundle.getString("total"));
            runOnUiThread(() -> report.setText("running: " + line));
        });
    }

    /** The figures a person wants first; statistics from benchcore, as the Python package computes them. */
    static String describe(BenchResult r) {
        StringBuilder sb = new StringBuilder();
        sb.append("run ").append(r.runId).append(": ").append(r.status()).append('\n');
        if (!r.ok()) {
            sb.append("failed at ").append(r.error.stage).append(": ").append(r.error.message).append('\n');
        }
        sb.append("delegate: ").append(r.requestedDelegate).append(" -> ").append(r.appliedDelegate)
                .append(", ").append(r.threads).append(" threads\n");
        if (r.fallbackReason != null) {
            sb.append("fallback: ").append(r.fallbackReason).append('\n');
        }
        if (r.initNs != null) {
            sb.append(String.format(Locale.ROOT, "init %.2f ms", r.initNs / 1e6));
        }
        if (r.firstInferenceNs != null) {
            sb.append(String.format(Locale.ROOT, ", first inference %.2f ms", r.firstInferenceNs / 1e6));
        }
        sb.append('\n');
        Stats s = r.stats();
        if (s != null) {
            sb.append(String.format(Locale.ROOT,
                    "%d runs: mean %.3f ms, std %.3f ms%nmin %.3f  p50 %.3f  p90 %.3f  p95 %.3f  p99 %.3f  max %.3f ms%n",
                    s.n, s.meanNs / 1e6, s.stdNs / 1e6, s.minNs / 1e6, s.p50Ns / 1e6, s.p90Ns / 1e6, s.p95Ns / 1e6,
                    s.p99Ns / 1e6, s.maxNs / 1e6));
        }
        if (r.memory.peakRssBytes != null) {
            sb.append(String.format(Locale.ROOT, "peak RSS %.1f MB", r.memory.peakRssBytes / 1048576.0));
        }
        if (r.memory.pssBytes != null) {
            sb.append(String.format(Locale.ROOT, ", PSS %.1f MB", r.memory.pssBytes / 1048576.0));
        }
        sb.append('\n');
        sb.append("thermal ").append(r.thermalStart.status).append(" -> ").append(r.thermalEnd.status)
                .append(", battery ").append(r.thermalStart.batteryTempC).append(" -> ")
                .append(r.thermalEnd.batteryTempC).append(" C\n");
        if (r.resultFile != null) {
            sb.append("result: ").append(r.resultFile.getAbsolutePath()).append('\n');
        }
        return sb.toString();
    }
}
