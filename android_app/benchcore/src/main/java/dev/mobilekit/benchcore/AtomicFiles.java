package dev.mobilekit.benchcore;

import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;

/** Writes files through a temporary sibling and a rename, so readers see the old or the new file. */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    public static void write(File file, byte[] bytes) throws IOException {
        File dir = file.getAbsoluteFile().getParentFile();
        if (dir != null && !dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create folder " + dir);
        }
        File tmp = new File(dir, "." + file.getName() + ".tmp-" + Long.toHexString(System.nanoTime()));
        try (FileOutputStream out = new FileOutputStream(tmp)) {
            out.write(bytes);
            out.getFD().sync();
        } catch (IOException e) {
            tmp.delete();
            throw e;
        }
        if (!tmp.renameTo(file)) {
            tmp.delete();
            throw new IOException("cannot move " + tmp + " to " + file);
        }
    }
}
