#!/usr/bin/env python3
"""The Android build from the package registries alone (`make apk`), without Gradle or the SDK.

Every version and checksum comes from android_demo/gradle/libs.versions.toml, the file Gradle reads
too. Libraries come from Maven Central (through `mvn`), the dexer from Debian bullseye's
dalvik-exchange .deb (downloaded, not installed), aapt2 / zipalign / apksigner from Debian
bookworm. Downloads are cached under $MOBIFACE_WORK/android/cache.

  registry.py tools          install the pinned Debian tools that are missing (needs root)
  registry.py fetch ALIAS... download libraries of the catalog; prints one path per line
  registry.py build          build, align and sign the debug APK (prints its path last)
  registry.py test-app       run the activities' JVM tests with Robolectric on build's outputs

The build: aapt2 compiles and links the resources and manifest against android-all's framework
resources; javac compiles core + app (Java 8 bytecode) against android-all and LiteRT's
classes.jar; dx turns them and LiteRT into classes.dex; the APK gets LiteRT's JNI libraries of
every ABI the AARs carry and the assets of tools/sync-assets.sh stored uncompressed; zipalign, then
apksigner with a debug key made once under the cache. Errors end in one line and exit status 1.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

ANDROID_DIR = Path(__file__).resolve().parents[1]
ROOT = ANDROID_DIR.parent
CATALOG = ANDROID_DIR / "gradle" / "libs.versions.toml"
APP_ID = "com.mobiface.bench"
APK_NAME = "mobiface-bench-debug.apk"
# The LiteRT libraries the app compiles against and ships (classes and JNI libraries).
RUNTIME_LIBRARIES = ("tfliteRuntime", "tfliteApi", "tfliteGpu", "tfliteGpuApi")
# The activities' JVM tests: Robolectric with its dependencies, plus JUnit (which it leaves out).
APP_TEST_FRAMEWORK = "robolectric"
APP_TEST_LIBRARIES = ("junit", "hamcrestCore")
DEBUG_KEY_ALIAS = "androiddebugkey"
DEBUG_KEY_PASSWORD = "android"  # the Android SDK's conventional debug-key password; never a secret


class BuildError(Exception):
    """A failure the user can act on; main() prints it as one line."""


@dataclass(frozen=True)
class Library:
    """One Maven artifact of the catalog."""

    alias: str
    group: str
    artifact: str
    version: str
    extension: str
    sha256: str

    @property
    def coordinates(self) -> str:
        return f"{self.group}:{self.artifact}:{self.version}:{self.extension}"

    @property
    def file_name(self) -> str:
        return f"{self.artifact}-{self.version}.{self.extension}"


@dataclass(frozen=True)
class Catalog:
    """What the registry build reads from libs.versions.toml."""

    versions: dict
    libraries: dict
    metadata: dict

    def version(self, name: str) -> str:
        try:
            return str(self.versions[name])
        except KeyError:
            raise BuildError(f"{CATALOG}: no version \"{name}\" under [versions]") from None

    def library(self, alias: str) -> Library:
        entry = self.libraries.get(alias)
        if entry is None:
            raise BuildError(f"{CATALOG}: no library \"{alias}\" under [libraries]")
        group, artifact = entry["module"].split(":")
        version = self.version(entry["version"]["ref"]) if isinstance(entry.get("version"), dict) else entry["version"]
        extension = self.metadata.get("packaging", {}).get(alias)
        sha256 = self.metadata.get("sha256", {}).get(alias)
        if not extension or not sha256:
            raise BuildError(f"{CATALOG}: library \"{alias}\" needs [metadata.packaging] and [metadata.sha256] entries")
        return Library(alias, group, artifact, version, extension, sha256)


def load_catalog(path: Path = CATALOG) -> Catalog:
    """Reads the version catalog; a missing or malformed file is a BuildError."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise BuildError(f"cannot read {path}: {e}") from None
    return Catalog(data.get("versions", {}), data.get("libraries", {}), data.get("metadata", {}))


def work_dir() -> Path:
    return Path(os.environ.get("MOBIFACE_WORK", ROOT / "work")).resolve() / "android"


def log(message: str) -> None:
    """Progress on stderr, so that `fetch` prints only paths on stdout."""
    print(f"android: {message}", file=sys.stderr, flush=True)


def run(cmd: list, what: str, cwd: Path | None = None, quiet_lines: tuple = ()) -> str:
    """Runs a tool; on failure raises a BuildError with the tool's last meaningful lines."""
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise BuildError(f"{what}: {cmd[0]} not found (run `make android-tools`)") from None
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        lines = [l for l in output.splitlines() if l.strip() and not any(q in l for q in quiet_lines)]
        detail = " | ".join(lines[-6:]) if lines else f"exit status {proc.returncode}"
        raise BuildError(f"{what} failed: {detail}")
    return output


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ----------------------------------------------------------------------------------------------
# Tools


def missing_tools() -> list:
    """The Debian packages whose commands are missing, and JDK / Maven when they are."""
    wanted = {"aapt2": "aapt", "aapt": "aapt", "zipalign": "zipalign", "apksigner": "apksigner",
              "javac": "default-jdk-headless", "keytool": "default-jdk-headless", "mvn": "maven"}
    packages = []
    for command, package in wanted.items():
        if shutil.which(command) is None and package not in packages:
            packages.append(package)
    return packages


def install_tools(catalog: Catalog) -> None:
    """apt-get installs what is missing, at the catalog's versions; one line when it cannot."""
    packages = missing_tools()
    if not packages:
        return
    pinned = catalog.metadata.get("debian", {})
    specs = [f"{p}={pinned[p]}" if p in pinned else p for p in packages]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise BuildError(f"missing {', '.join(packages)}: run as root `apt-get install -y {' '.join(specs)}`")
    log(f"installing {' '.join(specs)} from Debian")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update", "-qq"],
                ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *specs]):
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            lines = [l for l in (proc.stdout + proc.stderr).splitlines() if l.strip()]
            raise BuildError(f"{' '.join(cmd[:2])} failed: {' | '.join(lines[-3:])}")
    still = missing_tools()
    if still:
        raise BuildError(f"still missing after apt-get: {', '.join(still)}")


# ----------------------------------------------------------------------------------------------
# Downloads


def fetch(catalog: Catalog, aliases: list) -> list:
    """Paths of the libraries' files in the cache, downloading the missing ones with one `mvn`."""
    libraries = [catalog.library(a) for a in aliases]
    cache = work_dir() / "cache" / "maven"
    missing = [lib for lib in libraries if not (cache / lib.file_name).is_file()]
    if missing:
        if shutil.which("mvn") is None:
            raise BuildError("mvn not found: install Maven (apt-get install -y maven) or run `make android-tools`")
        log("downloading " + ", ".join(lib.coordinates for lib in missing) + " from Maven Central")
        pom = cache / "fetch-pom.xml"
        cache.mkdir(parents=True, exist_ok=True)
        pom.write_text(_fetch_pom(catalog, missing))
        run(["mvn", "-B", "-q", "-C", "-f", pom, f"-Dmaven.repo.local={cache / 'repository'}",
             "dependency:copy-dependencies", f"-DoutputDirectory={cache}", "-DexcludeTransitive=true"],
            "mvn (Maven Central)")
    paths = []
    for lib in libraries:
        path = cache / lib.file_name
        if not path.is_file():
            raise BuildError(f"Maven did not deliver {lib.coordinates}")
        actual = sha256_of(path)
        if actual != lib.sha256:
            path.unlink()
            raise BuildError(f"{lib.coordinates}: SHA-256 {actual} differs from {lib.sha256} pinned in {CATALOG.name} (file removed)")
        paths.append(path)
    return paths


def classpath(catalog: Catalog, alias: str) -> list:
    """A library with all its dependencies (Maven resolves them from the pinned version's POMs).

    One checksum pins the whole set: [metadata.closure-sha256] holds the SHA-256 of the sorted
    lines "<file name> <file SHA-256>" of every jar, so no transitive file can change unnoticed.
    """
    lib = catalog.library(alias)
    cache = work_dir() / "cache" / "maven"
    listing = cache / f"{lib.artifact}-{lib.version}.classpath"
    if not listing.is_file():
        if shutil.which("mvn") is None:
            raise BuildError("mvn not found: install Maven (apt-get install -y maven) or run `make android-tools`")
        log(f"downloading {lib.coordinates} and its dependencies from Maven Central")
        cache.mkdir(parents=True, exist_ok=True)
        pom = cache / f"closure-{alias}-pom.xml"
        pom.write_text(_fetch_pom(catalog, [lib], transitive=True))
        run(["mvn", "-B", "-q", "-C", "-f", pom, f"-Dmaven.repo.local={cache / 'repository'}",
             "dependency:build-classpath", f"-Dmdep.outputFile={listing}", "-Dmdep.includeScope=runtime"],
            "mvn (Maven Central)")
    paths = [Path(p) for p in listing.read_text().strip().split(os.pathsep) if p]
    missing = [p for p in paths if not p.is_file()]
    if missing or not paths:
        listing.unlink()
        raise BuildError(f"{lib.coordinates}: the cached classpath lists missing files; run again to download")
    top = [p for p in paths if p.name == lib.file_name]
    if not top or sha256_of(top[0]) != lib.sha256:
        raise BuildError(f"{lib.coordinates}: the jar's SHA-256 differs from the one pinned in {CATALOG.name}")
    pinned = catalog.metadata.get("closure-sha256", {}).get(alias)
    actual = closure_digest(paths)
    if actual != pinned:
        raise BuildError(f"{lib.coordinates} with its dependencies: closure SHA-256 {actual} differs from "
                         f"[metadata.closure-sha256] {alias} = {pinned!r} in {CATALOG.name}")
    # The JVM reads no .aar: use the classes.jar inside (androidx.test's monitor, for one).
    return [unpack_aar(p) / "classes.jar" if p.suffix == ".aar" else p for p in paths]


def closure_digest(paths: list) -> str:
    lines = sorted(f"{p.name} {sha256_of(p)}" for p in paths)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def _fetch_pom(catalog: Catalog, libraries: list, transitive: bool = False) -> str:
    plugin = catalog.metadata.get("maven", {}).get("dependency-plugin", "3.6.1")
    exclusions = "" if transitive else (
        "<exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions>")
    deps = "\n".join(
        f"    <dependency><groupId>{l.group}</groupId><artifactId>{l.artifact}</artifactId>"
        f"<version>{l.version}</version><type>{l.extension}</type>{exclusions}</dependency>"
        for l in libraries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by android_demo/tools/registry.py to download pinned libraries; not a build. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.mobiface</groupId>
  <artifactId>registry-fetch</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>{plugin}</version>
      </plugin>
    </plugins>
  </build>
</project>
"""


def fetch_dx(catalog: Catalog) -> Path:
    """dx's jar from Debian's dalvik-exchange .deb (a private apt setup under the cache)."""
    spec = catalog.metadata.get("dalvik-exchange")
    if not spec:
        raise BuildError(f"{CATALOG}: no [metadata.dalvik-exchange]")
    cache = work_dir() / "cache" / "dalvik-exchange"
    jar = cache / spec["version"] / spec["jar"]
    if jar.is_file():
        return jar
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise BuildError(f"{tool} not found: the dexer comes from Debian's dalvik-exchange package")
    apt = cache / "apt"
    for sub in ("lists/partial", "archives/partial"):
        (apt / sub).mkdir(parents=True, exist_ok=True)
    sources = apt / "sources.list"
    sources.write_text(
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
        f"{spec['mirror']} {spec['suite']} main\n")
    options = ["-qq", "-o", f"Dir::Etc::SourceList={sources}", "-o", "Dir::Etc::SourceParts=/dev/null",
               "-o", f"Dir::State::Lists={apt / 'lists'}", "-o", f"Dir::Cache={apt}",
               "-o", "Dir::State::Status=/dev/null", "-o", "Debug::NoLocking=1",
               "-o", "Acquire::Languages=none"]
    if os.geteuid() == 0:
        options += ["-o", "APT::Sandbox::User=root"]  # the cache is root's: no _apt sandbox
    log(f"downloading dalvik-exchange {spec['version']} (dx) from Debian {spec['suite']}")
    run(["apt-get", *options, "update"], f"apt-get update ({spec['suite']} index)")
    run(["apt-get", *options, "download", f"dalvik-exchange={spec['version']}"], "apt-get download dalvik-exchange",
        cwd=apt)
    debs = sorted(apt.glob(f"dalvik-exchange_*{spec['version'].split(':')[-1]}*_all.deb"))
    if not debs:
        raise BuildError("apt-get download gave no dalvik-exchange .deb")
    actual = sha256_of(debs[0])
    if actual != spec["sha256"]:
        debs[0].unlink()
        raise BuildError(f"{debs[0].name}: SHA-256 {actual} differs from {spec['sha256']} pinned in {CATALOG.name}")
    run(["dpkg-deb", "-x", debs[0], cache / spec["version"]], "dpkg-deb -x dalvik-exchange")
    if not jar.is_file():
        raise BuildError(f"dalvik-exchange {spec['version']} has no {spec['jar']}")
    return jar


def unpack_aar(aar: Path) -> Path:
    """Extracts an AAR once next to the cache; returns the folder (classes.jar, jni/<abi>/...)."""
    target = aar.with_suffix("")
    stamp = target / ".unpacked"
    if not stamp.is_file():
        shutil.rmtree(target, ignore_errors=True)
        with zipfile.ZipFile(aar) as z:
            z.extractall(target)
        stamp.touch()
    return target


# ----------------------------------------------------------------------------------------------
# The build


def debug_keystore(cache: Path) -> Path:
    """A debug signing key made on this machine the first time (kept, so reinstalls update)."""
    keystore = cache / "debug.keystore"
    if not keystore.is_file():
        cache.mkdir(parents=True, exist_ok=True)
        run(["keytool", "-genkeypair", "-keystore", keystore, "-storepass", DEBUG_KEY_PASSWORD,
             "-alias", DEBUG_KEY_ALIAS, "-keypass", DEBUG_KEY_PASSWORD, "-keyalg", "RSA", "-keysize", "2048",
             "-validity", "10000", "-dname", "CN=Android Debug,O=Android,C=US"], "keytool (debug key)")
    return keystore


def java_sources(*dirs: Path) -> list:
    return sorted(str(p) for d in dirs for p in d.rglob("*.java"))


def build(catalog: Catalog) -> Path:
    """Builds work/android/<APK_NAME>; returns its path."""
    started = time.monotonic()
    install_tools(catalog)
    runtime = fetch(catalog, list(RUNTIME_LIBRARIES))
    android_all = fetch(catalog, ["androidAll"])[0]
    dx = fetch_dx(catalog)
    aars = [unpack_aar(p) for p in runtime]
    min_sdk, target_sdk = catalog.version("minSdk"), catalog.version("targetSdk")

    out = work_dir() / "build"
    shutil.rmtree(out, ignore_errors=True)
    for sub in ("gen", "classes", "assets"):
        (out / sub).mkdir(parents=True)
    app = ANDROID_DIR / "app" / "src" / "main"

    # Assets: the bundled model, `make export-tflite` outputs and sample crops (same script as
    # `make android-assets` for the Gradle build, into the build folder instead of the sources).
    env = dict(os.environ, ASSETS_DIR=str(out / "assets"))
    proc = subprocess.run([ANDROID_DIR / "tools" / "sync-assets.sh"], env=env, capture_output=True, text=True)
    for line in (proc.stdout + proc.stderr).splitlines():
        print(line.replace("android-assets:", "android: assets:"), file=sys.stderr, flush=True)
    if proc.returncode != 0:
        raise BuildError("assets could not be gathered (see the line above)")

    # Resources and manifest. Gradle writes the package and SDK levels into the manifest; here
    # aapt2 does (the source manifest names neither, so both builds share it).
    manifest = out / "AndroidManifest.xml"
    source_manifest = (app / "AndroidManifest.xml").read_text()
    if "<manifest " not in source_manifest or "package=" in source_manifest:
        raise BuildError(f"{app / 'AndroidManifest.xml'}: expected a <manifest> without package= (Gradle sets the namespace)")
    manifest.write_text(source_manifest.replace("<manifest ", f'<manifest package="{APP_ID}" ', 1))
    # aapt2 (Android 10) warns about chunk types newer than itself in android-all's resource
    # table and about <uses-native-library> (API 31), which it keeps; neither is an error.
    noise = ("unexpected chunk type", "Unknown chunk type", "uses-native-library")
    run(["aapt2", "compile", "--dir", app / "res", "-o", out / "res.zip"], "aapt2 compile")
    run(["aapt2", "link", "-o", out / "resources.apk", "-I", android_all, "--manifest", manifest,
         "--min-sdk-version", min_sdk, "--target-sdk-version", target_sdk,
         "--version-code", catalog.version("versionCode"), "--version-name", catalog.version("versionName"),
         "--debug-mode", "--warn-manifest-validation", "--java", out / "gen", out / "res.zip"],
        "aapt2 link", quiet_lines=noise)

    # Java: core + app + R, as Java 8 bytecode for dx.
    classpath = os.pathsep.join([str(android_all)] + [str(a / "classes.jar") for a in aars])
    sources = java_sources(ANDROID_DIR / "core" / "src" / "main" / "java", app / "java", out / "gen")
    warnings = run(["javac", "--release", "8", "-Xlint:all,-classfile,-options", "-encoding", "UTF-8",
                    "-cp", classpath, "-d", out / "classes", *sources], "javac (core + app)")
    if warnings.strip():
        print(warnings.rstrip(), file=sys.stderr, flush=True)
    dx_out = subprocess.run(
        ["java", "-jar", str(dx), "--dex", f"--min-sdk-version={min_sdk}", f"--output={out / 'classes.dex'}",
         str(out / "classes"), *[str(a / "classes.jar") for a in aars]],
        capture_output=True, text=True)
    if dx_out.returncode != 0:
        lambdas = sorted({l.split(" in ")[1].split(":")[0] for l in dx_out.stderr.splitlines()
                          if "invokedynamic requires" in l and " in " in l})
        if lambdas:
            raise BuildError("dx: lambdas or method references in " + ", ".join(lambdas)
                             + ": Debian's dx cannot desugar them; write an anonymous class instead")
        lines = [l for l in dx_out.stderr.splitlines() if l.strip()]
        raise BuildError("dx failed: " + " | ".join(lines[-4:]))

    # The APK: aapt2's resources + dex + JNI libraries (compressed; installed by extraction) +
    # assets stored uncompressed so the app can memory-map the models.
    unsigned = out / "unsigned.apk"
    shutil.copy(out / "resources.apk", unsigned)
    abis = set()
    with zipfile.ZipFile(unsigned, "a") as apk:
        apk.write(out / "classes.dex", "classes.dex", compress_type=zipfile.ZIP_DEFLATED)
        for aar in aars:
            for lib in sorted((aar / "jni").glob("*/*.so")):
                apk.write(lib, f"lib/{lib.parent.name}/{lib.name}", compress_type=zipfile.ZIP_DEFLATED)
                abis.add(lib.parent.name)
        for asset in sorted(p for p in (out / "assets").rglob("*") if p.is_file()):
            apk.write(asset, "assets/" + asset.relative_to(out / "assets").as_posix(), compress_type=zipfile.ZIP_STORED)

    aligned = out / "aligned.apk"
    run(["zipalign", "-f", "-p", "4", unsigned, aligned], "zipalign")
    keystore = debug_keystore(work_dir() / "cache")
    apk_path = work_dir() / APK_NAME
    run(["apksigner", "sign", "--ks", keystore, "--ks-pass", f"pass:{DEBUG_KEY_PASSWORD}",
         "--ks-key-alias", DEBUG_KEY_ALIAS, "--key-pass", f"pass:{DEBUG_KEY_PASSWORD}",
         "--min-sdk-version", min_sdk, "--out", apk_path, aligned], "apksigner sign")
    size_mb = apk_path.stat().st_size / 1e6
    log(f"{APP_ID} {catalog.version('versionName')} (minSdk {min_sdk}, targetSdk {target_sdk}, "
        f"LiteRT {catalog.version('litert')}, ABIs {', '.join(sorted(abis))}): {size_mb:.1f} MB "
        f"in {time.monotonic() - started:.0f} s")
    log(f"install: adb install -r {apk_path}")
    return apk_path


def test_app(catalog: Catalog) -> int:
    """Runs the activities' JVM tests (app/src/test) with Robolectric on `build`'s outputs.

    Robolectric reads the app's resources and assets from the built APK itself and its manifest
    from the build, through com/android/tools/test_config.properties (what the Android Gradle
    Plugin writes for `isIncludeAndroidResources`), and the framework from the android-all jar,
    offline.
    Returns JUnit's exit status after a closing line "app: N passed, N failed".
    """
    out = work_dir() / "build"
    apk = work_dir() / APK_NAME
    if not (out / "classes").is_dir() or not apk.is_file():
        raise BuildError(f"no build under {out}: run `make apk` first")
    android_all = fetch(catalog, ["androidAll"])[0]
    junit = fetch(catalog, list(APP_TEST_LIBRARIES))
    robolectric = classpath(catalog, APP_TEST_FRAMEWORK)
    runtime = [unpack_aar(p) / "classes.jar" for p in fetch(catalog, list(RUNTIME_LIBRARIES))]
    tests_dir = ANDROID_DIR / "app" / "src" / "test" / "java"
    sources = java_sources(tests_dir)
    if not sources:
        raise BuildError(f"no tests under {tests_dir}")

    test_out = work_dir() / "test-app"
    shutil.rmtree(test_out, ignore_errors=True)
    (test_out / "classes").mkdir(parents=True)
    config = test_out / "config" / "com" / "android" / "tools" / "test_config.properties"
    config.parent.mkdir(parents=True)
    config.write_text(
        f"android_merged_manifest={out / 'AndroidManifest.xml'}\n"
        f"android_merged_assets={out / 'assets'}\n"
        f"android_resource_apk={apk}\n"
        f"android_custom_package={APP_ID}\n")
    libraries = [str(p) for p in runtime + robolectric + junit]
    run(["javac", "--release", "17", "-encoding", "UTF-8", "-Xlint:all,-classfile,-options",
         "-cp", os.pathsep.join([str(out / "classes"), *libraries, str(android_all)]),
         "-d", test_out / "classes", *sources], "javac (app tests)")
    names = sorted(str(Path(s).relative_to(tests_dir).with_suffix("")).replace(os.sep, ".")
                   for s in sources if s.endswith("Test.java"))
    # JUnit needs android-all on the classpath to load the test classes (as Gradle's android.jar);
    # Robolectric loads its own copy into the sandbox from dependency.dir, offline, and
    # instruments it on the fly (no preinstrumented jar to download).
    # --add-opens: Robolectric's asset manager hands out file descriptors by reflection (openFd).
    cmd = ["java", "--add-opens=java.base/java.io=ALL-UNNAMED", "--add-opens=java.base/java.lang=ALL-UNNAMED",
           "-Drobolectric.offline=true", f"-Drobolectric.dependency.dir={android_all.parent}",
           "-Drobolectric.usePreinstrumentedJars=false", "-Drobolectric.logging.enabled=false",
           "-cp", os.pathsep.join([str(out / "classes"), str(test_out / "classes"), str(test_out / "config"),
                                   *libraries, str(android_all)]),
           "org.junit.runner.JUnitCore", *names]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    log_file = test_out / "junit.log"
    log_file.write_text(proc.stdout + proc.stderr)
    print(proc.stdout + proc.stderr, end="", flush=True)
    ok = re.search(r"^OK \((\d+) tests?\)", proc.stdout, re.M)
    failed = re.search(r"^Tests run: (\d+),\s+Failures: (\d+)", proc.stdout, re.M)
    if ok:
        print(f"app: {ok.group(1)} passed, 0 failed")
    elif failed:
        run_count, fail_count = int(failed.group(1)), int(failed.group(2))
        print(f"app: {run_count - fail_count} passed, {fail_count} failed")
    else:
        print(f"app: JUnit printed no summary (exit {proc.returncode}; see {log_file})", file=sys.stderr)
    return proc.returncode if proc.returncode else (0 if ok else 1)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("tools", help="install the pinned Debian tools that are missing")
    fetch_parser = sub.add_parser("fetch", help="download libraries of the catalog; prints their paths")
    fetch_parser.add_argument("aliases", nargs="+")
    sub.add_parser("build", help="build the signed debug APK")
    sub.add_parser("test-app", help="run the activities' JVM tests (Robolectric) on build's outputs")
    args = parser.parse_args(argv)
    try:
        catalog = load_catalog()
        if args.command == "tools":
            install_tools(catalog)
            fetch_dx(catalog)
        elif args.command == "fetch":
            for path in fetch(catalog, args.aliases):
                print(path)
        elif args.command == "test-app":
            return test_app(catalog)
        else:
            print(build(catalog))
    except BuildError as e:
        print(f"android: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("android: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
