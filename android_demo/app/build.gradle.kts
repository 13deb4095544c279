// The benchmark app: screens, the LiteRT helper, and the models copied in by `make android-assets`.
plugins {
    id("com.android.application")
}

android {
    namespace = "com.mobiface.bench"
    compileSdk = 36

    defaultConfig {
        applicationId = "com.mobiface.bench"
        minSdk = 24
        targetSdk = 36
        versionCode = 1
        versionName = "0.1.0"
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_11
        targetCompatibility = JavaVersion.VERSION_11
    }

    androidResources {
        // Models are memory-mapped straight from the APK, which needs them stored uncompressed.
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":core"))
    // LiteRT's Interpreter API (org.tensorflow.lite.*) with XNNPACK and NNAPI, and its GPU delegate.
    implementation("com.google.ai.edge.litert:litert:1.4.2")
    implementation("com.google.ai.edge.litert:litert-gpu:1.4.2")
    implementation("com.google.ai.edge.litert:litert-gpu-api:1.4.2")
}
