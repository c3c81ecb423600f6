package dev.mobilekit.benchcore;

import java.io.File;

/**
 * Runs a bench request through the real run loop and writers with the {@link EchoEngine} and the
 * system clock, writing result.json (and outputs*.npy) as the app would; prints the result file's
 * path. Exit status 0 for status "ok", 1 for "failed".
 * Usage: java dev.mobilekit.benchcore.RunMain REQUEST.json
 */
public final class RunMain {
    private RunMain() {
    }

    public static void main(String[] args) {
        if (args.length != 1) {
            System.err.println("usage: RunMain REQUEST.json  (the model is an EchoEngine JSON file)");
            System.exit(2);
        }
        BenchRunner runner = new BenchRunner(new EchoEngine(), Clock.SYSTEM, Sleeper.SYSTEM, Probes.NONE,
                "benchcore-runmain", null);
        // Telemetry where a Linux host gives it: each core's frequency (absent elsewhere).
        File cpus = new File("/sys/devices/system/cpu");
        runner.telemetryProbe(() -> new TelemetrySampler.Reading(null, null, null,
                TelemetrySampler.cpuFrequenciesKhz(cpus), null, null));
        BenchResult result = runner.runFile(new File(args[0]));
        System.out.println(result.resultFile == null ? "(result.json not written)" : result.resultFile.getPath());
        if (!result.ok()) {
            System.err.println("failed at " + result.error.stage + ": " + result.error.message);
        }
        System.exit(result.ok() ? 0 : 1);
    }
}
