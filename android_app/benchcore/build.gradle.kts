// Pure Java: no android.* here, so everything in it is unit-tested on a plain JVM.
plugins {
    `java-library`
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

dependencies {
    // Android ships org.json in the platform: compile against it, never package a second copy.
    compileOnly(libs.android.json)
    testImplementation(libs.junit)
    testImplementation(libs.android.json)
}

tasks.test {
    // The protocol fixtures shared with the Python package (tests/fixtures/protocol).
    systemProperty("mobilekit.fixtures", rootProject.file("../tests/fixtures/protocol").absolutePath)
}
