// Writes the start-up arguments an Elasticsearch 8 server process reads from
// its standard input, in the server's own wire format, to standard output.
//
// Elasticsearch 8 no longer takes its settings on the command line: the
// distribution's CLI (bin/elasticsearch, the server-cli tool, which is not on
// Maven Central) prepares the environment and pipes a serialized ServerArgs
// into the server JVM. This does the same with the server's own classes, so
// the format can never drift from the jar it runs with. ./start compiles it
// once per assembly and feeds its output to the node's stdin.
//
//   java -cp 'HOME/lib/*:HOME/launcher' ServerArgsWriter HOME CONFIG_DIR [key=value ...]
//
// key=value pairs are node settings, like the CLI's -Ekey=value; they win
// over CONFIG_DIR/elasticsearch.yml.

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import org.elasticsearch.bootstrap.ServerArgs;
import org.elasticsearch.common.io.stream.OutputStreamStreamOutput;
import org.elasticsearch.common.settings.KeyStoreWrapper;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;

public final class ServerArgsWriter {
    public static void main(String[] argv) throws Exception {
        if (argv.length < 2) {
            System.err.println("usage: ServerArgsWriter HOME CONFIG_DIR [key=value ...]");
            System.exit(2);
        }
        Path home = Path.of(argv[0]).toAbsolutePath();
        Path config = Path.of(argv[1]).toAbsolutePath();
        Map<String, String> overrides = new HashMap<>();
        for (int i = 2; i < argv.length; i++) {
            int eq = argv[i].indexOf('=');
            if (eq <= 0) {
                System.err.println("not a key=value setting: " + argv[i]);
                System.exit(2);
            }
            overrides.put(argv[i].substring(0, eq), argv[i].substring(eq + 1));
        }
        // What the CLI's EnvironmentAwareCommand does: path.home, then
        // elasticsearch.yml, then the -E overrides, placeholders resolved.
        Settings input = Settings.builder().put("path.home", home.toString()).build();
        Environment env = InternalSettingsPreparer.prepareEnvironment(input, overrides, config, () -> "inlet-test-node");
        // An empty keystore, decrypted: the server reads its secure settings
        // from the arguments, not from disk (no password, nothing secret).
        KeyStoreWrapper secrets = KeyStoreWrapper.create();
        // daemonize=true: once ready, the server closes its standard streams
        // instead of watching stdin for the CLI's shutdown byte (stdin is a
        // file here, whose end would read as "the CLI died": exit 1).
        // quiet=true: log only to the file that log4j2.properties names.
        // No pid file: ./start records the pid it launched (the same process).
        ServerArgs args = new ServerArgs(true, true, null, secrets, env.settings(), env.configFile(), env.logsFile());
        try (OutputStreamStreamOutput out = new OutputStreamStreamOutput(System.out)) {
            args.writeTo(out);
        } catch (IOException e) {
            System.err.println("cannot write the server arguments: " + e);
            System.exit(1);
        }
    }
}
