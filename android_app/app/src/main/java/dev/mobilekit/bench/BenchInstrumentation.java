package dev.mobilekit.bench;

import android.app.Activity;
import android.app.Instrumentation;
import android.content.Context;
import android.os.Bundle;
import android.util.Log;

import dev.mobilekit.benchcore.AppliedDelegate;
import dev.mobilekit.benchcore.BenchRequest;
import dev.mobilekit.benchcore.BenchResult;
import dev.mobilekit.benchcore.BenchRunner;
import dev.mobilekit.benchcore.Clock;
import dev.mobilekit.benchcore.Engine;
import dev.mobilekit.benchcore.ProgressListener;
import dev.mobilekit.benchcore.RequestException;
import dev.mobilekit.benchcore.Sleeper;
import dev.mobilekit.benchcore.Stats;

import java.io.File;
import java.util.function.Supplier;

/**
 * Headless runs: {@code am instrument -w -r -e request <request.json> dev.mobilekit.bench/.BenchInstrumentation}.
 * Runs the request on the instrumentation thread, reports progress as status bundles, writes
 * result.json (and outputs*.npy) to the request's output folder, and finishes with a small bundle:
 * status, error, paths and a summary. The host pulls result.json: a Binder transaction holds about
 * 1 MB, and a long run's samples would not fit. Bundle keys are documented in android_app/README.md.
 */
public class BenchInstrumentation extends Instrumentation {
    static final String TAG = "mobilekit";
    /** Value of the "id" key in every bundle, so a host can tell these from other reporters. */
    static final String REPORTER_ID = "mobilekit";
    static final String PROTOCOL_VERSION = "1";
    /** sendStatus code for progress (am's "1 - Test running"). */
    static final int STATUS_RUNNING = 1;
    static final String LAUNCH = "instrumentation";

    /** The engine for each run: LiteRT on a phone; tests put a fake here (LiteRT's native code cannot load on a JVM). */
    static volatile Supplier<Engine> engineFactory = LiteRtEngine::new;

    private String requestPath;

    @Override
    public void onCreate(Bundle arguments) {
        super.onCreate(arguments);
        requestPath = arguments == null ? null : arguments.getString("request");
        // start() makes the instrumentation thread and calls onStart() on it, off the main thread.
        start();
    }

    @Override
    public void onStart() {
        Outcome outcome = execute(getTargetContext(), requestPath, this::sendStatus);
        // finish() exactly once: a second call after a failed first one would resend the same bundle.
        finish(outcome.code, outcome.bundle);
    }

    /** The code and bundle an instrumentation finishes with. */
    static final class Outcome {
        final int code;
        final Bundle bundle;

        Outcome(int code, Bundle bundle) {
            this.code = code;
            this.bundle = bundle;
        }
    }

    /** Runs the request at {@code requestPath}; never throws. */
    static Outcome execute(Context context, String requestPath, StatusSink sink) {
        Bundle done = new Bundle();
        done.putString(REPORT_KEY_IDENTIFIER, REPORTER_ID);
        done.putString("protocol_version", PROTOCOL_VERSION);
        if (requestPath == null || requestPath.isEmpty()) {
            done.putString("status", "failed");
            done.putString("error", "request: missing; run am instrument -w -r -e request <path of request.json> "
                    + "dev.mobilekit.bench/dev.mobilekit.bench.BenchInstrumentation");
            return new Outcome(Activity.RESULT_CANCELED, done);
        }
        try {
            BenchResult result = run(context, new File(requestPath), sink, LAUNCH);
            putResult(done, result);
            return new Outcome(Activity.RESULT_OK, done);
        } catch (Throwable e) {
            // BenchRunner reports failures in the result; this is the last net for anything else.
            Log.e(TAG, "benchmark crashed", e);
            done.putString("status", "failed");
            done.putString("error", "run: " + e);
            return new Outcome(Activity.RESULT_CANCELED, done);
        }
    }

    /** Receives progress bundles; the Instrumentation passes sendStatus, the Activity its own. */
    interface StatusSink {
        void send(int code, Bundle bundle);
    }

    /** Runs one request file with LiteRT and the phone's probes; shared with BenchActivity. */
    static BenchResult run(Context context, File requestFile, StatusSink sink, String launch) {
        final String runId = runIdOf(requestFile);
        ProgressListener listener = new ProgressListener() {
            @Override
            public void onProgress(String stage, int doneRuns, int totalRuns) {
                Bundle b = base(runId);
                b.putString("stage", stage);
                b.putString("done", Integer.toString(doneRuns));
                b.putString("total", Integer.toString(totalRuns));
                sink.send(STATUS_RUNNING, b);
            }

            @Override
            public void onApplied(AppliedDelegate applied) {
                Bundle b = base(runId);
                b.putString("stage", "init");
                b.putString("applied", applied.name);
                if (applied.fallbackReason != null) {
                    b.putString("fallback_reason", applied.fallbackReason);
                }
                sink.send(STATUS_RUNNING, b);
            }
        };
        BenchRunner runner = new BenchRunner(engineFactory.get(), Clock.SYSTEM, Sleeper.SYSTEM,
                new AndroidProbes(context), AndroidProbes.versionName(context), listener)
                .launch(launch)
                .runtimeArtifact(AndroidProbes.runtimeArtifact(context))
                .telemetryProbe(new TelemetryProbe(context));
        BenchResult result = runner.runFile(requestFile);
        Log.i(TAG, "run " + result.runId + ": " + result.status()
                + (result.ok() ? "" : " at " + result.error.stage + ": " + result.error.message));
        return result;
    }

    private static Bundle base(String runId) {
        Bundle b = new Bundle();
        b.putString(REPORT_KEY_IDENTIFIER, REPORTER_ID);
        b.putString("run_id", runId);
        return b;
    }

    /** The request's run_id for the progress bundles; the runner reports a bad request itself. */
    private static String runIdOf(File requestFile) {
        try {
            return BenchRequest.fromFile(requestFile).runId;
        } catch (RequestException e) {
            return "";
        }
    }

    /** Status, error, paths and a summary: a few hundred bytes however many samples the run took. */
    static void putResult(Bundle bundle, BenchResult result) {
        bundle.putString("run_id", result.runId);
        bundle.putString("status", result.status());
        if (!result.ok()) {
            bundle.putString("error", result.error.stage + ": " + result.error.message);
        }
        if (result.appliedDelegate != null) {
            bundle.putString("applied", result.appliedDelegate);
        }
        bundle.putString("samples", Integer.toString(result.samplesNs.size()));
        Stats stats = result.stats();
        if (stats != null) {
            bundle.putString("median_ns", Long.toString(Math.round(stats.p50Ns)));
        }
        if (result.resultFile != null) {
            bundle.putString("result_path", result.resultFile.getAbsolutePath());
            File dir = result.resultFile.getAbsoluteFile().getParentFile();
            StringBuilder outputs = new StringBuilder();
            for (BenchResult.Output output : result.outputs()) {
                if (outputs.length() > 0) {
                    outputs.append(',');
                }
                outputs.append(new File(dir, output.file).getAbsolutePath());
            }
            if (outputs.length() > 0) {
                bundle.putString("outputs", outputs.toString());
            }
        }
    }
}
