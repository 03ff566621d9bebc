//! How messages name a connector's configuration keys, and the one warning for a grant its
//! plugin does not ask for: shared by every part that checks a connector's grants (the
//! capability granter, the HTTP and SQL brokers).

use super::Connector;

/// How messages name a connector's keys: `connectors[i]`, its place in config.yml, or its id
/// when it is not there (Kibana created it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorKey(String);

impl ConnectorKey {
    /// `connector_ids` in config.yml's order.
    pub fn of(connector_ids: &[String], connector: &Connector) -> ConnectorKey {
        ConnectorKey(
            match connector_ids
                .iter()
                .position(|id| *id == connector.connector_id)
            {
                Some(i) => format!("connectors[{i}]"),
                None => format!("connectors[connector_id={}]", connector.connector_id),
            },
        )
    }

    /// The path of one of its keys, e.g. `connectors[0].grants.http`.
    pub fn at(&self, key: &str) -> String {
        format!("{}.{key}", self.0)
    }

    /// The connector's own key, e.g. `connectors[0]`, without a key below it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Says, once per instance built, that a grant does nothing because the plugin does not ask
/// for that kind of access (`declaration`: what its plugin.toml would need).
pub fn warn_undeclared(connector: &Connector, grant_key: &str, declaration: &str, effect: &str) {
    tracing::warn!(
        connector_id = %connector.connector_id,
        "{grant_key} is set, but plugin `{}` declares no {declaration}; {effect}",
        connector.service_type
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(id: &str) -> Connector {
        serde_yaml_ng::from_str(&format!("{{connector_id: {id}, service_type: dir}}"))
            .expect("connector")
    }

    #[test]
    fn keys_name_the_place_in_config_yml_or_the_id() {
        let ids = vec!["a".to_owned(), "b".to_owned()];
        assert_eq!(
            ConnectorKey::of(&ids, &connector("b")).at("grants.http"),
            "connectors[1].grants.http"
        );
        assert_eq!(
            ConnectorKey::of(&ids, &connector("kibana-made")).as_str(),
            "connectors[connector_id=kibana-made]"
        );
    }
}
