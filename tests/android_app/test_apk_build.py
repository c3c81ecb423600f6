"""The companion app's APK as android_app/scripts/build_apk.py builds it (Maven Central + Debian's
aapt/apksigner, no Gradle) and as mobilekit ships it: signed, describing the app from app.json,
every class and reference in place, native libraries stored 16 KB-aligned; the Gradle project and
the script held to one another; installed from the package into the emulated phone through the real
adb server, then benchmarked with every delegate."""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from adb_emulator import make_test_apk
from adb_emulator.android import apk_tools_missing, make_keystore, read_apk
from mobilekit.cli import cli
from mobilekit.device import app as companion

from conftest import REPO  # noqa: E402
APP = REPO / "android_app"
SCRIPT = APP / "scripts" / "build_apk.py"


def _load_build_script():
    spec = importlib.util.spec_from_file_location("build_apk", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["build_apk"] = module
    spec.loader.exec_module(module)
    return module


build_apk = _load_build_script()
TOOLS = ["aapt", "apksigner", "dexdump", "javac", "mvn"]
missing_tools = [tool for tool in TOOLS if shutil.which(tool) is None]
needs_tools = pytest.mark.skipif(bool(missing_tools), reason=f"missing {', '.join(missing_tools)}: "
                                                            "scripts/setup.sh --test installs them")


@pytest.fixture(scope="module")
def apk():
    if missing_tools:
        pytest.skip(f"missing {', '.join(missing_tools)}")
    if not companion.BUNDLED_APK.is_file():
        pytest.skip(f"the bundled APK is not built ({companion.BUNDLED_APK}): make apk")
    return companion.BUNDLED_APK


@pytest.fixture(scope="module")
def report(apk):
    return build_apk.verify(apk)


@pytest.fixture(scope="module")
def app_json():
    return json.loads((APP / "app.json").read_text())


def _gradle(path: str) -> str:
    return (APP / path).read_text()


# ---- the APK ---------------------------------------------------------------------------------------

@needs_tools
def test_the_bundled_apk_is_v2_signed_by_the_repos_debug_key(apk, report):
    assert 2 in report["signature_schemes"]
    out = subprocess.run(["apksigner", "verify", "--verbose", "--print-certs", str(apk)], capture_output=True,
                         text=True, timeout=120).stdout
    assert "Verified using v2 scheme (APK Signature Scheme v2): true" in out
    # the committed key: every machine signs with it, so `adb install -r` upgrades work
    keystore_cert = subprocess.run(["keytool", "-list", "-v", "-keystore", str(APP / "signing" / "mobilekit-debug.p12"),
                                    "-storepass", "android", "-alias", "mobilekit"], capture_output=True, text=True,
                                   timeout=60).stdout
    sha = re.search(r"SHA256: ([0-9A-F:]+)", keystore_cert).group(1).replace(":", "").lower()
    assert f"certificate SHA-256 digest: {sha}" in out


@needs_tools
def test_badging_describes_the_app_from_app_json_and_the_gradle_file(report, app_json):
    badge = report["badging"]
    gradle = _gradle("app/build.gradle.kts")
    assert badge["package"] == app_json["package"] == companion.APP_PACKAGE
    assert badge["version_code"] == app_json["version_code"] == companion.APP_VERSION_CODE
    assert badge["version_name"] == app_json["version_name"]
    assert badge["min_sdk"] == int(re.search(r"minSdk = (\d+)", gradle).group(1))
    assert badge["target_sdk"] == int(re.search(r"targetSdk = (\d+)", gradle).group(1))
    assert badge["launchable_activity"] == app_json["activity"]
    [instrumentation] = badge["instrumentations"]
    assert app_json["package"] + instrumentation["name"] == app_json["instrumentation"] == companion.APP_INSTRUMENTATION
    assert instrumentation["targetPackage"] == app_json["package"]
    assert sorted(badge["native_code"]) == ["arm64-v8a", "armeabi-v7a", "x86_64"]


@needs_tools
def test_every_app_class_is_in_the_dex_and_every_reference_resolves(apk, report):
    classes = build_apk.dex_classes(apk)
    for root in (APP / "app" / "src" / "main" / "java", APP / "benchcore" / "src" / "main" / "java"):
        for source in root.rglob("*.java"):
            assert ".".join(source.relative_to(root).with_suffix("").parts) in classes
    assert {"org.tensorflow.lite.Interpreter", "org.tensorflow.lite.gpu.GpuDelegate",
            "org.tensorflow.lite.gpu.GpuDelegateFactory$Options", "org.tensorflow.lite.nnapi.NnApiDelegate"} <= classes
    assert not any(name.startswith(("android.", "org.json.")) for name in classes)   # the platform's own
    # the check that found nothing can find something: without the LiteRT jars, LiteRT's calls dangle
    deps = build_apk.resolve(build_apk.read_project())
    with zipfile.ZipFile(apk) as archive:
        dex = archive.read("classes.dex")
    dangling = build_apk.unresolved_references(dex, [deps["android-all"]])
    assert any("java.lang.String" in ref for ref in dangling)     # java.* lives in the JDK modules


@needs_tools
def test_native_libraries_are_stored_at_16k_offsets_and_their_elf_alignment_is_reported(apk, report):
    entries = [e for e in build_apk.zip_entries(apk) if e["name"].endswith(".so")]
    assert {e["name"].split("/")[1] for e in entries} == {"arm64-v8a", "armeabi-v7a", "x86_64"}
    for entry in entries:
        assert entry["stored"] and entry["data_offset"] % 16384 == 0, entry
    with zipfile.ZipFile(apk) as archive:
        for entry in entries:
            aligns = build_apk.elf_load_alignments(archive.read(entry["name"]))
            assert report["native_libraries"][entry["name"]]["elf_load_align"] == min(aligns)
    low = [name for name, lib in report["native_libraries"].items() if lib["elf_load_align"] < 16384]
    if low:
        # The runtime Maven Central serves is linked for 4 KB pages: say so where users read it.
        assert any("16 KB pages" in warning for warning in report["warnings"])
        readme = (REPO / "README.md").read_text() + (APP / "README.md").read_text()
        assert "16 KB" in readme and "PT_LOAD" in readme


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc to link test libraries")
@pytest.mark.parametrize("page", [4096, 16384])
def test_the_elf_check_reads_what_the_linker_wrote(tmp_path, page):
    source = tmp_path / "x.c"
    source.write_text("int f(void) { return 1; }\n")
    lib = tmp_path / "libx.so"
    subprocess.run(["gcc", "-shared", "-fPIC", f"-Wl,-z,max-page-size={page}", "-o", str(lib), str(source)],
                   check=True, capture_output=True, timeout=60)
    assert min(build_apk.elf_load_alignments(lib.read_bytes())) == page


def test_the_zip_writer_aligns_stored_entries(tmp_path):
    path = tmp_path / "a.zip"
    entries = [("AndroidManifest.xml", b"x" * 1001, False, 1), ("resources.arsc", b"r" * 7, True, 4),
               ("lib/arm64-v8a/liba.so", b"\x7fELF" + b"a" * 5000, True, 16384),
               ("lib/arm64-v8a/libb.so", b"\x7fELF" + b"b" * 3, True, 16384)]
    build_apk.write_apk(entries, path)
    with zipfile.ZipFile(path) as archive:
        assert archive.testzip() is None
        assert archive.read("lib/arm64-v8a/libb.so") == b"\x7fELFbbb"
    offsets = {e["name"]: e["data_offset"] for e in build_apk.zip_entries(path)}
    assert offsets["resources.arsc"] % 4 == 0
    assert offsets["lib/arm64-v8a/liba.so"] % 16384 == 0 and offsets["lib/arm64-v8a/libb.so"] % 16384 == 0
    if shutil.which("zipalign"):
        check = subprocess.run(["zipalign", "-c", "-p", "4", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout


@needs_tools
def test_verify_rejects_a_compressed_native_library(apk, tmp_path):
    broken = tmp_path / "broken.apk"
    with zipfile.ZipFile(apk) as src, zipfile.ZipFile(broken, "w") as dst:
        for info in src.infolist():
            compress = zipfile.ZIP_DEFLATED if info.filename.endswith(".so") else info.compress_type
            dst.writestr(info.filename, src.read(info), compress_type=compress)
    with pytest.raises(build_apk.BuildError) as failure:
        build_apk.verify(broken)
    message = str(failure.value)
    assert "v2 scheme" in message or "apksigner" in message
    assert "is compressed" in message and "lib/arm64-v8a/libtensorflowlite_jni.so" in message


@needs_tools
def test_an_unchanged_build_is_skipped(apk):
    first = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=1200)
    assert first.returncode == 0, first.stderr      # builds only if an input changed since setup
    before = apk.stat().st_mtime_ns
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stderr and apk.stat().st_mtime_ns == before
    cli_build = CliRunner().invoke(cli, ["app", "build"], catch_exceptions=False)
    assert cli_build.exit_code == 0 and cli_build.stdout.strip() == str(companion.BUNDLED_APK)


# ---- the two builds of one app -----------------------------------------------------------------------

def test_the_gradle_project_and_the_script_build_the_same_app(app_json):
    catalog = tomllib.loads((APP / "gradle" / "libs.versions.toml").read_text())
    project = build_apk.read_project()
    gradle = _gradle("app/build.gradle.kts")
    # applicationId, namespace and version come from app.json in both
    assert 'applicationId = appInfo["package"] as String' in gradle and 'namespace = appInfo["package"]' in gradle
    assert 'versionCode = (appInfo["version_code"] as Number)' in gradle
    assert project.package == app_json["package"] and project.version_code == app_json["version_code"]
    # the SDK levels the script uses are the Gradle file's
    for key, value in (("compileSdk", project.compile_sdk), ("minSdk", project.min_sdk),
                       ("targetSdk", project.target_sdk)):
        assert re.search(rf"^\s*{key} = {value}$", gradle, re.MULTILINE)
    # android-all is the one for compileSdk (Robolectric names it by Android release: 35 is 15)
    assert catalog["versions"]["androidAll"].startswith({35: "15-", 34: "14-"}[project.compile_sdk])
    # the dependencies the APK bundles are exactly the app module's implementation() ones
    implementation = re.findall(r"^\s*implementation\(libs\.([\w.]+)\)", gradle, re.MULTILINE)
    assert sorted(name.replace(".", "-") for name in implementation) == sorted(build_apk.RUNTIME_LIBRARIES)
    assert "implementation(project(\":benchcore\"))" in gradle
    tests = re.findall(r"^\s*testImplementation\(libs\.([\w.]+)\)", gradle, re.MULTILINE)
    assert sorted(tests) == ["junit", "robolectric"]
    # the version catalog is the single source: no version in a Gradle file, none in the script
    for path in ["build.gradle.kts", "app/build.gradle.kts", "benchcore/build.gradle.kts", "settings.gradle.kts"]:
        assert not re.search(r'"[\w.-]+:[\w.-]+:\d', _gradle(path)), path
    script = SCRIPT.read_text()
    for name, version in catalog["versions"].items():
        if name != "agp":
            assert f'"{version}"' not in script, f"{name} = {version} is written into build_apk.py"
    # one runtime version for the runtime, its API and the GPU delegate
    runtime = {catalog["libraries"][alias]["version"]["ref"] for alias in ("litert", "litert-api", "litert-gpu")}
    assert runtime == {"litert"}
    # same manifest, same signing key
    assert 'manifestPlaceholders["runtimeArtifact"]' in gradle
    assert "${runtimeArtifact}" in (APP / "app" / "src" / "main" / "AndroidManifest.xml").read_text()
    assert 'rootProject.file("signing/mobilekit-debug.p12")' in gradle
    assert build_apk.KEYSTORE == APP / "signing" / "mobilekit-debug.p12"
    assert 'include(":app", ":benchcore")' in _gradle("settings.gradle.kts")
    assert not (APP / "compile-stubs").exists()


@needs_tools
def test_the_apk_was_built_from_the_catalogs_runtime(apk):
    info = json.loads(apk.with_suffix(".json").read_text())
    project = build_apk.read_project()
    assert info["runtime"] == {alias: project.libraries[alias].gav for alias in build_apk.RUNTIME_LIBRARIES}
    tree = subprocess.run(["aapt", "dump", "xmltree", str(apk), "AndroidManifest.xml"], capture_output=True,
                          text=True, timeout=60).stdout
    assert f'"{project.libraries["litert"].gav}"' in tree    # the manifest's RUNTIME_ARTIFACT


# ---- shipped with the package, installed into the emulated phone ----------------------------------------

def test_app_install_takes_the_bundled_apk_through_the_adb_server(adb_server, emulator, companion_apk, monkeypatch):
    monkeypatch.delenv("MOBILEKIT_APK", raising=False)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    assert companion_apk == companion.BUNDLED_APK
    try:
        result = CliRunner().invoke(cli, ["app", "install", "--adb", "server", "--connect", emulator.address],
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        assert f"installed {companion.APP_PACKAGE} " in result.stdout and str(companion.BUNDLED_APK) in result.stdout
        record = emulator.packages[companion.APP_PACKAGE]
        info = read_apk(companion.BUNDLED_APK)
        assert (record.version_code, record.instrumentation, record.activity) == (
            companion.APP_VERSION_CODE, companion.APP_INSTRUMENTATION, "dev.mobilekit.bench.BenchActivity")
        assert record.signer_sha256 == info.signer_sha256
        # the server's own view of the phone agrees
        listing = adb_server.run("-s", emulator.address, "shell", "pm", "list", "packages", "--show-versioncode",
                                 timeout=30)
        assert f"package:{companion.APP_PACKAGE} versionCode:{companion.APP_VERSION_CODE}" in listing.stdout
        check = CliRunner().invoke(cli, ["app", "check", "--adb", "server", "--connect", emulator.address])
        assert check.exit_code == 0, check.output
    finally:
        adb_server.run("disconnect", emulator.address, timeout=10)


def test_bench_on_the_phone_with_every_delegate_after_installing_the_bundled_apk(
        adb_server, emulator, companion_apk, tiny_tflite_path, tmp_path, monkeypatch):
    monkeypatch.delenv("MOBILEKIT_APK", raising=False)
    monkeypatch.setenv("ANDROID_ADB_SERVER_PORT", str(adb_server.port))
    out = tmp_path / "out"
    try:
        result = CliRunner().invoke(cli, ["bench", str(tiny_tflite_path), "--target", "device", "--adb", "server",
                                          "--connect", emulator.address, "--delegate", "cpu,xnnpack,gpu,nnapi",
                                          "--runs", "3", "--warmup", "1", "-o", str(out)], catch_exceptions=False)
    finally:
        adb_server.run("disconnect", emulator.address, timeout=10)
    assert result.exit_code == 0, result.output
    assert emulator.install_log == [companion.APP_PACKAGE]     # missing, so the bundled APK went on
    results = [json.loads(p.read_text()) for p in sorted(out.rglob("result.json"))]
    assert sorted(r["delegate"]["requested"] for r in results) == ["cpu", "gpu", "nnapi", "xnnpack"]
    for r in results:
        assert r["status"] == "ok" and r["runner"]["kind"] == "android" and len(r["timing"]["samples_ns"]) >= 3
        assert r["runner"]["launch"] == "instrumentation"
        if r["delegate"]["applied"] != r["delegate"]["requested"]:
            assert r["delegate"]["fallback_reason"]


def test_an_apk_signed_by_another_key_cannot_replace_the_installed_one(emulator, companion_apk, tmp_path,
                                                                       no_adb_server):
    emulator.install_app(companion_apk)
    other = make_test_apk(tmp_path / "other.apk", package=companion.APP_PACKAGE,
                          version_code=companion.APP_VERSION_CODE + 1, instrumentation=companion.APP_INSTRUMENTATION,
                          keystore=make_keystore(tmp_path / "other.p12"))
    result = CliRunner().invoke(cli, ["app", "install", "--apk", str(other), "--force", "--adb", "direct",
                                      "--connect", emulator.address], catch_exceptions=False)
    assert result.exit_code == 1
    assert "INSTALL_FAILED_UPDATE_INCOMPATIBLE" in result.stderr
    unsigned = make_test_apk(tmp_path / "unsigned.apk", package=companion.APP_PACKAGE,
                             version_code=companion.APP_VERSION_CODE + 1, instrumentation=companion.APP_INSTRUMENTATION,
                             signed=False)
    result = CliRunner().invoke(cli, ["app", "install", "--apk", str(unsigned), "--force", "--adb", "direct",
                                      "--connect", emulator.address], catch_exceptions=False)
    assert result.exit_code == 1 and "INSTALL_PARSE_FAILED_NO_CERTIFICATES" in result.stderr


def test_a_request_started_in_the_activity_runs_in_front(emulator, companion_apk, tiny_tflite_path, tmp_path,
                                                        no_adb_server):
    """The emulated side of bench --foreground: `am start` with the request, then result.json appears."""
    import hashlib
    import time

    from mobilekit.device.discovery import open_transport

    emulator.install_app(companion_apk)
    run_dir = f"/sdcard/Android/data/{companion.APP_PACKAGE}/files/mobilekit/runs/front"
    model = Path(tiny_tflite_path)
    request = {"schema_version": 1, "run_id": "front",
               "model": {"path": f"{run_dir}/model.tflite", "sha256": hashlib.sha256(model.read_bytes()).hexdigest()},
               "delegate": {"name": "xnnpack", "threads": 1},
               "runs": {"warmup_runs": 1, "timed_runs": 3, "min_secs": 0, "max_secs": 30, "cooldown_secs": 0},
               "inputs": {"kind": "random", "seed": 0}, "save_outputs": False, "output_dir": run_dir}
    local = tmp_path / "request.json"
    local.write_text(json.dumps(request))
    with open_transport(adb="direct", connect=emulator.address) as transport:
        transport.check(["mkdir", "-p", run_dir])
        transport.push(model, f"{run_dir}/model.tflite")
        transport.push(local, f"{run_dir}/request.json")
        started = transport.shell(["am", "start", "-S", "-n", f"{companion.APP_PACKAGE}/.BenchActivity",
                                   "--es", "request", f"{run_dir}/request.json"])
        assert started.returncode == 0 and "Starting: Intent" in started.stdout
        deadline = time.monotonic() + 60
        while transport.shell(["test", "-f", f"{run_dir}/result.json"]).returncode != 0:
            assert time.monotonic() < deadline, "no result.json from the Activity"
            time.sleep(0.2)
        transport.pull(f"{run_dir}/result.json", tmp_path / "result.json")
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["run_id"] == "front" and result["status"] == "ok"
    assert result["runner"]["launch"] == "activity"
