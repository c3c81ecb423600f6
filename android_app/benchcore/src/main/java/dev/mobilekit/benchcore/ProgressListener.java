package dev.mobilekit.benchcore;

/** Progress of a run, for the Instrumentation's status bundles and the Activity's screen. */
public interface ProgressListener {
    /**
     * @param stage one of the result's error stages: load, init, inputs, warmup, run, outputs, write
     * @param done  runs finished in this stage
     * @param total runs planned in this stage (timed runs may stop earlier at max_secs or go on to
     *              min_secs)
     */
    void onProgress(String stage, int done, int total);

    /** After init: the delegate actually applied and, if it differs from the request, why. */
    default void onApplied(AppliedDelegate applied) {
    }

    ProgressListener NONE = (stage, done, total) -> { };
}
