package dev.mobilekit.bench;

import dev.mobilekit.benchcore.AppliedDelegate;
import dev.mobilekit.benchcore.BenchRequest;
import dev.mobilekit.benchcore.EchoEngine;
import dev.mobilekit.benchcore.Engine;
import dev.mobilekit.benchcore.TensorSpec;

import java.io.File;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** benchcore's EchoEngine with hooks: a latch each run waits on, and whether it was closed. */
class HookedEngine implements Engine {
    private final EchoEngine echo = new EchoEngine();
    final CountDownLatch release;
    final CountDownLatch running = new CountDownLatch(1);
    volatile boolean closed;

    HookedEngine(CountDownLatch release) {
        this.release = release;
    }

    @Override
    public AppliedDelegate init(File model, BenchRequest.Delegate delegate) throws Exception {
        return echo.init(model, delegate);
    }

    @Override
    public List<TensorSpec> inputs() {
        return echo.inputs();
    }

    @Override
    public List<TensorSpec> outputs() {
        return echo.outputs();
    }

    @Override
    public void run(ByteBuffer[] in, ByteBuffer[] out) throws Exception {
        running.countDown();
        if (release != null) {
            release.await();
        }
        echo.run(in, out);
    }

    @Override
    public String runtime() {
        return echo.runtime();
    }

    @Override
    public String runtimeVersion() {
        return echo.runtimeVersion();
    }

    @Override
    public void close() {
        closed = true;
        echo.close();
    }
}
