package dev.mobilekit.benchcore;

import java.util.ArrayList;
import java.util.List;

import org.junit.runner.Description;
import org.junit.runner.JUnitCore;
import org.junit.runner.Result;
import org.junit.runner.notification.Failure;
import org.junit.runner.notification.RunListener;

/**
 * Runs JUnit 4 test classes without Gradle and ends with one line "N passed, N failed" that
 * scripts and the Python wrapper read. Usage: TestMain CLASS [CLASS ...]
 */
public final class TestMain {
    private TestMain() {
    }

    public static void main(String[] args) throws Exception {
        List<Class<?>> classes = new ArrayList<>();
        for (String name : args) {
            classes.add(Class.forName(name));
        }
        JUnitCore core = new JUnitCore();
        final int[] skipped = {0};
        core.addListener(new RunListener() {
            @Override
            public void testFailure(Failure failure) {
                System.out.println("FAIL " + failure.getTestHeader() + ": " + failure.getMessage());
                String trace = failure.getTrace();
                String[] lines = trace.split("\n");
                for (int i = 0; i < Math.min(lines.length, 12); i++) {
                    System.out.println("    " + lines[i]);
                }
            }

            @Override
            public void testAssumptionFailure(Failure failure) {
                skipped[0]++;
                System.out.println("SKIP " + failure.getTestHeader() + ": " + failure.getMessage());
            }

            @Override
            public void testIgnored(Description description) {
                skipped[0]++;
            }
        });
        Result result = core.run(classes.toArray(new Class<?>[0]));
        int failed = result.getFailureCount();
        int passed = result.getRunCount() - failed - skipped[0] + result.getIgnoreCount();
        // check.sh compiles the app against the API stubs first and passes the outcome here, so the
        // one summary line covers both checks.
        String appCompile = System.getProperty("mobilekit.appCompile");
        if ("ok".equals(appCompile)) {
            passed++;
        } else if (appCompile != null) {
            failed++;
            System.out.println("FAIL app compile check against android-all and LiteRT (see javac errors above)");
        }
        if (skipped[0] > 0) {
            System.out.println(skipped[0] + " skipped");
        }
        System.out.println(passed + " passed, " + failed + " failed");
        System.exit(failed == 0 && passed > 0 ? 0 : 1);
    }
}
