package dev.mobilekit.benchcore;

import java.util.Locale;

/** Tensor element types, named as numpy names them, with their little-endian .npy descriptors. */
public enum DType {
    FLOAT32("float32", "<f4", 4),
    FLOAT16("float16", "<f2", 2),
    INT8("int8", "|i1", 1),
    UINT8("uint8", "|u1", 1),
    INT16("int16", "<i2", 2),
    INT32("int32", "<i4", 4),
    INT64("int64", "<i8", 8),
    BOOL("bool", "|b1", 1);

    /** The numpy dtype name, as used in the protocol's {@code outputs[].dtype}. */
    public final String numpyName;
    /** The .npy header descriptor numpy writes on a little-endian machine. */
    public final String descr;
    public final int itemSize;

    DType(String numpyName, String descr, int itemSize) {
        this.numpyName = numpyName;
        this.descr = descr;
        this.itemSize = itemSize;
    }

    public static DType fromName(String name) {
        for (DType t : values()) {
            if (t.numpyName.equals(name)) {
                return t;
            }
        }
        throw new IllegalArgumentException("unsupported dtype '" + name + "'");
    }

    /**
     * The dtype of an .npy descriptor. numpy writes '|' for one-byte types but '<' and '=' are
     * equivalent there; big-endian data is refused rather than silently byte-swapped.
     */
    public static DType fromDescr(String descr) {
        if (descr.length() < 3) {
            throw new IllegalArgumentException("unsupported .npy dtype descriptor '" + descr + "'");
        }
        char order = descr.charAt(0);
        String kind = descr.substring(1);
        for (DType t : values()) {
            if (!t.descr.substring(1).equals(kind)) {
                continue;
            }
            boolean oneByte = t.itemSize == 1;
            if (order == '<' || order == '=' || (oneByte && (order == '|' || order == '>'))) {
                return t;
            }
            if (order == '>') {
                throw new IllegalArgumentException("big-endian .npy data ('" + descr
                        + "') is not supported: save it little-endian, e.g. arr.astype('<"
                        + kind + "')");
            }
        }
        throw new IllegalArgumentException(String.format(Locale.ROOT,
                "unsupported .npy dtype '%s': use float32, float16, int8, uint8, int16, int32, int64 or bool",
                descr));
    }

    @Override
    public String toString() {
        return numpyName;
    }
}
