package dev.mobilekit.benchcore;

/**
 * A bench request that breaks the schema (mobilekit/results/schemas/bench_request.schema.json) or does
 * not fit the model. {@link #field} is the offending field's path, e.g. {@code delegate.threads} or
 * {@code inputs.files[1]}; the message starts with it.
 */
public final class RequestException extends Exception {
    private static final long serialVersionUID = 1L;

    public final String field;

    public RequestException(String field, String problem) {
        super(field + ": " + problem);
        this.field = field;
    }
}
