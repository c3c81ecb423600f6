"""The companion app's checks that run here: benchcore's JUnit tests and the Android layer's compile
check (android_app/scripts/check.sh), and conformance between the Java core and the Python package
on the shared protocol fixtures (same parse, same statistics, Java results valid by the schema)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mobilekit.results import protocol

from conftest import REPO  # noqa: E402
APP = REPO / "android_app"
FIXTURES = REPO / "tests" / "fixtures" / "protocol"
JAVA_DIR = Path("/usr/share/java")
JSON_JARS = ["com.android.json.jar", "android-json.jar", "json.jar"]


def _first(names):
    return next((JAVA_DIR / n for n in names if (JAVA_DIR / n).is_file()), None)


JSON_JAR = _first(JSON_JARS)
JUNIT_JAR = _first(["junit4.jar"])
MISSING = [what for what, ok in [("javac (openjdk-17-jdk-headless)", shutil.which("javac")),
                                 ("java", shutil.which("java")),
                                 ("junit4 (apt-get install junit4)", JUNIT_JAR),
                                 ("org.json (apt-get install libandroid-json-java)", JSON_JAR)] if not ok]
needs_java = pytest.mark.skipif(bool(MISSING), reason=f"Java tools missing: {', '.join(MISSING)}; "
                                                      "install them with scripts/setup.sh --test")


@pytest.fixture(scope="module")
def check_run():
    """android_app/scripts/check.sh, run once: JUnit tests + compile check against the stubs."""
    return subprocess.run(["bash", str(APP / "scripts" / "check.sh")], capture_output=True, text=True,
                          timeout=240)


@pytest.fixture(scope="module")
def benchcore(tmp_path_factory):
    """benchcore compiled on its own, for its command-line entry points."""
    out = tmp_path_factory.mktemp("benchcore")
    sources = sorted(str(p) for p in (APP / "benchcore" / "src" / "main" / "java").rglob("*.java"))
    subprocess.run(["javac", "--release", "17", "-encoding", "UTF-8", "-proc:none", "-cp", str(JSON_JAR),
                    "-d", str(out), *sources], check=True, capture_output=True, text=True, timeout=120)
    return f"{out}:{JSON_JAR}"


def java(classpath: str, main: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["java", "-cp", classpath, f"dev.mobilekit.benchcore.{main}", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


@needs_java
def test_java_checks_pass(check_run):
    output = check_run.stdout + check_run.stderr
    last = check_run.stdout.strip().splitlines()[-1]
    match = re.fullmatch(r"(\d+) passed, (\d+) failed", last)
    assert match, f"check.sh did not end with its summary line:\n{output[-3000:]}"
    passed, failed = map(int, match.groups())
    assert failed == 0 and check_run.returncode == 0, output[-5000:]
    # The JUnit suite (about 60 tests) plus the app's compile check: a collapse in the count
    # means tests stopped being found, not that they pass.
    assert passed >= 55, output[-3000:]
    assert "app compiles" in check_run.stdout


@needs_java
def test_java_statistics_equal_python_on_shared_and_random_vectors(benchcore, tmp_path):
    stats = pytest.importorskip("mobilekit.results.stats")
    files = sorted(FIXTURES.glob("stats/*.json"))
    assert files, "the shared statistics vectors are missing"
    vectors = [json.loads(f.read_text())["samples_ns"] for f in files]
    rng = np.random.default_rng(2026)
    for n in (1, 2, 7, 8, 9, 129, 1000, 4099):
        vectors.append([int(x) for x in rng.lognormal(14, 0.6, n)])
    vectors.append([5_000_000] * 33)
    paths = list(files)
    for i, samples in enumerate(vectors[len(files):]):
        path = tmp_path / f"random_{i}.json"
        path.write_text(json.dumps({"samples_ns": samples}))
        paths.append(path)
    run = java(benchcore, "StatsMain", *paths)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == len(paths)
    for path, samples, line in zip(paths, vectors, lines):
        java_stats = json.loads(line)
        python_stats = stats.latency_stats_ns(samples)
        for key, value in python_stats.items():
            # Same operations in the same order: equal to the last bit, well inside the 1e-9 contract.
            assert java_stats[key] == value, (path.name, key, java_stats[key], value)
        if path.parent.name == "stats":
            expected = json.loads(path.read_text())["expected"]
            for key, value in expected.items():
                assert java_stats[key] == pytest.approx(value, rel=1e-9, abs=1e-9), (path.name, key)


@needs_java
def test_java_parses_every_shared_request_as_python_does(benchcore):
    # schema_version_2.json was version 1's "from the future" vector: since version 2 both sides read it.
    files = (sorted(FIXTURES.glob("requests/*.json")) + sorted(FIXTURES.glob("v2/requests/*.json"))
             + [FIXTURES / "requests_invalid" / "schema_version_2.json"])
    assert len(files) >= 12
    run = java(benchcore, "ValidateMain", *files)
    assert run.returncode == 0, run.stdout + run.stderr
    for path, line in zip(files, run.stdout.splitlines()):
        parsed = json.loads(line)
        assert parsed["ok"], (path.name, parsed)
        assert parsed["request"] == protocol.load_request(path).to_dict(), path.name


@needs_java
def test_java_rejects_every_shared_invalid_request_naming_the_field(benchcore):
    files = sorted(p for p in FIXTURES.glob("requests_invalid/*.json") if p.stem != "schema_version_2")
    files += sorted(FIXTURES.glob("v2/requests_invalid/*.json"))
    assert len(files) >= 20
    run = java(benchcore, "ValidateMain", *files)
    assert run.returncode == 1
    lines = run.stdout.splitlines()
    assert len(lines) == len(files)
    for path, line in zip(files, lines):
        parsed = json.loads(line)
        assert not parsed["ok"], f"Java accepted {path.name}"
        with pytest.raises(protocol.ProtocolError):
            protocol.load_request(path)
        # File names start with the field at fault (delegate_threads_zero -> delegate.threads).
        words = path.stem.split("_")
        field = parsed["field"].replace(".", "_")
        named = any(field.startswith("_".join(words[:n])) or "_".join(words[:n]).startswith(field)
                    for n in range(len(words), 0, -1) if "_".join(words[:n]) not in ("unknown", "unknown_field"))
        # v1_with_duration_secs: the field is the name's trailing words.
        named = named or any(field.endswith("_".join(words[n:])) for n in range(1, len(words) - 1))
        named = named or ("unknown field" in parsed["message"] and parsed["field"].split(".")[-1] in path.stem)
        assert named, (path.name, parsed)
        assert parsed["message"].startswith(parsed["field"] + ": ")


def _echo_request(folder: Path, arrays: dict[str, np.ndarray], **extra) -> Path:
    """A request for benchcore's echo engine (outputs = inputs), with its model file and inputs."""
    model = folder / "echo_model.json"
    model.write_text(json.dumps({"echo_inputs": [
        {"name": name, "dtype": a.dtype.name, "shape": [1, *a.shape[1:]]} for name, a in arrays.items()]}))
    files = []
    for name, array in arrays.items():
        np.save(folder / f"{name}.npy", array)
        files.append(f"{name}.npy")
    import hashlib

    request = {"schema_version": 1, "run_id": "echo-run", "save_outputs": True,
               "model": {"path": model.name, "sha256": hashlib.sha256(model.read_bytes()).hexdigest()},
               "delegate": {"name": "gpu", "threads": 2},
               "runs": {"warmup_runs": 2, "timed_runs": 5, "max_secs": 10},
               "inputs": {"kind": "npy", "files": files}, **extra}
    path = folder / "request.json"
    path.write_text(json.dumps(request))
    return path


@needs_java
def test_java_written_result_and_outputs_are_valid_for_python(benchcore, tmp_path):
    rng = np.random.default_rng(0)
    arrays = {
        "f32": rng.random((3, 4, 2)).astype(np.float32),
        "f16": rng.random((3, 5)).astype(np.float16),
        "i8": rng.integers(-128, 128, (3, 2), dtype=np.int8),
        "u8": rng.integers(0, 256, (3, 6), dtype=np.uint8),
        "i32": rng.integers(-10**9, 10**9, (3, 1), dtype=np.int32),
        "i64": rng.integers(-10**15, 10**15, (3, 2), dtype=np.int64),
    }
    request = _echo_request(tmp_path, arrays, output_dir="out")
    run = java(benchcore, "RunMain", request)
    assert run.returncode == 0, run.stdout + run.stderr
    result_path = tmp_path / "out" / "result.json"
    data = json.loads(result_path.read_text())
    protocol.validate("result", data, where="Java result")
    import jsonschema

    jsonschema.validate(data, protocol.schema("result"))
    loaded = protocol.load_result(result_path)
    assert loaded.status == "ok"
    assert data["delegate"] == {"requested": "gpu", "applied": "cpu", "threads": 2,
                                "fallback_reason": "the echo engine has no gpu delegate"}
    assert len(data["timing"]["warmup_ns"]) == 2 and len(data["timing"]["samples_ns"]) >= 5
    assert [o["file"] for o in data["outputs"]] == ["outputs.npy"] + [f"outputs_{i}.npy" for i in range(1, 6)]
    for output, (name, array) in zip(data["outputs"], arrays.items()):
        saved = np.load(tmp_path / "out" / output["file"], allow_pickle=False)
        assert saved.dtype == array.dtype and output["dtype"] == array.dtype.name
        assert list(saved.shape) == output["shape"] == list(array.shape)
        np.testing.assert_array_equal(saved, array)


@needs_java
def test_java_sustained_run_writes_aligned_telemetry_that_python_reads(benchcore, tmp_path):
    arrays = {"x": np.ones((2, 3), dtype=np.float32)}
    request = _echo_request(tmp_path, arrays, schema_version=2)
    data = json.loads(request.read_text())
    # timed_runs and max_secs would end the loop early: with a duration the clock alone ends it.
    data["runs"].update(timed_runs=1, max_secs=0.01, duration_secs=0.4, telemetry_interval_secs=0.1)
    request.write_text(json.dumps(data))
    run = java(benchcore, "RunMain", request)
    assert run.returncode == 0, run.stdout + run.stderr
    result = protocol.load_result(tmp_path / "result.json")
    assert result.schema_version == 2 and result.ok
    samples = result.timing.samples_ns
    assert sum(samples) < 0.4e9 <= sum(samples) + 0.4e9 and len(samples) > 10  # the loop ran for 0.4 s
    telemetry = result.telemetry
    assert [s["stage"] for s in telemetry[:5]] == ["load", "init", "inputs", "warmup", "run"]
    run_samples = [s for s in telemetry if s["stage"] in ("run", "outputs")]
    assert len(run_samples) >= 4  # start, about 3 interval samples, end of run
    indices = [s["index"] for s in telemetry]
    assert indices == sorted(indices) and indices[-1] == len(samples)
    assert [s["t_ns"] for s in telemetry] == sorted(s["t_ns"] for s in telemetry) and telemetry[0]["t_ns"] == 0
    assert all(s["thermal_status"] is None and s["battery_temp_c"] is None for s in telemetry)  # absent, not zero


@needs_java
def test_java_result_without_telemetry_stays_version_1(benchcore, tmp_path):
    request = _echo_request(tmp_path, {"x": np.ones((1, 3), dtype=np.float32)}, schema_version=2)
    data = json.loads(request.read_text())
    data["runs"]["telemetry_interval_secs"] = 0
    request.write_text(json.dumps(data))
    assert java(benchcore, "RunMain", request).returncode == 0
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["schema_version"] == 1 and "telemetry" not in data
    protocol.validate("result", data, where="Java result")


@needs_java
def test_java_failed_run_still_writes_a_valid_result(benchcore, tmp_path):
    arrays = {"x": np.zeros((2, 3), dtype=np.float32)}
    request = _echo_request(tmp_path, arrays)
    npy = tmp_path / "x.npy"
    npy.write_bytes(npy.read_bytes()[:-7])  # truncated
    run = java(benchcore, "RunMain", request)
    assert run.returncode == 1
    data = json.loads((tmp_path / "result.json").read_text())
    protocol.validate("result", data, where="Java failed result")
    assert data["status"] == "failed" and data["outputs"] == []
    assert data["error"]["stage"] == "inputs"
    assert data["error"]["message"].startswith("inputs.files[0]: ") and "truncated" in data["error"]["message"]


def test_transcript_fixtures_carry_valid_results():
    for name in ("am_instrument_ok.txt", "am_instrument_run_failed.txt"):
        text = (FIXTURES / name).read_text()
        assert text.rstrip().endswith("INSTRUMENTATION_CODE: -1")
        line = next(l for l in text.splitlines() if l.startswith("INSTRUMENTATION_RESULT: result="))
        protocol.validate("result", json.loads(line.split("=", 1)[1]), where=name)
        # am prints each bundle's keys sorted, as Instrument.java does.
        keys = [l.split(": ", 1)[1].split("=", 1)[0] for l in text.splitlines()
                if l.startswith("INSTRUMENTATION_RESULT: ")]
        assert keys == sorted(keys)
    crash = (FIXTURES / "am_instrument_crash.txt").read_text()
    assert "INSTRUMENTATION_RESULT: shortMsg=Process crashed.\nINSTRUMENTATION_CODE: 0" in crash
    app = json.loads((APP / "app.json").read_text())
    failed = (FIXTURES / "am_instrument_failed.txt").read_text()
    assert f"INSTRUMENTATION_FAILED: {app['package']}/{app['instrumentation']}" in failed


def test_app_json_names_what_the_manifest_and_sources_declare():
    app = json.loads((APP / "app.json").read_text())
    manifest = (APP / "app" / "src" / "main" / "AndroidManifest.xml").read_text()
    package = app["package"]
    short = app["instrumentation"].removeprefix(package)
    assert f'android:name="{short}"' in manifest and f'android:targetPackage="{package}"' in manifest
    source = APP / "app" / "src" / "main" / "java" / Path(*app["instrumentation"].split(".")).with_suffix(".java")
    assert "extends Instrumentation" in source.read_text()
    assert app["protocol_version"] == 1 and app["version_code"] // 1000 == app["protocol_version"]
    from mobilekit.device import app as companion

    assert (companion.APP_PACKAGE, companion.APP_INSTRUMENTATION) == (package, app["instrumentation"])


# ---------------------------------------------------------------------------------------------
# free input shapes: the app sets the data's shape in the model's bytes before LiteRT's Java
# Interpreter allocates (its constructor allocates at the stored shape, 1 for a free dimension)


@pytest.fixture(scope="module")
def tflite_models(tmp_path_factory):
    """Real .tflite files: free height/width, free batch only, and two fixed inputs."""
    from mobilekit._compat import keras, tf

    k = keras()
    folder = tmp_path_factory.mktemp("tflite")

    def save(name, model):
        path = folder / f"{name}.tflite"
        path.write_bytes(tf().lite.TFLiteConverter.from_keras_model(model).convert())
        return path

    image = k.Input((None, None, 3), name="image")
    x = k.layers.Conv2D(4, 3, activation="relu")(image)
    x = k.layers.Conv2D(4, 3, strides=2)(x)
    x = k.layers.GlobalAveragePooling2D()(x)
    free = save("free_hw", k.Model(image, k.layers.Dense(2)(x)))
    vector = k.Input((6,), name="features")
    batch_only = save("free_batch", k.Model(vector, k.layers.Dense(3)(vector)))
    a, b = k.Input((5,), name="a"), k.Input((4, 2), name="b")
    merged = k.layers.Concatenate()([a, k.layers.Flatten()(b)])
    two = save("two_inputs", k.Model([a, b], k.layers.Dense(2)(merged)))
    return {"free": free, "batch_only": batch_only, "two": two}


def _litert_inputs(path):
    from mobilekit._compat import make_interpreter

    details = make_interpreter(model_path=str(path)).get_input_details()
    return [(d["name"], list(map(int, d["shape"])), list(map(int, d["shape_signature"]))) for d in details]


@needs_java
def test_java_reads_the_inputs_litert_reads(benchcore, tflite_models):
    for path in tflite_models.values():
        run = java(benchcore, "TfliteMain", path)
        assert run.returncode == 0, run.stderr
        read = [(i["name"], i["shape"], i["shape_signature"]) for i in json.loads(run.stdout)["inputs"]]
        assert read == _litert_inputs(path), path.name
    free = json.loads(java(benchcore, "TfliteMain", tflite_models["free"]).stdout)["inputs"][0]
    assert free["shape"] == [1, 1, 1, 3] and free["shape_signature"] == [-1, -1, -1, 3] and free["type"] == 0


@needs_java
def test_a_free_shape_model_set_by_the_app_allocates_once_at_the_data_shape(benchcore, tflite_models, tmp_path):
    import hashlib

    from mobilekit._compat import make_interpreter

    model = tflite_models["free"]
    before = hashlib.sha256(model.read_bytes()).hexdigest()
    x = np.random.default_rng(1).random((1, 32, 48, 3), dtype=np.float32)
    # Why the app must: LiteRT's Java Interpreter allocates in its constructor, at the stored
    # 1x1 pixels, which fails under XNNPACK for this model (resizing afterwards does not help).
    first = make_interpreter(model_path=str(model))
    with pytest.raises(RuntimeError, match="XNNPack|reshape|prepare"):
        first.allocate_tensors()
        first.resize_tensor_input(first.get_input_details()[0]["index"], list(x.shape))
        first.allocate_tensors()

    patched = tmp_path / "patched.tflite"
    run = java(benchcore, "TfliteMain", model, patched, "1,32,48,3")
    assert run.returncode == 0, run.stderr
    assert hashlib.sha256(model.read_bytes()).hexdigest() == before  # the input is never changed
    interpreter = make_interpreter(model_path=str(patched))  # XNNPACK on, as in the app
    interpreter.allocate_tensors()  # no resize: the stored shape is the data's
    detail = interpreter.get_input_details()[0]
    assert list(detail["shape"]) == [1, 32, 48, 3] and list(detail["shape_signature"]) == [-1, -1, -1, 3]
    interpreter.set_tensor(detail["index"], x)
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    reference = make_interpreter(model_path=str(model))  # the host runner's way: resize, then allocate
    index = reference.get_input_details()[0]["index"]
    reference.resize_tensor_input(index, list(x.shape))
    reference.allocate_tensors()
    reference.set_tensor(index, x)
    reference.invoke()
    np.testing.assert_allclose(got, reference.get_tensor(reference.get_output_details()[0]["index"]), rtol=1e-5)


@needs_java
def test_the_app_changes_only_free_dimensions(benchcore, tflite_models, tmp_path):
    out = tmp_path / "out.tflite"
    # The two-input model's second fixed input asked to grow: refused though the first fits.
    two = [",".join(map(str, shape)) for _, shape, _ in _litert_inputs(tflite_models["two"])]
    two[1] = two[1][:-1] + "9"
    for model, shapes, says in [(tflite_models["free"], ["1,32,32,4"], "only its free"),
                                (tflite_models["free"], ["1,32,32"], "rank"),
                                (tflite_models["free"], ["1,0,32,3"], "at least 1"),
                                (tflite_models["free"], ["1,8,8,3", "1,8,8,3"], "2 shapes for a model with 1 input"),
                                (tflite_models["two"], two, "only its free")]:
        run = java(benchcore, "TfliteMain", model, out, *shapes)
        assert run.returncode == 1 and says in run.stderr, (shapes, run.stderr)
    assert java(benchcore, "TfliteMain", tflite_models["batch_only"], out, "3,6").returncode == 0
    assert _litert_inputs(out)[0][1] == [3, 6]


@needs_java
def test_a_broken_tflite_is_an_error_not_a_crash(benchcore, tflite_models, tmp_path):
    content = tflite_models["free"].read_bytes()
    rng = np.random.default_rng(3)
    cases = [content[:n] for n in (0, 7, 16, 64, len(content) // 2)]
    cases += [rng.integers(0, 256, 600, dtype=np.uint8).tobytes() for _ in range(8)]
    flipped = bytearray(content)
    flipped[4:8] = b"\xff\xff\xff\x7f"
    cases.append(bytes(flipped))
    for i, case in enumerate(cases):
        path = tmp_path / f"broken_{i}.tflite"
        path.write_bytes(case)
        run = java(benchcore, "TfliteMain", path)
        assert run.returncode in (0, 1) and "Exception in thread" not in run.stderr, (i, run.stderr[-500:])


def _free_echo_request(folder: Path, inputs: dict) -> Path:
    request = _echo_request(folder, {"x": np.zeros((1, 1, 1, 3), dtype=np.float32)})
    model = folder / "echo_model.json"
    model.write_text(json.dumps({"echo_inputs": [
        {"name": "x", "dtype": "float32", "shape": [1, 1, 1, 3], "shape_signature": [-1, -1, -1, 3]}]}))
    import hashlib

    data = json.loads(request.read_text())
    data["model"]["sha256"] = hashlib.sha256(model.read_bytes()).hexdigest()
    data["inputs"] = inputs
    data["delegate"] = {"name": "xnnpack", "threads": 1}
    request.write_text(json.dumps(data))
    return request


@needs_java
def test_the_run_loop_allocates_a_free_shape_model_at_the_samples_shape(benchcore, tmp_path):
    x = np.random.default_rng(2).random((4, 20, 30, 3), dtype=np.float32)
    request = _free_echo_request(tmp_path, {"kind": "npy", "files": ["x.npy"]})
    np.save(tmp_path / "x.npy", x)
    run = java(benchcore, "RunMain", request)
    assert run.returncode == 0, run.stdout + run.stderr
    data = json.loads((tmp_path / "result.json").read_text())
    assert data["status"] == "ok" and data["outputs"][0]["shape"] == [4, 20, 30, 3]
    np.testing.assert_array_equal(np.load(tmp_path / data["outputs"][0]["file"], allow_pickle=False), x)


@needs_java
def test_random_inputs_for_a_free_height_and_width_are_refused_naming_the_fix(benchcore, tmp_path):
    request = _free_echo_request(tmp_path, {"kind": "random", "seed": 0})
    run = java(benchcore, "RunMain", request)
    assert run.returncode == 1
    error = json.loads((tmp_path / "result.json").read_text())["error"]
    assert error["stage"] == "inputs" and "free dimensions besides the batch" in error["message"]
    assert "--data" in error["message"]
