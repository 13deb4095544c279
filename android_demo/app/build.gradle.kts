// The benchmark app: screens, the LiteRT helper, and the models copied in by `make android-assets`.
// Versions and SDK levels come from gradle/libs.versions.toml, which `make apk` reads too.
plugins {
    alias(libs.plugins.android.application)
}

android {
    namespace = "com.mobiface.bench"
    compileSdk = libs.versions.compileSdk.get().toInt()

    defaultConfig {
        applicationId = "com.mobiface.bench"
        minSdk = libs.versions.minSdk.get().toInt()
        targetSdk = libs.versions.targetSdk.get().toInt()
        versionCode = libs.versions.versionCode.get().toInt()
        versionName = libs.versions.versionName.get()
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        // Java 8, as `make apk` compiles it (javac --release 8 for Debian's dx).
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }

    testOptions {
        // The activities' JVM tests (src/test, Robolectric) read the app's resources and assets.
        unitTests.isIncludeAndroidResources = true
    }

    androidResources {
        // Models are memory-mapped straight from the APK, which needs them stored uncompressed.
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":core"))
    // LiteRT's Interpreter API (org.tensorflow.lite.*) with XNNPACK and NNAPI, and its GPU delegate.
    implementation(libs.tfliteRuntime)
    implementation(libs.tfliteGpu)
    implementation(libs.tfliteGpuApi)
    testImplementation(libs.robolectric)
    testImplementation(libs.junit)
    testImplementation(libs.hamcrestCore)
}
