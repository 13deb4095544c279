// MobiFace benchmark app: the Android app and its platform-free Java core.
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
        google()       // the Android Gradle Plugin and LiteRT (com.google.ai.edge.litert)
        mavenCentral() // JUnit for the core's tests
    }
}

rootProject.name = "mobiface-bench"
include(":app", ":core")
