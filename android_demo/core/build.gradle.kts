// Platform-free logic of the app (metadata, pixel normalization, statistics, result JSON): plain Java,
// no Android dependency, so its tests run with any JDK (`make test-java` runs them without Gradle).
plugins {
    `java-library`
}

tasks.withType<JavaCompile>().configureEach {
    // Java 8 APIs only: every Android version the app supports has them.
    options.release.set(8)
    options.compilerArgs.addAll(listOf("-Xlint:all", "-Xlint:-options"))
}

dependencies {
    testImplementation(libs.junit)
    testImplementation(libs.hamcrestCore)
}
