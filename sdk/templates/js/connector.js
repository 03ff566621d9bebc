// __NAME__: an Inlet connector.
import { defineConnector, fields, ConfigError } from "@inlet/sdk";

export default defineConnector({
  configuration: {
    greeting: fields.string("Greeting", { order: 1, default: "Hello" }),
    count: fields.integer("Number of documents", { order: 2, default: 3 }),
  },

  validateConfig(config) {
    if (config.count < 0) throw new ConfigError("count must not be negative");
  },

  *getDocs(config) {
    for (let i = 0; i < config.count; i++) yield { _id: `doc-${i}`, title: `${config.greeting} ${i}` };
  },
});
