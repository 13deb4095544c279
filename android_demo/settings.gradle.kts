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
        mavenCentral() // LiteRT (org.tensorflow:tensorflow-lite*) and JUnit, as `make apk` uses them
        google()       // the Android Gradle Plugin's own dependencies
    }
}

rootProject.name = "mobiface-bench"
include(":app", ":core")
