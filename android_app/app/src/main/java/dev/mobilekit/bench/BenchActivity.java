package dev.mobilekit.bench;

import android.app.Activity;
import android.content.Intent;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
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
 *
 * <p>For {@code mobilekit bench --foreground}: started with a request file,
 * {@code am start -S -n dev.mobilekit.bench/.BenchActivity --es request <request.json>}, it runs
 * that request in front (as top-app, where the instrumentation runs in the default group) and
 * writes result.json to the request's output folder, which the host waits for.
 *
 * <p>A run belongs to the process, not to one Activity: rotating the phone recreates the Activity,
 * and the new one shows the run's progress with Run disabled until that run ends.
 */
public final class BenchActivity extends Activity {
    static final String EXTRA_REQUEST = "request";
    static final String LAUNCH = "activity";

    private Spinner modelPicker;
    private Spinner delegatePicker;
    private EditText threadsField;
    private EditText runsField;
    Button runButton;
    TextView report;
    private final List<File> models = new ArrayList<>();

    /** The one run of this process, and the Activity (if any) that shows it. */
    static final class ActiveRun {
        private static final Handler MAIN = new Handler(Looper.getMainLooper());
        private static Thread worker;
        private static String text = "";
        private static BenchActivity shown;

        private ActiveRun() {
        }

        static synchronized boolean running() {
            return worker != null;
        }

        /** Starts {@code job} unless a run is going; false when one is. */
        static synchronized boolean start(String firstLine, Job job) {
            if (worker != null) {
                return false;
            }
            text = firstLine;
            worker = new Thread(() -> {
                String last;
                try {
                    last = job.run(line -> post(line, false));
                } catch (Exception e) {
                    last = "could not start the run: " + e;
                }
                post(last, true);
            }, "mobilekit-bench");
            worker.start();
            refresh();
            return true;
        }

        private static void post(String line, boolean finished) {
            MAIN.post(() -> {
                synchronized (ActiveRun.class) {
                    text = line;
                    if (finished) {
                        worker = null;
                    }
                    refresh();
                }
            });
        }

        static synchronized void attach(BenchActivity activity) {
            shown = activity;
            refresh();
        }

        static synchronized void detach(BenchActivity activity) {
            if (shown == activity) {
                shown = null;
            }
        }

        /** Waits for the current run's thread (tests). */
        static void join(long millis) throws InterruptedException {
            Thread t;
            synchronized (ActiveRun.class) {
                t = worker;
            }
            if (t != null) {
                t.join(millis);
            }
        }

        private static void refresh() {
            BenchActivity a = shown;
            if (a != null && a.report != null) {
                a.report.setText(text);
                a.runButton.setEnabled(worker == null && !a.models.isEmpty());
            }
        }

        interface Job {
            String run(Progress progress) throws Exception;
        }

        interface Progress {
            void line(String text);
        }
    }

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

        ActiveRun.attach(this);
        String requestPath = getIntent() == null ? null : getIntent().getStringExtra(EXTRA_REQUEST);
        // A recreated Activity (rotation) must not start the request again: the run is still going.
        if (savedInstanceState == null && requestPath != null && !requestPath.isEmpty()) {
            runRequest(new File(requestPath));
        }
    }

    @Override
    protected void onNewIntent(Intent intent) {
        super.onNewIntent(intent);
        String requestPath = intent.getStringExtra(EXTRA_REQUEST);
        if (requestPath != null && !requestPath.isEmpty()) {
            runRequest(new File(requestPath));
        }
    }

    @Override
    protected void onDestroy() {
        ActiveRun.detach(this);
        super.onDestroy();
    }

    /** A host's request (bench --foreground): the same runner, started from the Activity. */
    private void runRequest(File requestFile) {
        final android.content.Context app = getApplicationContext();
        boolean started = ActiveRun.start("running " + requestFile + " in front...", progress ->
                describe(BenchInstrumentation.run(app, requestFile, (code, bundle) -> progress.line(progressLine(bundle)),
                        LAUNCH)));
        if (!started) {
            report.setText("a run is still going; " + requestFile + " was not started");
        }
    }

    private static String progressLine(Bundle bundle) {
        return "running: " + bundle.getString("stage") + " " + (bundle.getString("done") == null ? ""
                : bundle.getString("done") + "/" + bundle.getString("total"));
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
        if (ActiveRun.running() || models.isEmpty()) {
            return;
        }
        int index = Math.max(0, modelPicker.getSelectedItem() == null ? 0
                : relativeNames().indexOf(modelPicker.getSelectedItem().toString()));
        File model = models.get(index);
        String delegate = String.valueOf(delegatePicker.getSelectedItem());
        int threads = Math.min(64, parsePositive(threadsField.getText(), 1));
        int runs = parsePositive(runsField.getText(), 50);
        File root = getExternalFilesDir(null);
        final android.content.Context app = getApplicationContext();
        ActiveRun.start("running " + model.getName() + " on " + delegate + " with " + threads + " threads...",
                progress -> describe(runInteractive(app, root, model, delegate, threads, runs, progress)));
    }

    private List<String> relativeNames() {
        File root = getExternalFilesDir(null);
        List<String> names = new ArrayList<>();
        for (File m : models) {
            names.add(relative(root, m));
        }
        return names;
    }

    private static BenchResult runInteractive(android.content.Context app, File root, File model, String delegate,
                                              int threads, int runs, ActiveRun.Progress progress) throws Exception {
        String runId = String.format(Locale.ROOT, "interactive-%d", System.currentTimeMillis());
        File dir = new File(root, "mobilekit/interactive/" + runId);
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
        return BenchInstrumentation.run(app, requestFile, (code, bundle) -> progress.line(progressLine(bundle)), LAUNCH);
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
