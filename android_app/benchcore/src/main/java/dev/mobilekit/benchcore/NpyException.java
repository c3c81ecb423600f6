package dev.mobilekit.benchcore;

import java.io.IOException;

/** An .npy file that cannot be read as the format says (bad magic, truncated, unsupported dtype). */
public final class NpyException extends IOException {
    public NpyException(String message) {
        super(message);
    }
}
