"""__NAME__: an Inlet connector."""
from inlet_sdk import Connector, ConfigError, fields as f


class MyConnector(Connector):
    @classmethod
    def configuration(cls):
        return {
            "greeting": f.string("Greeting", order=1, default="Hello"),
            "count": f.integer("Number of documents", order=2, default=3),
        }

    def validate_config(self, config):
        if config["count"] < 0:
            raise ConfigError("count must not be negative")

    def get_docs(self, config, advanced_rules=None):
        for i in range(config["count"]):
            yield {"_id": f"doc-{i}", "title": f"{config['greeting']} {i}"}
