package dev.mobilekit.benchcore;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;

/** Reads /proc/self/status, where Linux (and so Android) keeps a process's peak resident set. */
public final class ProcStatus {
    private ProcStatus() {
    }

    /** VmHWM ("high water mark" of the resident set) in bytes, or null when the text has none. */
    public static Long peakRssBytes(String statusText) {
        return kilobytesField(statusText, "VmHWM:");
    }

    /** VmRSS (the resident set now) in bytes, or null when the text has none. */
    public static Long rssBytes(String statusText) {
        return kilobytesField(statusText, "VmRSS:");
    }

    /** VmHWM of this process, or null where /proc is not readable. */
    public static Long peakRssBytesOfThisProcess() {
        String text = statusOfThisProcess();
        return text == null ? null : peakRssBytes(text);
    }

    /** VmRSS of this process, or null where /proc is not readable. */
    public static Long rssBytesOfThisProcess() {
        String text = statusOfThisProcess();
        return text == null ? null : rssBytes(text);
    }

    private static String statusOfThisProcess() {
        try {
            return new String(Files.readAllBytes(new File("/proc/self/status").toPath()), StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    static Long kilobytesField(String statusText, String name) {
        for (String line : statusText.split("\n")) {
            if (!line.startsWith(name)) {
                continue;
            }
            String[] parts = line.substring(name.length()).trim().split("\\s+");
            if (parts.length == 2 && parts[1].equalsIgnoreCase("kB")) {
                try {
                    return Long.parseLong(parts[0]) * 1024L;
                } catch (NumberFormatException e) {
                    return null;
                }
            }
            return null;
        }
        return null;
    }
}
