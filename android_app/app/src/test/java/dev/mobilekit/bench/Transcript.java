package dev.mobilekit.bench;

import android.os.Bundle;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Bundles as `am instrument -w -r` prints them (RawStatusReporter in AOSP's Instrument.java): each
 * bundle's keys sorted, "KEY=VALUE" with the value printed as it is (so a multi-line value runs
 * over several lines), a status closed by INSTRUMENTATION_STATUS_CODE, the finish bundle by
 * INSTRUMENTATION_CODE. The Python tests feed these transcripts to mobilekit's parser.
 */
final class Transcript implements BenchInstrumentation.StatusSink {
    private final StringBuilder text = new StringBuilder();
    final List<Bundle> statuses = new ArrayList<>();

    @Override
    public synchronized void send(int code, Bundle bundle) {
        statuses.add(new Bundle(bundle));
        block("INSTRUMENTATION_STATUS: ", bundle);
        text.append("INSTRUMENTATION_STATUS_CODE: ").append(code).append('\n');
    }

    synchronized void finish(int code, Bundle bundle) {
        block("INSTRUMENTATION_RESULT: ", bundle);
        text.append("INSTRUMENTATION_CODE: ").append(code).append('\n');
    }

    private void block(String prefix, Bundle bundle) {
        List<String> keys = new ArrayList<>(bundle.keySet());
        Collections.sort(keys);
        for (String key : keys) {
            text.append(prefix).append(key).append('=').append(bundle.getString(key)).append('\n');
        }
    }

    synchronized String text() {
        return text.toString();
    }

    /**
     * Writes the transcript where the Python side reads it (-Dmobilekit.transcripts), if set, with
     * the result.json the run wrote beside it (NAME.result.json), as the host would pull it.
     */
    void save(String name, File resultFile) throws IOException {
        String dir = System.getProperty("mobilekit.transcripts");
        if (dir != null) {
            File out = new File(dir, name + ".txt");
            Files.write(out.toPath(), text().getBytes(StandardCharsets.UTF_8));
            if (resultFile != null && resultFile.isFile()) {
                Files.copy(resultFile.toPath(), new File(dir, name + ".result.json").toPath(),
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }
}
