//! Elastic's `mysql` connector for Inlet (MySQL and MariaDB): every row of the selected tables
//! of the connection's database as a document, incremental syncs by an updated-at column, and
//! Elastic's advanced rules.
//!
//! The database connection is the operator's (config.yml `databases:`); the plugin opens the
//! grant named by its `connection` field. Elastic's host/port/username/password fields are
//! kept so Kibana shows the familiar form, but Inlet never uses them to connect. Its SSL fields
//! are read by the host, not the plugin: `ssl_enabled` asks the SQL broker for verified TLS
//! (`ssl_ca`: the CA's PEM text) unless config.yml sets TLS for the database.

// The table sync is shared with the PostgreSQL plugin; one file, two components.
use inlet_sql_tables as tables;

use inlet_sdk::sql::Dialect;
use inlet_sdk::{
    Config, ConfigField, Connector, DocStream, Metadata, Result, RulesValidation, SyncRequest,
    field,
};
use tables::{Flavor, TableSync};

static FLAVOR: Flavor = Flavor {
    service_type: "mysql",
    dialect: Dialect::Mysql,
    has_schema: false,
    // Elastic's MySQL connector's DEFAULT_FETCH_SIZE.
    default_fetch_size: 5000,
};

const BROKERED: &str = "Informational in Inlet: the host connects with the credentials of the database grant named in `Connection` (config.yml `databases:`), never with this value.";
const SSL_ENABLED: &str = "Inlet: the host connects with TLS and verifies the server's certificate and host name (verify-full), unless config.yml sets `tls:` (or the URL's sslmode) for the database grant, which wins.";
const SSL_CA: &str = "Inlet: the PEM text of the CA certificate that signed the server's certificate, trusted by the host besides the system's roots.";

struct Mysql;

impl Connector for Mysql {
    fn metadata() -> Metadata {
        let mut m = Metadata::new("mysql", "MySQL", env!("CARGO_PKG_VERSION")).incremental();
        m.features.advanced_rules = true;
        m
    }

    fn configuration() -> Vec<ConfigField> {
        vec![
            field("host", "Host").optional().tooltip(BROKERED).order(1),
            field("port", "Port").int().optional().tooltip(BROKERED).order(2),
            field("user", "Username").optional().tooltip(BROKERED).order(3),
            field("password", "Password").sensitive().optional().tooltip(BROKERED).order(4),
            field("database", "Database")
                .optional()
                .tooltip("Checked against the database the connection opens; leave empty to use the connection's.")
                .order(5),
            field("tables", "Comma-separated list of tables")
                .list()
                .textarea()
                .default_value("\"*\"")
                .optional()
                .order(6),
            field("ssl_enabled", "Enable SSL")
                .toggle()
                .default_value("false")
                .optional()
                .tooltip(SSL_ENABLED)
                .order(7),
            field("ssl_ca", "SSL certificate")
                .depends_on("ssl_enabled", "true")
                .optional()
                .tooltip(SSL_CA)
                .order(8),
            field("fetch_size", "Rows fetched per request")
                .int()
                .default_value("5000")
                .optional()
                .advanced()
                .order(9),
            field("retry_count", "Retries per request")
                .int()
                .default_value("3")
                .optional()
                .advanced()
                .order(10),
            field("connection", "Connection")
                .default_value("\"mysql\"")
                .optional()
                .tooltip("Inlet: the name of the database grant to open (config.yml `databases:` and the connector's `grants.databases`).")
                .order(11),
            field("incremental_column", "Updated-at column")
                .default_value("\"updated_at\"")
                .optional()
                .advanced()
                .tooltip("Inlet: incremental syncs fetch rows whose value in this column grew since the last sync; it also gives each document its timestamp.")
                .order(12),
        ]
    }

    fn validate_config(config: &Config) -> Result<()> {
        tables::Settings::read(&FLAVOR, config).map(|_| ())
    }

    fn ping(config: &Config) -> Result<()> {
        tables::ping(&FLAVOR, config)
    }

    fn validate_advanced_rules(_config: &Config, rules: &str) -> Result<RulesValidation> {
        Ok(tables::validate_rules(rules))
    }

    fn full_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(TableSync::new(&FLAVOR, &request, false)?))
    }

    fn incremental_sync(request: SyncRequest) -> Result<Box<dyn DocStream>> {
        Ok(Box::new(TableSync::new(&FLAVOR, &request, true)?))
    }
}

inlet_sdk::export!(Mysql);
