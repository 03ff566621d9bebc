//! What the cluster is and which connector-API calls it has, from `GET /` and `GET /_license`.
//!
//! Facts from Elasticsearch's REST API specification (`rest-api-spec/api/connector*.json` of
//! each release branch): the sync-job API (`POST _connector/_sync_job`, `_stats`, `_error`,
//! `_cancel`) and `_check_in`/`_error` on connectors exist from 8.12/8.13;
//! `PUT _connector/{id}/_filtering/_validation` and `…/_filtering/_activate` from 8.14;
//! `PUT _connector/_sync_job/{id}/_claim` and the `metadata` field of `_stats` from 8.15. On an
//! older cluster those paths answer `400 no handler found`. Elastic's own service wrote the
//! system indices directly for those steps until 8.16 (`elasticsearch.feature_use_connectors_api`
//! defaulted to `false` through 8.15), so Inlet does the same on 8.13 and 8.14 instead of refusing
//! clusters that Kibana's connector clients support.
//!
//! Serverless answers `GET /` with `version.build_flavor: serverless` and a fixed version number
//! that says nothing about its API; like Elastic's service, Inlet skips the version check there,
//! assumes the current API and never calls `_refresh` (serverless refuses it).

use serde::Deserialize;

/// The oldest release Inlet serves Kibana on.
const MINIMUM: (u32, u32) = (8, 13);

/// `GET /`'s answer, the parts Inlet reads; [`Cluster::from_info`] says what they mean.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ClusterInfo {
    /// `version`.
    pub(crate) version: Option<VersionInfo>,
}

/// `GET /`'s `version` object.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct VersionInfo {
    /// `version.number`: `8.15.3`, `9.1.0-SNAPSHOT`.
    pub(crate) number: Option<String>,
    /// `version.distribution`: `opensearch` on OpenSearch (absent on Elasticsearch).
    pub(crate) distribution: Option<String>,
    /// `version.build_flavor`: `serverless` on Elasticsearch serverless, else `default`.
    pub(crate) build_flavor: Option<String>,
}

/// The cluster Inlet talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// `version.number` as the cluster reported it (`unknown` when it reported none); on
    /// serverless a fixed number that says nothing about the API.
    pub version: String,
    /// Major and minor of `version` (a part that is not a number reads as 0).
    pub(crate) release: (u32, u32),
    /// `version.build_flavor: serverless`: every call of the current API, and no `_refresh`.
    pub serverless: bool,
}

impl Cluster {
    /// A current stateful cluster (what tests and the defaults assume).
    pub(crate) fn current() -> Cluster {
        Cluster {
            version: "8.15.0".into(),
            release: (8, 15),
            serverless: false,
        }
    }

    /// Reads `GET /`'s answer; the error says why Inlet cannot serve Kibana on this cluster.
    pub fn from_info(info: &ClusterInfo, url: &str) -> Result<Cluster, String> {
        let v = info.version.clone().unwrap_or_default();
        let version = v.number.unwrap_or_else(|| "unknown".into());
        if v.distribution.as_deref() == Some("opensearch") {
            return Err(format!(
                "{url} is OpenSearch {version}, which has no connector API; set `inlet.protocol: standalone` to sync config.yml's connectors into it"
            ));
        }
        let serverless = v.build_flavor.as_deref() == Some("serverless");
        let release = parse_release(&version);
        if !serverless && release < MINIMUM {
            return Err(format!(
                "{url} runs Elasticsearch {version}; Kibana's connector protocol needs {}.{} or later (the `_connector` API); upgrade the cluster, or set `inlet.protocol: standalone` to sync config.yml's connectors into it",
                MINIMUM.0, MINIMUM.1
            ));
        }
        Ok(Cluster {
            version,
            release,
            serverless,
        })
    }

    fn at_least(&self, release: (u32, u32)) -> bool {
        self.serverless || self.release >= release
    }

    /// `PUT _connector/_sync_job/{id}/_claim` exists (8.15).
    pub(crate) fn has_claim_api(&self) -> bool {
        self.at_least((8, 15))
    }

    /// `PUT _connector/{id}/_filtering/_validation` and `…/_activate` exist (8.14).
    pub(crate) fn has_filtering_validation_api(&self) -> bool {
        self.at_least((8, 14))
    }

    /// `_stats` accepts `metadata` (8.15; before, the strict parser refuses the unknown field).
    pub(crate) fn takes_stats_metadata(&self) -> bool {
        self.at_least((8, 15))
    }

    /// `_refresh` may be called (not on serverless).
    pub(crate) fn refreshes(&self) -> bool {
        !self.serverless
    }

    /// How Inlet writes the steps older releases lack, one sentence each, for the log line at
    /// start (empty on 8.15 and later, and on serverless).
    pub fn fallbacks(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if !self.has_claim_api() {
            out.push("claims jobs with an update of the job document (no `_claim` before 8.15)");
        }
        if !self.has_filtering_validation_api() {
            out.push(
                "records sync-rule validation in the connector document (no `_filtering/_validation` before 8.14)",
            );
        }
        out
    }
}

fn parse_release(v: &str) -> (u32, u32) {
    let mut parts = v.split(['.', '-']).map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// `GET /_license`'s answer, the parts Inlet reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LicenceAnswer {
    /// `license`.
    pub(crate) license: Option<LicenceInfo>,
}

/// `GET /_license`'s `license` object.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LicenceInfo {
    /// `license.type`: `basic`, `gold`, `platinum`, `enterprise`, `trial`, …
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    /// `license.status`: `active`, `expired` or `invalid`.
    pub(crate) status: Option<String>,
}

/// The cluster's licence (`GET /_license`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Licence {
    /// `license.type`, lower case (`basic`, `gold`, `platinum`, `enterprise`, `trial`, …);
    /// `none` when the answer has none.
    pub(crate) kind: String,
    /// `license.status` is not `expired` (or `invalid`).
    pub(crate) active: bool,
}

impl Licence {
    /// Reads `GET /_license`'s answer; a missing licence is an active one of kind `none`, which
    /// allows nothing that needs a licence.
    pub(crate) fn from_answer(answer: &LicenceAnswer) -> Licence {
        let l = answer.license.clone().unwrap_or_default();
        let status = l.status.unwrap_or_default().to_ascii_lowercase();
        Licence {
            kind: l.kind.as_deref().unwrap_or("none").to_ascii_lowercase(),
            active: !matches!(status.as_str(), "expired" | "invalid"),
        }
    }

    /// Document-level security (access-control syncs) needs Platinum or better, as Elastic's
    /// service checks before scheduling and before running them (`es/license.py`: the order is
    /// basic < gold < platinum < enterprise < trial).
    pub(crate) fn allows_document_level_security(&self) -> bool {
        self.active && matches!(self.kind.as_str(), "platinum" | "enterprise" | "trial")
    }

    /// What Kibana shows when an access-control sync cannot run.
    pub(crate) fn refusal(&self) -> String {
        let actual = if self.active {
            format!("`{}`", self.kind)
        } else {
            format!("`{}` (expired)", self.kind)
        };
        format!(
            "access-control syncs (document-level security) need an Elasticsearch Platinum or Enterprise licence; the cluster has {actual}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn read<T: serde::de::DeserializeOwned>(v: Value) -> T {
        serde_json::from_value(v).expect("an answer")
    }

    fn info(number: &str, flavor: &str) -> ClusterInfo {
        read(json!({"version": {"number": number, "build_flavor": flavor}}))
    }

    #[test]
    fn releases_and_what_they_have() {
        let c = |v: &str| Cluster::from_info(&info(v, "default"), "http://es").expect(v);
        let c813 = c("8.13.4");
        assert!(!c813.has_claim_api() && !c813.has_filtering_validation_api());
        assert_eq!(c813.fallbacks().len(), 2);
        let c814 = c("8.14.3");
        assert!(!c814.has_claim_api() && c814.has_filtering_validation_api());
        assert!(!c814.takes_stats_metadata());
        let c815 = c("8.15.0");
        assert!(c815.has_claim_api() && c815.takes_stats_metadata() && c815.refreshes());
        assert!(c815.fallbacks().is_empty());
        assert!(c("9.1.0-SNAPSHOT").has_claim_api());
        let old = Cluster::from_info(&info("8.12.2", "default"), "http://es").unwrap_err();
        assert!(
            old.contains("8.12.2") && old.contains("8.13 or later"),
            "{old}"
        );
    }

    #[test]
    fn serverless_skips_the_version_check_and_refresh() {
        // Serverless reports a fixed, old-looking number.
        let s = Cluster::from_info(&info("8.11.0", "serverless"), "https://x").expect("serverless");
        assert!(s.serverless && s.has_claim_api() && s.has_filtering_validation_api());
        assert!(!s.refreshes());
    }

    #[test]
    fn opensearch_is_refused() {
        let os: ClusterInfo =
            read(json!({"version": {"number": "2.19.1", "distribution": "opensearch"}}));
        assert!(
            Cluster::from_info(&os, "http://os")
                .unwrap_err()
                .contains("standalone")
        );
    }

    #[test]
    fn licences() {
        let l = |t: &str, s: &str| {
            Licence::from_answer(&read(json!({"license": {"type": t, "status": s}})))
        };
        assert!(l("platinum", "active").allows_document_level_security());
        assert!(l("enterprise", "active").allows_document_level_security());
        assert!(l("trial", "active").allows_document_level_security());
        assert!(!l("basic", "active").allows_document_level_security());
        assert!(!l("gold", "active").allows_document_level_security());
        assert!(!l("platinum", "expired").allows_document_level_security());
        assert!(l("basic", "active").refusal().contains("`basic`"));
        assert!(!Licence::from_answer(&read(json!({}))).allows_document_level_security());
        // Elasticsearch's whole answer, with fields Inlet does not read.
        let full: LicenceAnswer = read(json!({"license": {
            "status": "active", "uid": "u", "type": "platinum", "issue_date_in_millis": 1,
            "max_nodes": 1000, "max_resource_units": null, "issued_to": "x", "issuer": "y",
        }}));
        assert!(Licence::from_answer(&full).allows_document_level_security());
    }
}
