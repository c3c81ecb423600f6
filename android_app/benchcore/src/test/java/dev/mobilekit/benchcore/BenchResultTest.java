package dev.mobilekit.benchcore;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;

import org.json.JSONArray;
import org.json.JSONObject;
import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

public class BenchResultTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    static BenchResult sample() {
        BenchResult r = new BenchResult("r1", "gpu", 4);
        r.runnerVersion = "0.1.0";
        r.runtime = "litert";
        r.runtimeVersion = "1.4.0";
        r.modelSha256 = BenchRequestTest.SHA;
        r.modelSizeBytes = 1234L;
        r.appliedDelegate = "gpu";
        r.initNs = 1_000L;
        r.firstInferenceNs = 2_000L;
        r.warmupNs.add(2_000L);
        r.samplesNs.add(900L);
        r.samplesNs.add(1_100L);
        r.memory = new Probes.MemoryUsage(10L, null);
        r.thermalStart = new Probes.ThermalState("light", 30.1);
        r.outputs.add(new BenchResult.Output("outputs.npy", "Identity", new long[] {1, 10}, DType.FLOAT32));
        r.startedAtMillis = 0;
        r.finishedAtMillis = 1_500;
        return r;
    }

    @Test
    public void writesEveryRequiredFieldWithNullsWhereUnknown() throws Exception {
        JSONObject o = sample().toJson();
        for (String key : new String[] {"schema_version", "run_id", "status", "error", "runner", "device", "model",
                "delegate", "timing", "memory", "thermal", "outputs", "started_at", "finished_at"}) {
            assertTrue("missing " + key, o.has(key));
        }
        assertEquals(14, o.length());
        assertEquals("ok", o.getString("status"));
        assertTrue(o.isNull("error"));
        assertTrue(o.getJSONObject("memory").isNull("pss_bytes"));
        assertTrue(o.getJSONObject("thermal").getJSONObject("end").isNull("status"));
        assertEquals("1970-01-01T00:00:00.000Z", o.getString("started_at"));
        assertEquals("1970-01-01T00:00:01.500Z", o.getString("finished_at"));
        assertEquals(2, o.getJSONObject("timing").getJSONArray("samples_ns").length());
        assertEquals(1_100L, o.getJSONObject("timing").getJSONArray("samples_ns").getLong(1));
    }

    @Test
    public void writesAtomicallyAndReadsBack() throws Exception {
        BenchResult r = sample();
        File f = r.write(tmp.getRoot());
        assertEquals(new File(tmp.getRoot(), "result.json"), f);
        assertEquals(r.toJson().toString(), Fixtures.readJson(f).toString());
        String[] left = tmp.getRoot().list();
        assertEquals("no temporary files left behind", 1, left.length);
    }

    @Test
    public void failedResultCarriesTheError() throws Exception {
        BenchResult r = sample();
        r.error = new BenchResult.Failure("run", "RuntimeException", "boom");
        JSONObject e = r.toJson().getJSONObject("error");
        assertEquals("run", e.getString("stage"));
        assertEquals("failed", r.toJson().getString("status"));
    }

    /** Java's result has the same fields, at every level, as each shared golden result. */
    @Test
    public void hasTheSameShapeAsTheSharedResults() throws Exception {
        JSONObject mine = sample().toJson();
        for (File file : Fixtures.jsonFiles("results")) {
            JSONObject golden = Fixtures.readJson(file);
            assertEquals(file.getName() + " schema_version", 1, golden.getInt("schema_version"));
            compareKeys(file.getName(), "", golden, mine);
        }
    }

    private static void compareKeys(String file, String path, JSONObject golden, JSONObject mine) throws Exception {
        assertEquals(file + ": keys of " + (path.isEmpty() ? "the result" : path), keys(golden), keys(mine));
        Iterator<String> it = golden.keys();
        while (it.hasNext()) {
            String k = it.next();
            Object g = golden.get(k);
            Object m = mine.get(k);
            if (g instanceof JSONObject && m instanceof JSONObject) {
                compareKeys(file, path + k + ".", (JSONObject) g, (JSONObject) m);
            } else if (g instanceof JSONArray && m instanceof JSONArray && k.equals("outputs")
                    && ((JSONArray) g).length() > 0) {
                compareKeys(file, path + k + "[0].", ((JSONArray) g).getJSONObject(0), ((JSONArray) m).getJSONObject(0));
            }
        }
    }

    private static List<String> keys(JSONObject o) {
        List<String> out = new ArrayList<>();
        Iterator<String> it = o.keys();
        while (it.hasNext()) {
            out.add(it.next());
        }
        Collections.sort(out);
        return out;
    }
}
