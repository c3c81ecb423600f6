package dev.mobilekit.benchcore;

/** The delegate an engine actually used, and why it differs from the one requested (or null). */
public final class AppliedDelegate {
    public final String name;
    public final String fallbackReason;

    public AppliedDelegate(String name, String fallbackReason) {
        if (!BenchRequest.DELEGATES.contains(name)) {
            throw new IllegalArgumentException("unknown applied delegate " + name);
        }
        this.name = name;
        this.fallbackReason = fallbackReason;
    }

    public static AppliedDelegate as(String name) {
        return new AppliedDelegate(name, null);
    }
}
