// Plugins are declared here once, with versions from gradle/libs.versions.toml, and applied per module.
plugins {
    alias(libs.plugins.android.application) apply false
}
