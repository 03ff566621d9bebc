// Stands in for the distribution's lib/tools/ansi-console jar, which is not
// on Maven Central but which the 8.x server insists on loading at boot
// (ConsoleLoader: a missing directory or class fails the start).
//
// The real loader wraps a terminal in an ANSI console and answers null when
// standard output is not a terminal ("Redirected"); the test node's output
// always goes to a file, so null, "no console", is the answer it would give.
// Written for Inlet's test node, not copied; it touches no server class, so
// it needs nothing from the server's module.
package org.elasticsearch.io.ansi;

import java.util.function.Supplier;

public class AnsiConsoleLoader implements Supplier<Object> {
    @Override
    public Object get() {
        return null;
    }
}
