package dev.mobilekit.bench;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The NNAPI accelerator drivers a phone declares, read from its VINTF manifests (the HAL services
 * the vendor partition registers: android.hardware.neuralnetworks, HIDL or AIDL). Without one,
 * NNAPI has only its reference CPU implementation (nnapi-reference), and LiteRT's NNAPI delegate
 * with setUseNnapiCpu(false) returns OK while delegating nothing: the model runs on the CPU and
 * must not be reported as "nnapi". Java has no API for NNAPI's device list (that is the NDK's
 * ANeuralNetworks_getDeviceCount); the manifests are world-readable files.
 */
final class NnApiDevices {
    /** Where VINTF manifests live on the vendor and ODM partitions (Android 8+). */
    static final List<String> MANIFESTS = Collections.unmodifiableList(Arrays.asList(
            "vendor/etc/vintf/manifest.xml", "vendor/etc/vintf/manifest", "vendor/manifest.xml",
            "odm/etc/vintf/manifest.xml", "odm/etc/vintf/manifest", "odm/etc/manifest.xml"));
    private static final Pattern HAL = Pattern.compile("<hal\\b[^>]*>(.*?)</hal>", Pattern.DOTALL);
    private static final Pattern NAME = Pattern.compile("<name>\\s*android\\.hardware\\.neuralnetworks\\s*</name>");
    private static final Pattern INSTANCE = Pattern.compile("<instance>\\s*([^<\\s]+)\\s*</instance>");
    private static final Pattern FQNAME = Pattern.compile("<fqname>\\s*[^<]*/([^<\\s]+)\\s*</fqname>");

    private NnApiDevices() {
    }

    /**
     * Instance names of the NNAPI drivers declared under {@code root} (the device's "/"), sorted;
     * null when no manifest could be read at all (then nothing is known).
     */
    static List<String> declared(File root) {
        boolean readAny = false;
        TreeSet<String> names = new TreeSet<>();
        for (String relative : MANIFESTS) {
            File path = new File(root, relative);
            List<File> files = new ArrayList<>();
            if (path.isDirectory()) {
                File[] children = path.listFiles((dir, name) -> name.endsWith(".xml"));
                if (children != null) {
                    files.addAll(Arrays.asList(children));
                }
            } else if (path.isFile()) {
                files.add(path);
            }
            for (File file : files) {
                String text;
                try {
                    text = new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8);
                } catch (IOException | SecurityException e) {
                    continue;
                }
                readAny = true;
                Matcher hal = HAL.matcher(text);
                while (hal.find()) {
                    String body = hal.group(1);
                    if (!NAME.matcher(body).find()) {
                        continue;
                    }
                    Matcher instance = INSTANCE.matcher(body);
                    boolean found = false;
                    while (instance.find()) {
                        names.add(instance.group(1));
                        found = true;
                    }
                    Matcher fq = FQNAME.matcher(body);
                    while (fq.find()) {
                        names.add(fq.group(1));
                        found = true;
                    }
                    if (!found) {
                        names.add("default");
                    }
                }
            }
        }
        return readAny ? new ArrayList<>(names) : null;
    }
}
