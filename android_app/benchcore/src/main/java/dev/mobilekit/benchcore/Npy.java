package dev.mobilekit.benchcore;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads and writes numpy's .npy format (versions 1, 2 and 3; C order; little endian), the format
 * the host prepares inputs in and reads outputs back from.
 */
public final class Npy {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("['\"]descr['\"]\\s*:\\s*['\"]([^'\"]*)['\"]");
    private static final Pattern FORTRAN = Pattern.compile("['\"]fortran_order['\"]\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("['\"]shape['\"]\\s*:\\s*\\(([^)]*)\\)");

    private Npy() {
    }

    public static NpyArray read(File file) throws IOException {
        try (InputStream in = new FileInputStream(file)) {
            return read(in, file.getPath());
        } catch (java.io.FileNotFoundException e) {
            throw new NpyException(file.getPath() + ": file not found");
        }
    }

    /** The shape in an .npy file's header, without reading its data. */
    public static long[] readShape(File file) throws IOException {
        try (InputStream in = new FileInputStream(file)) {
            return readHeader(new DataInputStream(in), file.getPath()).shape;
        } catch (java.io.FileNotFoundException e) {
            throw new NpyException(file.getPath() + ": file not found");
        }
    }

    private static final class Header {
        final DType dtype;
        final long[] shape;

        Header(DType dtype, long[] shape) {
            this.dtype = dtype;
            this.shape = shape;
        }
    }

    /** Reads one array; {@code label} names the source in error messages. */
    public static NpyArray read(InputStream stream, String label) throws IOException {
        DataInputStream in = new DataInputStream(stream);
        Header h = readHeader(in, label);
        DType dtype = h.dtype;
        long[] shape = h.shape;
        long count;
        try {
            count = NpyArray.elementCount(shape);
        } catch (ArithmeticException | IllegalArgumentException e) {
            throw new NpyException(label + ": bad shape in .npy header: " + Arrays.toString(shape));
        }
        long needed = count * dtype.itemSize;
        if (needed > Integer.MAX_VALUE - 16) {
            throw new NpyException(label + ": array of " + needed + " bytes is too large to load");
        }
        byte[] data = new byte[(int) needed];
        int got = 0;
        while (got < data.length) {
            int n = in.read(data, got, data.length - got);
            if (n < 0) {
                break;
            }
            got += n;
        }
        if (got < data.length) {
            throw new NpyException(String.format(Locale.ROOT,
                    "%s: truncated .npy file: shape %s of %s needs %d data bytes but only %d follow the header",
                    label, shapeRepr(shape), dtype, needed, got));
        }
        return new NpyArray(dtype, shape, data);
    }

    private static Header readHeader(DataInputStream in, String label) throws IOException {
        byte[] magic = new byte[8];
        try {
            in.readFully(magic);
        } catch (EOFException e) {
            throw new NpyException(label + ": not an .npy file (shorter than its 8-byte preamble)");
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (magic[i] != MAGIC[i]) {
                throw new NpyException(label + ": not an .npy file (bad magic; save it with numpy.save)");
            }
        }
        int major = magic[6] & 0xff;
        long headerLength;
        try {
            if (major == 1) {
                headerLength = (in.readUnsignedByte()) | (in.readUnsignedByte() << 8);
            } else if (major == 2 || major == 3) {
                headerLength = (in.readUnsignedByte()) | (in.readUnsignedByte() << 8)
                        | ((long) in.readUnsignedByte() << 16) | ((long) in.readUnsignedByte() << 24);
            } else {
                throw new NpyException(label + ": unsupported .npy format version " + major + "." + (magic[7] & 0xff));
            }
        } catch (EOFException e) {
            throw new NpyException(label + ": truncated .npy header");
        }
        if (headerLength > 1 << 24) {
            throw new NpyException(label + ": implausible .npy header length " + headerLength);
        }
        byte[] headerBytes = new byte[(int) headerLength];
        try {
            in.readFully(headerBytes);
        } catch (EOFException e) {
            throw new NpyException(label + ": truncated .npy header (expected " + headerLength + " bytes)");
        }
        String header = new String(headerBytes, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        DType dtype = parseDType(header, label);
        Matcher fortran = FORTRAN.matcher(header);
        if (!fortran.find()) {
            throw new NpyException(label + ": .npy header has no fortran_order: " + header.trim());
        }
        if (fortran.group(1).equals("True")) {
            throw new NpyException(label + ": Fortran-order arrays are not supported: save with np.ascontiguousarray(arr)");
        }
        long[] shape = parseShape(header, label);
        return new Header(dtype, shape);
    }

    private static DType parseDType(String header, String label) throws NpyException {
        Matcher m = DESCR.matcher(header);
        if (!m.find()) {
            throw new NpyException(label + ": unsupported .npy dtype (structured arrays are not supported): " + header.trim());
        }
        try {
            return DType.fromDescr(m.group(1));
        } catch (IllegalArgumentException e) {
            throw new NpyException(label + ": " + e.getMessage());
        }
    }

    private static long[] parseShape(String header, String label) throws NpyException {
        Matcher m = SHAPE.matcher(header);
        if (!m.find()) {
            throw new NpyException(label + ": .npy header has no shape: " + header.trim());
        }
        List<Long> dims = new ArrayList<>();
        for (String part : m.group(1).split(",")) {
            String t = part.trim();
            if (t.endsWith("L")) {
                t = t.substring(0, t.length() - 1);
            }
            if (t.isEmpty()) {
                continue;
            }
            try {
                dims.add(Long.parseLong(t));
            } catch (NumberFormatException e) {
                throw new NpyException(label + ": bad shape in .npy header: (" + m.group(1) + ")");
            }
        }
        long[] shape = new long[dims.size()];
        for (int i = 0; i < shape.length; i++) {
            shape[i] = dims.get(i);
        }
        return shape;
    }

    /** The shape as Python prints a tuple: (), (3,), (2, 3). */
    public static String shapeRepr(long[] shape) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            if (i > 0) {
                sb.append(", ");
            }
            sb.append(shape[i]);
        }
        if (shape.length == 1) {
            sb.append(',');
        }
        return sb.append(')').toString();
    }

    /** The bytes numpy.save would write for this array (version 1.0 unless the header needs 2.0). */
    public static byte[] toBytes(NpyArray array) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(array.rawBytes().length + 128);
        try {
            write(array, out);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.toByteArray();
    }

    public static void write(NpyArray array, OutputStream out) throws IOException {
        String dict = "{'descr': '" + array.dtype.descr + "', 'fortran_order': False, 'shape': "
                + shapeRepr(array.shape()) + ", }";
        // numpy pads the header with spaces so the data starts on a 64-byte boundary.
        int preamble = 10;
        int total = preamble + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        int major = 1;
        if (padded - preamble > 0xffff) {
            major = 2;
            preamble = 12;
            total = preamble + dict.length() + 1;
            padded = (total + 63) / 64 * 64;
        }
        StringBuilder header = new StringBuilder(dict);
        while (preamble + header.length() + 1 < padded) {
            header.append(' ');
        }
        header.append('\n');
        byte[] headerBytes = header.toString().getBytes(StandardCharsets.ISO_8859_1);
        out.write(MAGIC);
        out.write(major);
        out.write(0);
        int len = headerBytes.length;
        out.write(len & 0xff);
        out.write((len >>> 8) & 0xff);
        if (major == 2) {
            out.write((len >>> 16) & 0xff);
            out.write((len >>> 24) & 0xff);
        }
        out.write(headerBytes);
        out.write(array.rawBytes());
    }

    /** Writes the array to {@code file} atomically: a half-written .npy never appears under its name. */
    public static void write(NpyArray array, File file) throws IOException {
        AtomicFiles.write(file, toBytes(array));
    }
}
