import groovy.json.JsonSlurper

plugins {
    alias(libs.plugins.android.application)
}

// app.json is the one place the package, instrumentation and version live; the Python side reads
// the same file to drive the app.
@Suppress("UNCHECKED_CAST")
val appInfo = JsonSlurper().parse(rootProject.file("app.json")) as Map<String, Any>

android {
    namespace = appInfo["package"] as String
    compileSdk = 35

    defaultConfig {
        applicationId = appInfo["package"] as String
        minSdk = 26
        targetSdk = 35
        versionCode = (appInfo["version_code"] as Number).toInt()
        versionName = appInfo["version_name"] as String
        // Recorded in every result beside TfLiteVersion() (scripts/build_apk.py fills it the same way).
        manifestPlaceholders["runtimeArtifact"] = libs.litert.get().let { "${it.module}:${it.versionConstraint.requiredVersion}" }
    }

    signingConfigs {
        // The repo's debug key, the one scripts/build_apk.py signs the bundled APK with: an APK from
        // Android Studio can replace the bundled one on a phone (`adb install -r`) and back.
        getByName("debug") {
            storeFile = rootProject.file("signing/mobilekit-debug.p12")
            storeType = "PKCS12"
            storePassword = "android"
            keyAlias = "mobilekit"
            keyPassword = "android"
        }
    }

    buildTypes {
        debug {
            signingConfig = signingConfigs.getByName("debug")
        }
        release {
            isMinifyEnabled = false
        }
    }

    testOptions {
        // Robolectric reads the merged manifest and resources (app/src/test, as in tests/test_robolectric.py).
        unitTests.isIncludeAndroidResources = true
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }

    // A compressed .tflite cannot be memory-mapped from the APK.
    androidResources {
        noCompress += "tflite"
    }
}

dependencies {
    implementation(project(":benchcore"))
    implementation(libs.litert)
    implementation(libs.litert.api)
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
    testImplementation(libs.junit)
    testImplementation(libs.robolectric)
}
