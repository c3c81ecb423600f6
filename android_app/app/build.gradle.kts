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
    }

    buildTypes {
        release {
            isMinifyEnabled = false
        }
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
    implementation(libs.litert.gpu)
    implementation(libs.litert.gpu.api)
}
