"""The Android build: Gradle and the registry build agree on versions; the built APK is sound.

The APK tests inspect what `make apk` wrote ($MOBIFACE_WORK/android/mobiface-bench-debug.apk, or
$MOBIFACE_APK): they skip when it is missing, and fail instead with MOBIFACE_REQUIRE_APK=1, as
`make test` (and so CI) sets after building it.
"""

import importlib.util
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ANDROID = ROOT / "android_demo"
CATALOG = ANDROID / "gradle" / "libs.versions.toml"
MANIFEST = ANDROID / "app" / "src" / "main" / "AndroidManifest.xml"
ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
PACKAGE = "com.mobiface.bench"
REQUIRED_ABIS = ("arm64-v8a", "x86_64")
JNI_LIBRARIES = ("libtensorflowlite_jni.so", "libtensorflowlite_gpu_jni.so")


def _load_registry():
    spec = importlib.util.spec_from_file_location("registry", ANDROID / "tools" / "registry.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["registry"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


registry = _load_registry()


@pytest.fixture(scope="module")
def catalog():
    with open(CATALOG, "rb") as f:
        return tomllib.load(f)


def _kts(relpath):
    return (ANDROID / relpath).read_text()


# --- Gradle and the registry build take their versions from one catalog --------------------------


def test_registry_build_reads_the_catalog_gradle_reads():
    # gradle/libs.versions.toml is the catalog Gradle loads by itself as `libs`.
    assert registry.CATALOG == CATALOG == ANDROID / "gradle" / "libs.versions.toml"


@pytest.mark.parametrize("field", ["compileSdk", "minSdk", "targetSdk", "versionCode", "versionName"])
def test_app_gradle_takes_sdk_levels_and_app_version_from_the_catalog(catalog, field):
    text = _kts("app/build.gradle.kts")
    assert re.search(rf"\b{field} = libs\.versions\.{field}\.get\(\)", text), f"{field} is not read from the catalog"
    assert field in catalog["versions"]


def test_gradle_files_pin_nothing_themselves(catalog):
    files = ["build.gradle.kts", "settings.gradle.kts", "app/build.gradle.kts", "core/build.gradle.kts"]
    for name in files:
        text = _kts(name)
        # No "group:artifact:version" strings and no plugin `version "x"`: versions live in the catalog.
        assert not re.search(r'"[\w.-]+:[\w.-]+:[\w.+-]+"', text), f"{name} pins a dependency version"
        assert not re.search(r'\bversion\s+"', text), f"{name} pins a plugin version"
        for alias in re.findall(r"\blibs\.(?!versions\.|plugins\.)(\w+)\b", text):
            assert alias in catalog["libraries"], f"{name} uses libs.{alias}, not in the catalog"
        for alias in re.findall(r"\blibs\.plugins\.([\w.]+)\b", text):
            assert alias.replace(".", "-") in catalog["plugins"], f"{name} uses plugin {alias}"


def test_the_registry_build_ships_the_libraries_the_gradle_app_depends_on(catalog):
    gradle_app = set(re.findall(r"(?<!test)implementation\(libs\.(\w+)\)", _kts("app/build.gradle.kts")))
    # tensorflow-lite-api comes to Gradle through tensorflow-lite's POM; the registry build, which
    # takes no transitive dependencies, names it.
    assert set(registry.RUNTIME_LIBRARIES) == gradle_app | {"tfliteApi"}
    gradle_tests = set(re.findall(r"testImplementation\(libs\.(\w+)\)", _kts("core/build.gradle.kts")))
    fetched = re.search(r"registry\.py\" fetch ([\w ]+)\)", (ANDROID / "tools" / "test-core.sh").read_text())
    assert fetched and set(fetched.group(1).split()) == gradle_tests
    gradle_app_tests = set(re.findall(r"testImplementation\(libs\.(\w+)\)", _kts("app/build.gradle.kts")))
    assert gradle_app_tests == set(registry.APP_TEST_LIBRARIES) | {registry.APP_TEST_FRAMEWORK}
    versions = {catalog["libraries"][a]["version"]["ref"] for a in registry.RUNTIME_LIBRARIES}
    assert versions == {"litert"}, "every LiteRT piece of one release"


def test_every_library_is_pinned_by_checksum(catalog):
    for alias in catalog["libraries"]:
        assert catalog["metadata"]["packaging"][alias] in ("aar", "jar")
        assert re.fullmatch(r"[0-9a-f]{64}", catalog["metadata"]["sha256"][alias]), alias
    closure = catalog["metadata"]["closure-sha256"][registry.APP_TEST_FRAMEWORK]
    assert re.fullmatch(r"[0-9a-f]{64}", closure), "Robolectric's dependencies are pinned as one set"
    dx = catalog["metadata"]["dalvik-exchange"]
    assert re.fullmatch(r"[0-9a-f]{64}", dx["sha256"]) and dx["version"]
    assert set(catalog["metadata"]["debian"]) == {"aapt", "zipalign", "apksigner"}


def test_manifest_leaves_package_and_sdk_levels_to_the_builds():
    root = ET.parse(MANIFEST).getroot()
    assert "package" not in root.attrib
    assert root.find("uses-sdk") is None
    assert not any(k.endswith(("versionCode", "versionName")) for k in root.attrib)


def test_registry_tool_errors_are_one_line():
    proc = subprocess.run([sys.executable, str(ANDROID / "tools" / "registry.py"), "fetch", "no-such-library"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0
    assert 'no library "no-such-library"' in proc.stderr


def test_a_broken_catalog_is_reported_not_raised(tmp_path):
    bad = tmp_path / "libs.versions.toml"
    bad.write_text("[versions\n")
    with pytest.raises(registry.BuildError, match="cannot read"):
        registry.load_catalog(bad)


# --- The built APK ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def apk():
    default = Path(os.environ.get("MOBIFACE_WORK", ROOT / "work")) / "android" / registry.APK_NAME
    path = Path(os.environ.get("MOBIFACE_APK", default))
    if not path.is_file():
        message = f"no APK at {path}: `make apk` builds it"
        if os.environ.get("MOBIFACE_REQUIRE_APK") == "1":
            pytest.fail(message + " (MOBIFACE_REQUIRE_APK=1 turns this skip into a failure)")
        pytest.skip(message)
    return path


def _tool(name):
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found (make android-tools installs it)"
        if os.environ.get("MOBIFACE_REQUIRE_APK") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(*cmd):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=120)


def test_apk_signature_verifies(apk):
    proc = _run(_tool("apksigner"), "verify", "--verbose", apk)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Verified using v2 scheme (APK Signature Scheme v2): true" in proc.stdout


def test_apk_is_zipaligned(apk):
    proc = _run(_tool("zipalign"), "-c", "-p", "4", apk)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_badging_shows_package_sdk_levels_and_version(apk, catalog):
    proc = _run(_tool("aapt2"), "dump", "badging", apk)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    v = catalog["versions"]
    assert re.search(rf"package: name='{PACKAGE}' versionCode='{v['versionCode']}' versionName='{v['versionName']}'", out)
    assert f"compileSdkVersion='{v['compileSdk']}'" in out
    assert f"sdkVersion:'{v['minSdk']}'" in out
    assert f"targetSdkVersion:'{v['targetSdk']}'" in out
    assert f"launchable-activity: name='{PACKAGE}.MainActivity'" in out
    assert "application-debuggable" in out  # run-as, which the headless benchmark's pull uses


def dex_class_names(data):
    """Class names (a.b.C) defined in a .dex file, read from its header, string and type tables."""
    if data[:4] != b"dex\n":
        raise ValueError("not a dex file")
    string_ids_size, string_ids_off = struct.unpack_from("<II", data, 0x38)
    type_ids_off = struct.unpack_from("<I", data, 0x44)[0]
    class_defs_size, class_defs_off = struct.unpack_from("<II", data, 0x60)

    def string(index):
        offset = struct.unpack_from("<I", data, string_ids_off + 4 * index)[0]
        while data[offset] & 0x80:  # skip the ULEB128 UTF-16 length
            offset += 1
        end = data.index(b"\0", offset + 1)
        return data[offset + 1 : end].decode("utf-8", "replace")

    names = set()
    for i in range(class_defs_size):
        class_idx = struct.unpack_from("<I", data, class_defs_off + 32 * i)[0]
        descriptor = string(struct.unpack_from("<I", data, type_ids_off + 4 * class_idx)[0])
        names.add(descriptor[1:-1].replace("/", "."))
    assert string_ids_size > 0
    return names


def test_dex_defines_the_activities_the_runtime_and_the_core(apk):
    with zipfile.ZipFile(apk) as z:
        classes = set()
        for name in z.namelist():
            if re.fullmatch(r"classes\d*\.dex", name):
                classes |= dex_class_names(z.read(name))
    activities = {
        (n if not n.startswith(".") else PACKAGE + n)
        for n in (a.get(ANDROID_NS + "name") for a in ET.parse(MANIFEST).getroot().iter("activity"))
    }
    assert activities == {f"{PACKAGE}.MainActivity", f"{PACKAGE}.BenchmarkActivity", f"{PACKAGE}.VerifyActivity"}
    wanted = activities | {
        "org.tensorflow.lite.Interpreter",
        "org.tensorflow.lite.gpu.GpuDelegate",
        "org.tensorflow.lite.gpu.GpuDelegateFactory$Options",
        "org.tensorflow.lite.nnapi.NnApiDelegate",
        "com.mobiface.core.BenchmarkRequest",
        "com.mobiface.core.MtcnnDetector",
        "com.mobiface.core.FaceAlignment",
        f"{PACKAGE}.MtcnnLite",
        f"{PACKAGE}.FacePipeline",
        f"{PACKAGE}.R$layout",
    }
    assert not wanted - classes, f"missing from the dex: {sorted(wanted - classes)}"


def test_every_abi_has_its_jni_libraries(apk):
    with zipfile.ZipFile(apk) as z:
        libs = [n for n in z.namelist() if n.startswith("lib/")]
    abis = {n.split("/")[1] for n in libs}
    assert set(REQUIRED_ABIS) <= abis
    for abi in abis:
        for lib in JNI_LIBRARIES:
            assert f"lib/{abi}/{lib}" in libs, f"{abi} lacks {lib}"


def test_assets_are_stored_uncompressed_with_the_bundled_model(apk):
    bundled = ROOT / "mobiface_tf" / "assets"
    with zipfile.ZipFile(apk) as z:
        assets = {i.filename: i for i in z.infolist() if i.filename.startswith("assets/")}
        assert z.read("assets/mobiface.tflite") == (bundled / "mobiface.tflite").read_bytes()
        assert z.read("assets/mobiface.json") == (bundled / "mobiface.tflite.json").read_bytes()
        for net in ("pnet", "rnet", "onet"):  # the detector, in a folder the model catalog ignores
            detector = (bundled / "mtcnn" / f"{net}.tflite").read_bytes()
            assert z.read(f"assets/mtcnn/{net}.tflite") == detector, f"{net}.tflite differs from the package's"
    models = [n for n in assets if n.endswith(".tflite")]
    assert models
    for name in models:
        assert assets[name].compress_type == zipfile.ZIP_STORED, f"{name} is compressed: it cannot be memory-mapped"
        if not name.startswith("assets/mtcnn/"):
            assert name[: -len(".tflite")] + ".json" in assets, f"{name} has no metadata beside it"
    for name, info in assets.items():
        assert info.compress_type == zipfile.ZIP_STORED, name
    samples = [n for n in assets if n.startswith("assets/samples/") and n.endswith(".jpg")]
    photos = [n for n in assets if n.startswith("assets/photos/") and n.endswith(".jpg")]
    if os.environ.get("MOBIFACE_REQUIRE_DATA") == "1":  # CI: the shared LFW gives three crops and photos
        assert len(samples) == 3, samples
        assert len(photos) == 3, photos
