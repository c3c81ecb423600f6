package dev.mobilekit.benchcore;

import java.io.IOException;

/** An .npy file that cannot be read as the format says (bad magic, truncated, unsupported dtype). */
public final class NpyException extends IOException {
    private static final long serialVersionUID = 1L;

    public NpyException(String message) {
        super(message);
    }
}
