//! End-to-end tests: the real `inlet` binary with real plugins built from source, against real
//! servers (OpenSearch, Elasticsearch, PostgreSQL, MariaDB, stand-in APIs) and in-process fault
//! injectors. One test binary, one module per area, so the host is linked once for all of them;
//! `cargo test -p inlet --test e2e <module>::` runs one area.

mod fake_es;
mod support;

mod aws;
mod azure;
mod brokers;
mod cache;
mod confluence;
mod containment;
mod databases;
mod dir;
mod github;
mod hostile_guest;
mod hot_reload;
mod jira;
mod json_lines;
mod kibana;
mod languages;
mod network;
mod new_project;
mod onedrive;
mod opensearch;
mod operations;
mod salesforce;
mod sandbox;
mod servicenow;
mod sharepoint;
mod signing;
mod sql_documents;
mod sync_rules;
