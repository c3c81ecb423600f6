package dev.mobilekit.benchcore;

import static org.junit.Assert.assertTrue;

import java.io.File;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.Arrays;

import org.json.JSONObject;
import org.junit.Assume;

/** Locates the shared protocol fixtures (tests/fixtures/protocol) and the test resources. */
final class Fixtures {
    private Fixtures() {
    }

    /**
     * The shared fixture folder named by -Dmobilekit.fixtures. check.sh and Gradle always set it;
     * when set it must exist, so a missing fixture folder fails instead of skipping silently.
     */
    static File protocolDir() {
        String path = System.getProperty("mobilekit.fixtures");
        Assume.assumeTrue("set -Dmobilekit.fixtures to tests/fixtures/protocol", path != null);
        File dir = new File(path);
        assertTrue("fixture folder missing: " + dir, dir.isDirectory());
        return dir;
    }

    /** The .json files in a fixture subfolder, sorted; the folder must exist and hold some. */
    static File[] jsonFiles(String sub) {
        File dir = new File(protocolDir(), sub);
        assertTrue("fixture folder missing: " + dir, dir.isDirectory());
        File[] files = dir.listFiles((d, name) -> name.endsWith(".json"));
        assertTrue("no .json fixtures in " + dir, files != null && files.length > 0);
        Arrays.sort(files);
        return files;
    }

    static JSONObject readJson(File file) throws Exception {
        return new JSONObject(new String(Files.readAllBytes(file.toPath()), StandardCharsets.UTF_8));
    }

    static File resource(String name) {
        URL url = Fixtures.class.getResource("/" + name);
        assertTrue("test resource missing from the classpath: " + name, url != null);
        try {
            return new File(url.toURI());
        } catch (URISyntaxException e) {
            throw new AssertionError(e);
        }
    }
}
