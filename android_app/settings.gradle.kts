// The companion app that measures models on phones for mobilekit: `app` (the Android layer) over
// `benchcore` (pure Java, tested without Android).
pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()
        mavenCentral()
    }
}

rootProject.name = "mobilekit-bench"
include(":app", ":benchcore")
