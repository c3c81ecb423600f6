#!/usr/bin/env python3
"""Builds the companion app's APK from this repo without the Android Gradle Plugin, then verifies it.

    python3 android_app/scripts/build_apk.py            # build (skipped when nothing changed) + verify
    python3 android_app/scripts/build_apk.py --force    # rebuild
    python3 android_app/scripts/build_apk.py verify APK # only the checks, on any APK
    python3 android_app/scripts/build_apk.py resolve    # only fetch the Maven artifacts
    python3 android_app/scripts/build_apk.py compile    # only compile the app (javac -Werror)
    python3 android_app/scripts/build_apk.py robolectric  # the Android layer's JVM tests (Robolectric)

From the same sources, AndroidManifest.xml, app.json and gradle/libs.versions.toml as the Android
Studio build:
  1. Maven Central (mvn dependency:copy-dependencies; cached in ~/.m2): Robolectric's android-all
     for compileSdk, the LiteRT AARs, the D8 dexer;
  2. aapt (Debian) links the manifest and resources against framework-res.apk, with package,
     versionCode/Name and SDK levels from app.json and app/build.gradle.kts, and writes R.java;
  3. javac -Xlint:all -Werror compiles benchcore + the Android layer against android-all and the
     LiteRT classes; D8 dexes them with the LiteRT classes into classes.dex (--min-api = minSdk);
  4. the APK is assembled here: resources.arsc stored 4-aligned, native libraries (arm64-v8a,
     armeabi-v7a, x86_64) stored uncompressed at 16 KB-aligned offsets (Debian's zipalign 10 has no
     -P 16), fixed timestamps, so the same inputs give the same bytes;
  5. apksigner signs it (v2 + v3) with the committed debug key android_app/signing/mobilekit-debug.p12
     (the same key on every machine, so `adb install -r` upgrades work; see android_app/README.md);
  6. verify(): apksigner verify, aapt dump badging/xmltree, dexdump, every dex reference resolves,
     .so offsets and ELF PT_LOAD alignment.

The APK goes to mobilekit/device/companion/mobilekit-bench.apk (package data of the Python
package, not in git) with a .json beside it describing the build. Needs python3.11+, JDK 17
(javac), maven, aapt, android-framework-res, apksigner, dexdump (scripts/setup.sh --test installs
them). Exit status: 0 built/verified, 1 a check failed, 3 a tool is missing.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
APP_ROOT = HERE.parent                       # android_app/
REPO = APP_ROOT.parent
BUILD = APP_ROOT / "build" / "apk"
OUTPUT = REPO / "mobilekit" / "device" / "companion" / "mobilekit-bench.apk"
FRAMEWORK_RES = Path(os.environ.get("MOBILEKIT_FRAMEWORK_RES", "/usr/share/android-framework-res/framework-res.apk"))
KEYSTORE = APP_ROOT / "signing" / "mobilekit-debug.p12"
KEY_ALIAS = "mobilekit"
KEY_PASS = "android"                         # a debug key, public on purpose (README: Signing)
ABIS = ("arm64-v8a", "armeabi-v7a", "x86_64")
NATIVE_ALIGN = 16384                         # Android 15+ devices with 16 KB pages
ZIP_TIME = (1981, 1, 1, 1, 1, 2)             # fixed: reproducible bytes
MAVEN_DEPENDENCY_PLUGIN = "3.8.1"
# The bundled runtime (the catalog's litert*), in the order D8 gets them.
RUNTIME_LIBRARIES = ("litert", "litert-api", "litert-gpu", "litert-gpu-api")


class BuildError(Exception):
    """A step failed: one line saying which and what to do."""


class MissingTool(BuildError):
    pass


def say(message: str) -> None:
    print(f"build_apk: {message}", file=sys.stderr, flush=True)


# ---- what the Gradle project declares ------------------------------------------------------------

@dataclass(frozen=True)
class Coordinate:
    group: str
    name: str
    version: str
    packaging: str = "jar"

    @property
    def gav(self) -> str:
        return f"{self.group}:{self.name}:{self.version}"

    @property
    def file_name(self) -> str:
        return f"{self.name}-{self.version}.{self.packaging}"


@dataclass(frozen=True)
class Project:
    package: str
    version_code: int
    version_name: str
    instrumentation: str
    activity: str
    compile_sdk: int
    min_sdk: int
    target_sdk: int
    java_version: int
    libraries: dict[str, Coordinate]


def read_catalog(path: Path | None = None) -> dict[str, Coordinate]:
    """gradle/libs.versions.toml's [libraries], resolved against [versions]."""
    catalog = tomllib.loads((path or APP_ROOT / "gradle" / "libs.versions.toml").read_text())
    versions = catalog["versions"]
    out = {}
    for alias, entry in catalog["libraries"].items():
        if isinstance(entry, str):
            group, name, version = entry.split(":")
        else:
            group, name = entry["module"].split(":") if "module" in entry else (entry["group"], entry["name"])
            version = entry["version"]
            if isinstance(version, dict):
                version = versions[version["ref"]]
        packaging = "aar" if alias.startswith("litert") else "jar"
        out[alias] = Coordinate(group, name, version, packaging)
    return out


def gradle_int(text: str, key: str, where: str) -> int:
    match = re.search(rf"^\s*{key}\s*=\s*(\d+)\s*$", text, re.MULTILINE)
    if not match:
        raise BuildError(f"{where} has no `{key} = <number>` line; the script build reads it from there")
    return int(match.group(1))


def read_project() -> Project:
    app = json.loads((APP_ROOT / "app.json").read_text())
    gradle = (APP_ROOT / "app" / "build.gradle.kts").read_text()
    where = "android_app/app/build.gradle.kts"
    java = re.search(r"sourceCompatibility\s*=\s*JavaVersion\.VERSION_(\d+)", gradle)
    return Project(
        package=app["package"], version_code=int(app["version_code"]), version_name=app["version_name"],
        instrumentation=app["instrumentation"], activity=app["activity"],
        compile_sdk=gradle_int(gradle, "compileSdk", where), min_sdk=gradle_int(gradle, "minSdk", where),
        target_sdk=gradle_int(gradle, "targetSdk", where), java_version=int(java.group(1)) if java else 17,
        libraries=read_catalog())


# ---- tools ---------------------------------------------------------------------------------------

DEBIAN_PACKAGES = {"aapt": "aapt", "apksigner": "apksigner", "dexdump": "dexdump", "javac": "openjdk-17-jdk-headless",
                   "java": "openjdk-17-jdk-headless", "mvn": "maven"}


def tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise MissingTool(f"`{name}` is not installed (apt-get install {DEBIAN_PACKAGES.get(name, name)}, "
                          "or run scripts/setup.sh --test)")
    return found


def run(argv: list[str], what: str, *, cwd: Path | None = None, timeout: float = 1800) -> str:
    try:
        done = subprocess.run([str(a) for a in argv], cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise BuildError(f"{what} did not finish within {timeout:g} s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + "\n" + done.stderr).strip().splitlines()[-25:])
        raise BuildError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout + done.stderr


# ---- Maven Central --------------------------------------------------------------------------------

def _pom(coordinates: list[Coordinate], transitive: bool) -> str:
    deps = []
    for c in coordinates:
        exclusions = "" if transitive else \
            "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>"
        deps.append(f"<dependency><groupId>{c.group}</groupId><artifactId>{c.name}</artifactId>"
                    f"<version>{c.version}</version><type>{c.packaging}</type>{exclusions}</dependency>")
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.mobilekit.build</groupId><artifactId>resolve</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>{''.join(deps)}</dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId><artifactId>maven-dependency-plugin</artifactId>
    <version>{MAVEN_DEPENDENCY_PLUGIN}</version>
  </plugin></plugins></build>
</project>
"""


def maven_copy(coordinates: list[Coordinate], dest: Path, *, transitive: bool = False) -> dict[str, Path]:
    """Copies the artifacts (from ~/.m2, else Maven Central) into ``dest``; returns file name -> path."""
    mvn = tool("mvn")
    dest.mkdir(parents=True, exist_ok=True)
    work = dest / ".maven"
    work.mkdir(exist_ok=True)
    pom = work / "pom.xml"
    pom.write_text(_pom(coordinates, transitive))
    wanted = [dest / c.file_name for c in coordinates]
    stamp = work / "done"
    if all(path.is_file() for path in wanted) and stamp.is_file() and stamp.read_text() == pom.read_text():
        return {p.name: p for p in dest.iterdir() if p.is_file()}
    say(f"resolving {len(coordinates)} artifact(s) from Maven Central (cached in ~/.m2 after the first time)")
    argv = [mvn, "-B", "-q", "-f", pom, f"org.apache.maven.plugins:maven-dependency-plugin:{MAVEN_DEPENDENCY_PLUGIN}"
            ":copy-dependencies", f"-DoutputDirectory={dest}", "-DoverWriteIfNewer=true"]
    if not transitive:
        argv.append("-DexcludeTransitive=true")
    run(argv, "mvn dependency:copy-dependencies (is Maven Central reachable?)")
    missing = [p.name for p in wanted if not p.is_file()]
    if missing:
        raise BuildError(f"Maven resolved but did not deliver {', '.join(missing)}")
    stamp.write_text(pom.read_text())
    return {p.name: p for p in dest.iterdir() if p.is_file()}


def resolve(project: Project) -> dict[str, Path]:
    libs = project.libraries
    wanted = [libs["android-all"], libs["r8"], *(libs[name] for name in RUNTIME_LIBRARIES)]
    files = maven_copy(wanted, BUILD / "deps")
    return {alias: files[libs[alias].file_name] for alias in ("android-all", "r8", *RUNTIME_LIBRARIES)}


# ---- build ---------------------------------------------------------------------------------------

def source_files() -> list[Path]:
    roots = [APP_ROOT / "app" / "src" / "main", APP_ROOT / "benchcore" / "src" / "main"]
    files = [p for root in roots for p in root.rglob("*") if p.is_file()]
    files += [APP_ROOT / "app.json", APP_ROOT / "gradle" / "libs.versions.toml", APP_ROOT / "app" / "build.gradle.kts",
              KEYSTORE, Path(__file__).resolve(), FRAMEWORK_RES]
    return sorted(files)


def inputs_digest() -> str:
    digest = hashlib.sha256()
    labelled = sorted((str(p.relative_to(REPO) if p.is_relative_to(REPO) else p), p) for p in source_files())
    for label, path in labelled:   # the same digest wherever the checkout is
        digest.update(label.encode())
        digest.update(b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest() if path.is_file() else b"missing")
    return digest.hexdigest()


def build_manifest(project: Project, out_dir: Path) -> Path:
    """The source manifest with package= added, as AGP does from namespace/applicationId."""
    text = (APP_ROOT / "app" / "src" / "main" / "AndroidManifest.xml").read_text()
    if re.search(r"<manifest\b[^>]*\bpackage=", text):
        raise BuildError("AndroidManifest.xml sets package=; the package lives in app.json only")
    text, count = re.subn(r"<manifest\b", f'<manifest package="{project.package}"', text, count=1)
    if count != 1:
        raise BuildError("AndroidManifest.xml has no <manifest> element")
    # Gradle's manifestPlaceholders, filled from the same catalog entry (app/build.gradle.kts)
    litert = project.libraries["litert"]
    text = text.replace("${runtimeArtifact}", f"{litert.group}:{litert.name}:{litert.version}")
    leftover = re.search(r"\$\{\w+\}", text)
    if leftover:
        raise BuildError(f"AndroidManifest.xml uses the placeholder {leftover.group()}, which build_apk.py does not fill")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "AndroidManifest.xml"   # aapt insists on the name
    path.write_text(text)
    return path


def link_resources(project: Project, work: Path) -> tuple[Path, Path]:
    """aapt package: binary manifest + resources.arsc into a base zip, and R.java."""
    aapt = tool("aapt")
    if not FRAMEWORK_RES.is_file():
        raise MissingTool(f"{FRAMEWORK_RES} is missing (apt-get install android-framework-res)")
    manifest = build_manifest(project, work / "manifest")
    gen = work / "gen"
    shutil.rmtree(gen, ignore_errors=True)
    gen.mkdir(parents=True)
    base = work / "resources.ap_"
    run([aapt, "package", "-f", "--no-crunch", "-M", manifest, "-S", APP_ROOT / "app" / "src" / "main" / "res",
         "-I", FRAMEWORK_RES, "-J", gen, "-F", base, "--min-sdk-version", project.min_sdk,
         "--target-sdk-version", project.target_sdk, "--version-code", project.version_code,
         "--version-name", project.version_name, "-0", "tflite"], "aapt package (manifest and resources)")
    return base, gen


def unpack_aars(deps: dict[str, Path], work: Path) -> tuple[list[Path], dict[str, list[tuple[str, Path]]]]:
    """classes.jar of every runtime AAR, and its native libraries per ABI."""
    jars, natives = [], {abi: [] for abi in ABIS}
    for alias in RUNTIME_LIBRARIES:
        target = work / "aar" / alias
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        with zipfile.ZipFile(deps[alias]) as aar:
            aar.extractall(target)
        jar = target / "classes.jar"
        if jar.is_file():
            jars.append(jar)
        for abi in ABIS:
            for so in sorted((target / "jni" / abi).glob("*.so")):
                natives[abi].append((so.name, so))
    for abi, libs in natives.items():
        if not libs:
            raise BuildError(f"the LiteRT AARs hold no native libraries for {abi}")
    return jars, natives


def java_sources() -> list[Path]:
    return sorted([*(APP_ROOT / "benchcore" / "src" / "main" / "java").rglob("*.java"),
                   *(APP_ROOT / "app" / "src" / "main" / "java").rglob("*.java")])


def compile_java(project: Project, deps: dict[str, Path], runtime_jars: list[Path], gen: Path, out: Path) -> None:
    javac = tool("javac")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    classpath = os.pathsep.join(str(p) for p in [deps["android-all"], *runtime_jars])
    sources = [*java_sources(), *sorted(gen.rglob("*.java"))]
    # -Xlint:all except "classfile": android-all's own class files name members of hidden-API
    # annotations (UnsupportedAppUsage.maxTargetSdk) that the jar strips; that is about the
    # framework jar, not about this code. Everything about the app's code is an error.
    run([javac, "--release", project.java_version, "-encoding", "UTF-8", "-proc:none",
         "-Xlint:all,-classfile", "-Werror", "-cp", classpath, "-d", out, *sources],
        "javac (the app against android-all and the LiteRT classes)")


def dex(project: Project, deps: dict[str, Path], classes: Path, runtime_jars: list[Path], out: Path) -> Path:
    java = tool("java")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    class_files = sorted(str(p) for p in classes.rglob("*.class"))
    run([java, "-cp", deps["r8"], "com.android.tools.r8.D8", "--release", "--min-api", project.min_sdk,
         "--lib", deps["android-all"], "--output", out, *class_files, *runtime_jars], "D8 (dexing)")
    produced = sorted(out.glob("classes*.dex"))
    if [p.name for p in produced] != ["classes.dex"]:
        raise BuildError(f"D8 wrote {[p.name for p in produced]}, expected one classes.dex")
    return produced[0]


def _local_header(name: bytes, method: int, crc: int, csize: int, usize: int, extra: bytes) -> bytes:
    dostime = (ZIP_TIME[3] << 11) | (ZIP_TIME[4] << 5) | (ZIP_TIME[5] // 2)
    dosdate = ((ZIP_TIME[0] - 1980) << 9) | (ZIP_TIME[1] << 5) | ZIP_TIME[2]
    return struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0x0800, method, dostime, dosdate, crc, csize, usize,
                       len(name), len(extra)) + name + extra


def write_apk(entries: list[tuple[str, bytes, bool, int]], path: Path) -> None:
    """Writes a zip from (name, data, stored, alignment) entries: a stored entry's data starts at a
    multiple of its alignment (padding in the local header's extra field, as zipalign does)."""
    dostime = (ZIP_TIME[3] << 11) | (ZIP_TIME[4] << 5) | (ZIP_TIME[5] // 2)
    dosdate = ((ZIP_TIME[0] - 1980) << 9) | (ZIP_TIME[1] << 5) | ZIP_TIME[2]
    central = bytearray()
    with open(path, "wb") as out:
        for name, data, stored, align in entries:
            raw_name = name.encode()
            crc = zlib.crc32(data) & 0xFFFFFFFF
            if stored:
                payload, method = data, 0
            else:
                compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
                payload, method = compressor.compress(data) + compressor.flush(), 8
            offset = out.tell()
            extra = b""
            if stored and align > 1:
                data_start = offset + 30 + len(raw_name)
                pad = (-data_start) % align
                if 0 < pad < 4:
                    pad += align  # room for the extra field's own 4-byte header
                if pad:
                    # 0xD935: the "Android ZIP alignment" extra field, as zipalign/apksigner write it.
                    extra = struct.pack("<HHH", 0xD935, pad - 4, align) + b"\0" * (pad - 6) if pad >= 6 \
                        else struct.pack("<HH", 0xFFFF, pad - 4) + b"\0" * (pad - 4)
            out.write(_local_header(raw_name, method, crc, len(payload), len(data), extra))
            out.write(payload)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0x0800, method, dostime, dosdate, crc,
                                   len(payload), len(data), len(raw_name), 0, 0, 0, 0, 0, offset) + raw_name
        cd_offset = out.tell()
        out.write(central)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(entries), len(entries), len(central), cd_offset, 0))


def assemble(base: Path, dex_file: Path, natives: dict[str, list[tuple[str, Path]]], path: Path) -> None:
    entries = []
    with zipfile.ZipFile(base) as linked:
        manifest = linked.read("AndroidManifest.xml")
        arsc = linked.read("resources.arsc")
        others = [(info.filename, linked.read(info)) for info in linked.infolist()
                  if info.filename not in ("AndroidManifest.xml", "resources.arsc")]
    entries.append(("AndroidManifest.xml", manifest, False, 1))
    # targetSdk 30+: resources.arsc must be stored and 4-byte aligned, or install fails.
    entries.append(("resources.arsc", arsc, True, 4))
    entries.append(("classes.dex", dex_file.read_bytes(), False, 1))
    for name, data in sorted(others):
        entries.append((name, data, name.endswith((".png", ".tflite")), 4))
    for abi in ABIS:
        for so_name, so in natives[abi]:
            entries.append((f"lib/{abi}/{so_name}", so.read_bytes(), True, NATIVE_ALIGN))
    write_apk(entries, path)


def sign(project: Project, unsigned: Path, signed: Path) -> None:
    apksigner = tool("apksigner")
    signed.unlink(missing_ok=True)
    run([apksigner, "sign", "--ks", KEYSTORE, "--ks-type", "PKCS12", "--ks-key-alias", KEY_ALIAS,
         "--ks-pass", f"pass:{KEY_PASS}", "--key-pass", f"pass:{KEY_PASS}", "--min-sdk-version", project.min_sdk,
         "--v1-signing-enabled", "false", "--v2-signing-enabled", "true", "--v3-signing-enabled", "true", "--v4-signing-enabled", "false",
         "--out", signed, unsigned], "apksigner sign")


def build(force: bool = False, output: Path = OUTPUT) -> dict:
    project = read_project()
    digest = inputs_digest()
    info_path = output.with_suffix(".json")
    if not force and output.is_file() and info_path.is_file():
        try:
            info = json.loads(info_path.read_text())
        except ValueError:
            info = {}
        if info.get("inputs_sha256") == digest and info.get("apk_sha256") == sha256(output):
            say(f"up to date: {output.relative_to(REPO) if output.is_relative_to(REPO) else output} "
                "(inputs unchanged; --force rebuilds)")
            return info
    started = time.monotonic()
    deps = resolve(project)
    work = BUILD / "work"
    work.mkdir(parents=True, exist_ok=True)
    say("aapt: linking the manifest and resources against framework-res.apk")
    base, gen = link_resources(project, work)
    runtime_jars, natives = unpack_aars(deps, work)
    say("javac -Xlint:all -Werror: benchcore + the Android layer against android-all and LiteRT")
    compile_java(project, deps, runtime_jars, gen, work / "classes")
    say("D8: classes.dex")
    dex_file = dex(project, deps, work / "classes", runtime_jars, work / "dex")
    unsigned = work / "unsigned.apk"
    assemble(base, dex_file, natives, unsigned)
    say("apksigner: signing with the repo's debug key")
    output.parent.mkdir(parents=True, exist_ok=True)
    staged = output.with_name(output.name + ".tmp")
    sign(project, unsigned, staged)
    report = verify(staged, project=project, deps=deps, app_classes=work / "classes")
    os.replace(staged, output)
    info = {"inputs_sha256": digest, "apk_sha256": sha256(output), "size_bytes": output.stat().st_size,
            "build_seconds": round(time.monotonic() - started, 1), "package": project.package,
            "version_code": project.version_code, "version_name": project.version_name,
            "min_sdk": project.min_sdk, "target_sdk": project.target_sdk, "compile_sdk": project.compile_sdk,
            "runtime": {alias: project.libraries[alias].gav for alias in RUNTIME_LIBRARIES},
            "android_all": project.libraries["android-all"].gav, "dexer": project.libraries["r8"].gav,
            "checks": report}
    tmp = info_path.with_name(info_path.name + ".tmp")
    tmp.write_text(json.dumps(info, indent=2) + "\n")
    os.replace(tmp, info_path)
    say(f"built {output.relative_to(REPO) if output.is_relative_to(REPO) else output}: "
        f"{info['size_bytes'] / 1e6:.1f} MB in {info['build_seconds']} s")
    for warning in report["warnings"]:
        say(f"warning: {warning}")
    return info


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---- verification --------------------------------------------------------------------------------

def zip_entries(path: Path) -> list[dict]:
    """Every entry with its compression and the offset its data starts at, from the local headers."""
    out = []
    with zipfile.ZipFile(path) as archive, open(path, "rb") as raw:
        for info in archive.infolist():
            raw.seek(info.header_offset)
            header = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            out.append({"name": info.filename, "stored": info.compress_type == zipfile.ZIP_STORED,
                        "data_offset": info.header_offset + 30 + name_len + extra_len, "size": info.file_size})
    return out


def elf_load_alignments(data: bytes) -> list[int]:
    """p_align of every PT_LOAD segment of an ELF file (32- or 64-bit, little-endian)."""
    if data[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    is64 = data[4] == 2
    if data[5] != 1:
        raise ValueError("not little-endian")
    if is64:
        phoff, = struct.unpack_from("<Q", data, 0x20)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    else:
        phoff, = struct.unpack_from("<I", data, 0x1C)
        phentsize, phnum = struct.unpack_from("<HH", data, 0x2A)
    aligns = []
    for i in range(phnum):
        at = phoff + i * phentsize
        p_type, = struct.unpack_from("<I", data, at)
        if p_type != 1:  # PT_LOAD
            continue
        aligns.append(struct.unpack_from("<Q", data, at + 48)[0] if is64 else struct.unpack_from("<I", data, at + 28)[0])
    return aligns


def badging(apk: Path) -> dict:
    text = run([tool("aapt"), "dump", "badging", apk], "aapt dump badging")
    out = {}
    match = re.search(r"^package: name='([^']+)' versionCode='(\d+)' versionName='([^']*)'", text, re.MULTILINE)
    if match:
        out.update(package=match.group(1), version_code=int(match.group(2)), version_name=match.group(3))
    for key, pattern in (("min_sdk", r"^sdkVersion:'(\d+)'"), ("target_sdk", r"^targetSdkVersion:'(\d+)'")):
        found = re.search(pattern, text, re.MULTILINE)
        out[key] = int(found.group(1)) if found else None
    found = re.search(r"^launchable-activity: name='([^']+)'", text, re.MULTILINE)
    out["launchable_activity"] = found.group(1) if found else None
    out["native_code"] = re.findall(r"'([^']+)'", (re.search(r"^native-code: (.*)$", text, re.MULTILINE) or
                                                   re.match("()", "")).group(1))
    out["instrumentations"] = instrumentations(apk)
    return out


def instrumentations(apk: Path) -> list[dict]:
    """<instrumentation> elements from `aapt dump xmltree` (badging does not list them)."""
    text = run([tool("aapt"), "dump", "xmltree", apk, "AndroidManifest.xml"], "aapt dump xmltree")
    found, current = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("E: "):
            current = {} if stripped.startswith("E: instrumentation") else None
            if current is not None:
                found.append(current)
        elif current is not None and stripped.startswith("A: android:"):
            match = re.match(r'A: android:(\w+)\(0x[0-9a-f]+\)=(?:"([^"]*)"|\(type [^)]*\)(\S+))', stripped)
            if match:
                current[match.group(1)] = match.group(2) if match.group(2) is not None else match.group(3)
    return found


def dex_classes(apk: Path) -> set[str]:
    """Class names (dotted) in classes.dex, as dexdump lists them."""
    with zipfile.ZipFile(apk) as archive, tempfile.TemporaryDirectory() as scratch:
        dex_path = Path(scratch) / "classes.dex"
        dex_path.write_bytes(archive.read("classes.dex"))
        text = run([tool("dexdump"), "-f", dex_path], "dexdump", timeout=600)
    names = re.findall(r"^\s*Class descriptor\s*:\s*'L([^;]+);'", text, re.MULTILINE)
    return {name.replace("/", ".") for name in names}


def _uleb(data: bytes, at: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[at]
        at += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, at
        shift += 7


def dex_references(data: bytes) -> tuple[set[str], list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(defined classes, referenced methods, referenced fields) of a dex file: members as
    (class descriptor, name, JVM descriptor)."""
    (string_size, string_off, type_size, type_off, proto_size, proto_off, field_size, field_off,
     method_size, method_off, class_size, class_off) = struct.unpack_from("<12I", data, 0x38)

    def string(i: int) -> str:
        off, = struct.unpack_from("<I", data, string_off + 4 * i)
        _, at = _uleb(data, off)
        end = data.index(b"\0", at)
        return data[at:end].decode("utf-8", "replace")   # MUTF-8; names here are ASCII

    types = [string(struct.unpack_from("<I", data, type_off + 4 * i)[0]) for i in range(type_size)]

    def proto(i: int) -> str:
        _shorty, return_idx, params_off = struct.unpack_from("<III", data, proto_off + 12 * i)
        params = ""
        if params_off:
            count, = struct.unpack_from("<I", data, params_off)
            params = "".join(types[struct.unpack_from("<H", data, params_off + 4 + 2 * k)[0]] for k in range(count))
        return f"({params}){types[return_idx]}"

    fields = []
    for i in range(field_size):
        class_idx, type_idx, name_idx = struct.unpack_from("<HHI", data, field_off + 8 * i)
        fields.append((types[class_idx], string(name_idx), types[type_idx]))
    methods = []
    for i in range(method_size):
        class_idx, proto_idx, name_idx = struct.unpack_from("<HHI", data, method_off + 8 * i)
        methods.append((types[class_idx], string(name_idx), proto(proto_idx)))
    defined = {types[struct.unpack_from("<I", data, class_off + 32 * i)[0]] for i in range(class_size)}
    return defined, methods, fields


class ClassPath:
    """Class files from jars: superclass, interfaces, fields and methods, for resolving references."""

    def __init__(self, jars: list[Path]):
        # a .jmod is a zip behind a 4-byte header with its classes under classes/
        self._archives = [(zipfile.ZipFile(j), "classes/" if str(j).endswith(".jmod") else "") for j in jars]
        self._cache: dict[str, dict | None] = {}

    def close(self):
        for archive, _ in self._archives:
            archive.close()

    def get(self, internal: str) -> dict | None:
        if internal not in self._cache:
            self._cache[internal] = None
            for archive, prefix in self._archives:
                try:
                    data = archive.read(prefix + internal + ".class")
                except KeyError:
                    continue
                self._cache[internal] = _parse_class(data)
                break
        return self._cache[internal]

    def has_member(self, internal: str, name: str, descriptor: str, kind: str, seen=None) -> bool:
        seen = seen if seen is not None else set()
        if internal in seen:
            return False
        seen.add(internal)
        info = self.get(internal)
        if info is None:
            return False
        members = info["methods"] if kind == "method" else info["fields"]
        if (name, descriptor) in members:
            return True
        if kind == "method" and internal.startswith("java/lang/invoke/") and (name, "([Ljava/lang/Object;)Ljava/lang/Object;") in members:
            return True  # signature-polymorphic MethodHandle.invoke*/VarHandle methods
        parents = ([info["super"]] if info["super"] else []) + info["interfaces"]
        return any(self.has_member(p, name, descriptor, kind, seen) for p in parents)


def _parse_class(data: bytes) -> dict:
    at = 10
    count, = struct.unpack_from(">H", data, 8)
    pool: list = [None] * count
    i = 1
    while i < count:
        tag = data[at]
        if tag == 1:
            length, = struct.unpack_from(">H", data, at + 1)
            pool[i] = data[at + 3:at + 3 + length].decode("utf-8", "replace")
            at += 3 + length
        elif tag in (7, 8, 16, 19, 20):
            pool[i] = ("ref", struct.unpack_from(">H", data, at + 1)[0])
            at += 3
        elif tag == 15:
            at += 4
        elif tag in (3, 4, 9, 10, 11, 12, 17, 18):
            at += 5
        elif tag in (5, 6):
            at += 9
            i += 1
        else:
            raise ValueError(f"bad constant pool tag {tag}")
        i += 1

    def class_name(index: int) -> str | None:
        if index == 0:
            return None
        return pool[pool[index][1]]

    _access, this_idx, super_idx, n_interfaces = struct.unpack_from(">HHHH", data, at)
    at += 8
    interfaces = [class_name(struct.unpack_from(">H", data, at + 2 * k)[0]) for k in range(n_interfaces)]
    at += 2 * n_interfaces
    tables = []
    for _ in range(2):
        n, = struct.unpack_from(">H", data, at)
        at += 2
        members = set()
        for _ in range(n):
            _flags, name_idx, desc_idx, attrs = struct.unpack_from(">HHHH", data, at)
            at += 8
            for _ in range(attrs):
                length, = struct.unpack_from(">I", data, at + 2)
                at += 6 + length
            members.add((pool[name_idx], pool[desc_idx]))
        tables.append(members)
    return {"name": class_name(this_idx), "super": class_name(super_idx), "interfaces": interfaces,
            "fields": tables[0], "methods": tables[1]}


def unresolved_references(dex_data: bytes, jars: list[Path]) -> list[str]:
    """Every method and field the dex references that neither the dex nor ``jars`` define."""
    defined, methods, fields = dex_references(dex_data)
    classpath = ClassPath(jars)
    try:
        problems = []
        for kind, refs in (("method", methods), ("field", fields)):
            for owner, name, descriptor in refs:
                if owner.startswith("["):
                    owner = "Ljava/lang/Object;"  # array methods (clone) are Object's
                if owner in defined:
                    # defined in the dex: D8 only emits references it could see; check the hierarchy
                    # through the library jars when the member is inherited from a library class.
                    continue
                internal = owner[1:-1]
                if not classpath.has_member(internal, name, descriptor, kind):
                    problems.append(f"{kind} {internal.replace('/', '.')}.{name}{descriptor}")
        return sorted(set(problems))
    finally:
        classpath.close()


# The JDK modules whose packages Android's core library (libcore) also has.
LIBCORE_MODULES = ("java.base", "java.logging", "java.sql")


def java_core() -> list[Path]:
    """The JDK's java.base (+ java.logging, java.sql): android-all leaves out Android's core library
    (java.*), which is not published on Maven Central, so java.* references are checked against
    the JDK's classes."""
    jdk = Path(os.path.realpath(tool("javac"))).parent.parent
    jmods = [jdk / "jmods" / f"{name}.jmod" for name in LIBCORE_MODULES]
    missing = [str(j) for j in jmods if not j.is_file()]
    if missing:
        raise MissingTool(f"{missing[0]} is missing (apt-get install openjdk-17-jdk-headless)")
    return jmods


def verify(apk: Path, *, project: Project | None = None, deps: dict[str, Path] | None = None,
           app_classes: Path | None = None) -> dict:
    """All checks on a built APK; raises BuildError naming every failure. Returns what it found."""
    project = project or read_project()
    deps = deps or resolve(project)
    failures, warnings = [], []
    try:
        signature = run([tool("apksigner"), "verify", "--verbose", "--min-sdk-version", project.min_sdk, apk],
                        "apksigner verify")
    except MissingTool:
        raise
    except BuildError as exc:
        signature = ""
        failures.append(" ".join(str(exc).split("\n")[1:3]) or str(exc))
    schemes = {int(v): flag == "true" for v, flag in re.findall(r"Verified using v(\d) scheme \(APK Signature Scheme v\d\): (\w+)", signature)}
    if not schemes.get(2):
        failures.append("apksigner: not verified with the v2 scheme")
    badge = badging(apk)
    expected = {"package": project.package, "version_code": project.version_code,
                "version_name": project.version_name, "min_sdk": project.min_sdk,
                "target_sdk": project.target_sdk, "launchable_activity": project.activity}
    for key, value in expected.items():
        if badge.get(key) != value:
            failures.append(f"aapt badging: {key} is {badge.get(key)!r}, expected {value!r}")
    def full(name: str) -> str:
        return project.package + name if name.startswith(".") else name

    instr = [i for i in badge["instrumentations"] if full(i.get("name", "")) == project.instrumentation]
    if not instr or instr[0].get("targetPackage") != project.package:
        failures.append(f"manifest: no <instrumentation> {project.instrumentation} targeting {project.package} "
                        f"(found {badge['instrumentations']})")
    if sorted(badge["native_code"]) != sorted(ABIS):
        failures.append(f"aapt badging: native-code {badge['native_code']}, expected {list(ABIS)}")
    # dexdump: every class of the app and of benchcore is in the dex
    classes = dex_classes(apk)
    expected_classes = set()
    for root in (APP_ROOT / "app" / "src" / "main" / "java", APP_ROOT / "benchcore" / "src" / "main" / "java"):
        for source in root.rglob("*.java"):
            expected_classes.add(".".join(source.relative_to(root).with_suffix("").parts))
    if app_classes is not None:
        expected_classes |= {".".join(p.relative_to(app_classes).with_suffix("").parts).replace("/", ".")
                             for p in app_classes.rglob("*.class")}
    missing = sorted(expected_classes - classes)
    if missing:
        failures.append(f"dexdump: classes missing from classes.dex: {', '.join(missing[:10])}")
    with zipfile.ZipFile(apk) as archive:
        dex_data = archive.read("classes.dex")
        natives = {name: archive.read(name) for name in archive.namelist() if name.endswith(".so")}
    runtime_jars = []
    with tempfile.TemporaryDirectory() as scratch:
        for alias in RUNTIME_LIBRARIES:
            with zipfile.ZipFile(deps[alias]) as aar:
                if "classes.jar" in aar.namelist():
                    jar = Path(scratch) / f"{alias}.jar"
                    jar.write_bytes(aar.read("classes.jar"))
                    runtime_jars.append(jar)
        unresolved = unresolved_references(dex_data, [deps["android-all"], *runtime_jars, *java_core()])
    if unresolved:
        failures.append(f"{len(unresolved)} dex reference(s) resolve neither in android-all nor in the bundled "
                        f"libraries: {'; '.join(unresolved[:8])}")
    # native libraries: stored, 16 KB-aligned in the zip; ELF segments aligned for 16 KB pages
    entries = {e["name"]: e for e in zip_entries(apk)}
    elf = {}
    for name, data in sorted(natives.items()):
        entry = entries[name]
        if not entry["stored"]:
            failures.append(f"{name} is compressed (must be stored for the loader to map it from the APK)")
        if entry["data_offset"] % NATIVE_ALIGN:
            failures.append(f"{name} starts at offset {entry['data_offset']}, not a multiple of {NATIVE_ALIGN}")
        elf[name] = min(elf_load_alignments(data))
    low = sorted(name for name, align in elf.items() if align < NATIVE_ALIGN)
    if low:
        warnings.append(f"{len(low)} native librar{'y' if len(low) == 1 else 'ies'} of the runtime have ELF "
                        f"PT_LOAD alignment below {NATIVE_ALIGN} (e.g. {low[0]}: {elf[low[0]]:#x}): phones with "
                        "16 KB pages (some Android 15+ devices) cannot load them; Maven Central serves no "
                        "LiteRT build linked for 16 KB pages")
    arsc = entries.get("resources.arsc")
    if arsc is None or not arsc["stored"] or arsc["data_offset"] % 4:
        failures.append("resources.arsc must be stored and 4-byte aligned (targetSdk 30+)")
    if failures:
        raise BuildError("the APK failed verification:\n  " + "\n  ".join(failures))
    return {"signature_schemes": sorted(v for v, ok in schemes.items() if ok), "badging": badge,
            "dex_classes": len(classes), "app_classes": len(expected_classes),
            "dex_references_checked": True, "native_libraries": {n: {"offset": entries[n]["data_offset"],
                                                                     "elf_load_align": elf[n]} for n in elf},
            "warnings": warnings}


# ---- Robolectric: the Android layer's JVM tests ----------------------------------------------------

ROBOLECTRIC_SUMMARY = re.compile(r"^(OK \((\d+) tests?\)|Tests run: (\d+),\s+Failures: (\d+))", re.MULTILINE)


def robolectric(transcripts: Path | None = None, tests: list[str] | None = None) -> int:
    """Compiles app/src/test against the app, android-all, LiteRT and Robolectric (all from Maven
    Central, then offline) and runs it with JUnit 4's runner: no Gradle. Robolectric reads the
    manifest and resources the APK build linked (com/android/tools/test_config.properties, as AGP
    writes it). Prints JUnit's summary and "N passed, N failed"; returns the number failed."""
    project = read_project()
    libs = project.libraries
    deps = resolve(project)
    work = BUILD / "robolectric"
    work.mkdir(parents=True, exist_ok=True)
    test_deps = maven_copy([libs["robolectric"], libs["junit"]], BUILD / "robolectric-deps", transitive=True)
    sdk_dir = BUILD / "robolectric-sdk"
    maven_copy([libs["android-all-instrumented"]], sdk_dir)
    jars = []
    for name, path in sorted(test_deps.items()):
        if name.endswith(".jar"):
            jars.append(path)
        elif name.endswith(".aar"):   # androidx.test's monitor and idling resources
            target = work / "aar" / name
            target.mkdir(parents=True, exist_ok=True)
            with zipfile.ZipFile(path) as aar:
                aar.extract("classes.jar", target)
            jars.append(target / "classes.jar")
    linked = work / "linked"
    base, gen = link_resources(project, linked)
    runtime_jars, _ = unpack_aars(deps, linked)
    app_classes = work / "app-classes"
    compile_java(project, deps, runtime_jars, gen, app_classes)
    test_sources = sorted((APP_ROOT / "app" / "src" / "test" / "java").rglob("*.java"))
    if not test_sources:
        raise BuildError("no Robolectric tests under android_app/app/src/test/java")
    test_classes = work / "test-classes"
    shutil.rmtree(test_classes, ignore_errors=True)
    test_classes.mkdir(parents=True)
    classpath = [app_classes, *runtime_jars, *jars, deps["android-all"]]
    run([tool("javac"), "--release", project.java_version, "-encoding", "UTF-8", "-proc:none",
         "-Xlint:all,-classfile", "-Werror", "-cp", os.pathsep.join(map(str, classpath)), "-d", test_classes,
         *test_sources], "javac (Robolectric tests)")
    config = test_classes / "com" / "android" / "tools" / "test_config.properties"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"android_merged_manifest={linked / 'manifest' / 'AndroidManifest.xml'}\n"
                      f"android_resource_apk={base}\nandroid_custom_package={project.package}\n")
    names = tests or sorted(".".join(p.relative_to(APP_ROOT / "app" / "src" / "test" / "java").with_suffix("").parts)
                            for p in test_sources if p.name.endswith("Test.java"))
    fixtures = REPO / "tests" / "fixtures" / "protocol"
    transcripts = transcripts or work / "transcripts"
    transcripts.mkdir(parents=True, exist_ok=True)
    litert = libs["litert"]
    argv = [tool("java"), "-Drobolectric.offline=true", f"-Drobolectric.dependency.dir={sdk_dir}",
            "-Drobolectric.logging.enabled=false", f"-Dmobilekit.fixtures={fixtures}",
            f"-Dmobilekit.transcripts={transcripts}", f"-Dmobilekit.runtimeArtifact={litert.gav}",
            "-cp", os.pathsep.join(map(str, [test_classes, *classpath])), "org.junit.runner.JUnitCore", *names]
    say(f"Robolectric: {len(names)} test classes (offline, SDK {project.compile_sdk})")
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1200)
    output = done.stdout + done.stderr
    print(output[-20000:] if done.returncode else done.stdout[-3000:])
    summary = ROBOLECTRIC_SUMMARY.search(output)
    if not summary:
        print("0 passed, 1 failed")
        return 1
    if summary.group(2):
        passed, failed = int(summary.group(2)), 0
    else:
        failed = int(summary.group(4))
        passed = int(summary.group(3)) - failed
    print(f"{passed} passed, {failed} failed")
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("command", nargs="?", default="build", choices=["build", "verify", "resolve", "compile", "robolectric"])
    parser.add_argument("--transcripts", type=Path, default=None,
                        help="robolectric: where the tests write `am instrument -r` transcripts")
    parser.add_argument("apk", nargs="?", help="verify: the APK to check (default: the bundled one)")
    parser.add_argument("--force", action="store_true", help="rebuild even when no input changed")
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"where the APK goes (default {OUTPUT})")
    args = parser.parse_args(argv)
    try:
        if args.command == "resolve":
            for alias, path in resolve(read_project()).items():
                print(f"{alias}\t{path}")
        elif args.command == "compile":
            project = read_project()
            deps = resolve(project)
            work = BUILD / "compile"
            _, gen = link_resources(project, work)
            runtime_jars, _ = unpack_aars(deps, work)
            compile_java(project, deps, runtime_jars, gen, work / "classes")
            print("app compiles (javac -Xlint:all -Werror against android-all and LiteRT)")
        elif args.command == "robolectric":
            return 1 if robolectric(args.transcripts) else 0
        elif args.command == "verify":
            report = verify(Path(args.apk) if args.apk else args.output)
            print(json.dumps(report, indent=2))
        else:
            build(force=args.force, output=args.output)
    except MissingTool as exc:
        say(str(exc))
        return 3
    except BuildError as exc:
        say(str(exc))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
