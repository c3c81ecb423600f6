package dev.mobilekit.benchcore;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayInputStream;
import java.io.File;
import java.nio.file.Files;

import org.junit.Rule;
import org.junit.Test;
import org.junit.rules.TemporaryFolder;

/** The reader against files numpy wrote (scripts/make_npy_fixtures.py), the writer against numpy's bytes. */
public class NpyTest {
    @Rule
    public TemporaryFolder tmp = new TemporaryFolder();

    @Test
    public void readsEveryDtypeNumpyWrites() throws Exception {
        for (DType dtype : DType.values()) {
            NpyArray a = Npy.read(Fixtures.resource("npy/" + dtype.numpyName + ".npy"));
            assertEquals(dtype, a.dtype);
            assertArrayEquals(new long[] {2, 3}, a.shape());
            for (int i = 0; i < 6; i++) {
                double expected;
                if (dtype == DType.BOOL) {
                    expected = i % 2;
                } else if (dtype == DType.UINT8) {
                    expected = i;
                } else {
                    expected = -i;
                }
                assertEquals(dtype + "[" + i + "]", expected, a.getAsDouble(i), 0);
            }
        }
    }

    @Test
    public void readsVersionTwoHeadersScalarsAndEmptyArrays() throws Exception {
        NpyArray v2 = Npy.read(Fixtures.resource("npy/v2.npy"));
        assertArrayEquals(new long[] {2, 3}, v2.shape());
        assertEquals(-5.0, v2.getAsDouble(5), 0);
        NpyArray scalar = Npy.read(Fixtures.resource("npy/scalar.npy"));
        assertArrayEquals(new long[0], scalar.shape());
        assertEquals(2.5, scalar.getAsDouble(0), 0);
        NpyArray empty = Npy.read(Fixtures.resource("npy/empty.npy"));
        assertArrayEquals(new long[] {0, 3}, empty.shape());
    }

    @Test
    public void writesTheBytesNumpyWrites() throws Exception {
        // Same dtype, shape and data as numpy's file: the writer must reproduce it byte for byte.
        for (DType dtype : DType.values()) {
            File file = Fixtures.resource("npy/" + dtype.numpyName + ".npy");
            byte[] numpyBytes = Files.readAllBytes(file.toPath());
            NpyArray a = Npy.read(file);
            assertArrayEquals(dtype.toString(), numpyBytes, Npy.toBytes(a));
        }
        File scalar = Fixtures.resource("npy/scalar.npy");
        assertArrayEquals(Files.readAllBytes(scalar.toPath()), Npy.toBytes(Npy.read(scalar)));
    }

    @Test
    public void roundTripsThroughAFile() throws Exception {
        byte[] data = new byte[2 * 4 * 8];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 37);
        }
        NpyArray a = new NpyArray(DType.INT64, new long[] {2, 4}, data);
        File f = new File(tmp.getRoot(), "a.npy");
        Npy.write(a, f);
        NpyArray b = Npy.read(f);
        assertEquals(DType.INT64, b.dtype);
        assertArrayEquals(a.shape(), b.shape());
        assertArrayEquals(data, b.rawBytes());
        // The data starts on a 64-byte boundary, as numpy aligns it.
        assertEquals(0, (Files.size(f.toPath()) - data.length) % 64);
    }

    @Test
    public void truncatedFilesAreClearErrors() throws Exception {
        expectError("npy/truncated_data.npy", "truncated");
        expectError("npy/truncated_header.npy", "truncated");
        try {
            Npy.read(new ByteArrayInputStream(new byte[3]), "tiny.npy");
            fail("accepted 3 bytes");
        } catch (NpyException e) {
            assertTrue(e.getMessage(), e.getMessage().startsWith("tiny.npy: not an .npy file"));
        }
    }

    @Test
    public void refusesWhatItCannotFeedAModel() throws Exception {
        expectError("npy/fortran.npy", "Fortran-order");
        expectError("npy/bigendian.npy", "big-endian");
        expectError("npy/float64.npy", "unsupported .npy dtype '<f8'");
        try {
            Npy.read(new ByteArrayInputStream("not numpy at all".getBytes("UTF-8")), "x.npy");
            fail("accepted text");
        } catch (NpyException e) {
            assertTrue(e.getMessage(), e.getMessage().contains("bad magic"));
        }
    }

    @Test
    public void halfPrecisionConvertsLikeNumpy() {
        assertEquals(0x3c00, Half.fromFloat(1.0f) & 0xffff);
        assertEquals(0xc000, Half.fromFloat(-2.0f) & 0xffff);
        assertEquals(0x7bff, Half.fromFloat(65504f) & 0xffff);
        assertEquals(0x7c00, Half.fromFloat(1e6f) & 0xffff);
        assertEquals(0x0001, Half.fromFloat(5.9604645e-8f) & 0xffff);
        // 1 + 2^-11 is halfway between 1 and the next half: ties go to even (1.0).
        assertEquals(0x3c00, Half.fromFloat(1.00048828125f) & 0xffff);
        for (int bits = 0; bits < 0x7c00; bits += 7) {
            assertEquals(bits, Half.fromFloat(Half.toFloat((short) bits)) & 0xffff);
        }
    }

    private static void expectError(String resource, String text) throws Exception {
        try {
            Npy.read(Fixtures.resource(resource));
            fail(resource + " was accepted");
        } catch (NpyException e) {
            assertTrue(resource + ": " + e.getMessage(), e.getMessage().contains(text));
            assertTrue("the error names the file: " + e.getMessage(), e.getMessage().contains(resource.substring(4)));
        }
    }
}
