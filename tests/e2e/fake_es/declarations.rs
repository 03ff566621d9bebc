//! The `_connector` API of Elasticsearch as facts, endpoint by endpoint: which release has the
//! path (the `rest-api-spec/api/connector*.json` files of each release branch) and how the
//! request body is parsed (the request classes of `x-pack/plugin/ent-search/.../connector`,
//! `*Action.Request.PARSER`, as of 8.15). Each parser below names the Java parser it stands for.

use serde_json::Value;

use super::parse::{Field, Kind, Parser, Refusal, instant, nested, one_of};

pub type Release = (u32, u32);

/// The endpoints the fake serves, with the first release that has each (`rest-api-spec`:
/// 8.13 lists `connector.*` and `connector_sync_job.*`; 8.14 adds
/// `connector.update_active_filtering` and `connector.update_filtering_validation`; 8.15 adds
/// `connector.sync_job_claim` and `connector.update_features`). Paths older than 8.13 are listed
/// as 8.13: Inlet refuses older clusters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Info,
    Licence,
    ConnectorPut,
    ConnectorGet,
    ConnectorDelete,
    ConnectorCheckIn,
    ConnectorError,
    ConnectorConfiguration,
    ConnectorScheduling,
    ConnectorFiltering,
    ConnectorFilteringValidation,
    ConnectorFilteringActivate,
    ConnectorIndexName,
    ConnectorPipeline,
    ConnectorFeatures,
    SyncJobPost,
    SyncJobList,
    SyncJobGet,
    SyncJobCancel,
    SyncJobCheckIn,
    SyncJobError,
    SyncJobStats,
    SyncJobClaim,
    DocGet,
    DocUpdate,
    DocDelete,
    Bulk,
    IndexBulk,
    DeleteByQuery,
    Refresh,
    Count,
    Mapping,
    IndexExists,
    IndexCreate,
}

/// Whether a request must, may or must not carry a body. A handler that does not read the body
/// refuses one (`BaseRestHandler`: "request [...] does not support having a body"); one that
/// reads it refuses an empty one ("request body is required").
#[derive(Clone, Copy)]
pub enum Body {
    None,
    Required(&'static Parser),
    /// Parsed by the fake without a declared parser (document APIs, `_bulk`).
    Free,
}

pub struct Route {
    pub method: &'static str,
    /// `{x}` segments match anything; others match literally.
    pub path: &'static str,
    pub endpoint: Endpoint,
    pub since: Release,
    pub body: Body,
}

const fn route(
    method: &'static str,
    path: &'static str,
    endpoint: Endpoint,
    since: Release,
    body: Body,
) -> Route {
    Route {
        method,
        path,
        endpoint,
        since,
        body,
    }
}

use Endpoint as E;

pub static ROUTES: &[Route] = &[
    route("GET", "/", E::Info, (8, 0), Body::None),
    route("GET", "/_license", E::Licence, (8, 0), Body::None),
    route(
        "PUT",
        "/_connector/{id}",
        E::ConnectorPut,
        (8, 13),
        Body::Required(&PUT_CONNECTOR),
    ),
    route(
        "GET",
        "/_connector/{id}",
        E::ConnectorGet,
        (8, 13),
        Body::None,
    ),
    route(
        "DELETE",
        "/_connector/{id}",
        E::ConnectorDelete,
        (8, 13),
        Body::None,
    ),
    route(
        "PUT",
        "/_connector/{id}/_check_in",
        E::ConnectorCheckIn,
        (8, 13),
        Body::None,
    ),
    route(
        "PUT",
        "/_connector/{id}/_error",
        E::ConnectorError,
        (8, 13),
        Body::Required(&CONNECTOR_ERROR),
    ),
    route(
        "PUT",
        "/_connector/{id}/_configuration",
        E::ConnectorConfiguration,
        (8, 13),
        Body::Required(&CONNECTOR_CONFIGURATION),
    ),
    route(
        "PUT",
        "/_connector/{id}/_scheduling",
        E::ConnectorScheduling,
        (8, 13),
        Body::Required(&CONNECTOR_SCHEDULING),
    ),
    route(
        "PUT",
        "/_connector/{id}/_filtering",
        E::ConnectorFiltering,
        (8, 13),
        Body::Required(&CONNECTOR_FILTERING),
    ),
    route(
        "PUT",
        "/_connector/{id}/_filtering/_validation",
        E::ConnectorFilteringValidation,
        (8, 14),
        Body::Required(&FILTERING_VALIDATION_REQUEST),
    ),
    route(
        "PUT",
        "/_connector/{id}/_filtering/_activate",
        E::ConnectorFilteringActivate,
        (8, 14),
        Body::None,
    ),
    route(
        "PUT",
        "/_connector/{id}/_index_name",
        E::ConnectorIndexName,
        (8, 13),
        Body::Required(&CONNECTOR_INDEX_NAME),
    ),
    route(
        "PUT",
        "/_connector/{id}/_pipeline",
        E::ConnectorPipeline,
        (8, 13),
        Body::Required(&CONNECTOR_PIPELINE),
    ),
    route(
        "PUT",
        "/_connector/{id}/_features",
        E::ConnectorFeatures,
        (8, 15),
        Body::Required(&CONNECTOR_FEATURES),
    ),
    route(
        "POST",
        "/_connector/_sync_job",
        E::SyncJobPost,
        (8, 13),
        Body::Required(&SYNC_JOB_POST),
    ),
    route(
        "GET",
        "/_connector/_sync_job",
        E::SyncJobList,
        (8, 13),
        Body::None,
    ),
    route(
        "GET",
        "/_connector/_sync_job/{id}",
        E::SyncJobGet,
        (8, 13),
        Body::None,
    ),
    route(
        "PUT",
        "/_connector/_sync_job/{id}/_cancel",
        E::SyncJobCancel,
        (8, 13),
        Body::None,
    ),
    route(
        "PUT",
        "/_connector/_sync_job/{id}/_check_in",
        E::SyncJobCheckIn,
        (8, 13),
        Body::None,
    ),
    route(
        "PUT",
        "/_connector/_sync_job/{id}/_error",
        E::SyncJobError,
        (8, 13),
        Body::Required(&SYNC_JOB_ERROR),
    ),
    route(
        "PUT",
        "/_connector/_sync_job/{id}/_stats",
        E::SyncJobStats,
        (8, 13),
        Body::Required(&SYNC_JOB_STATS),
    ),
    route(
        "PUT",
        "/_connector/_sync_job/{id}/_claim",
        E::SyncJobClaim,
        (8, 15),
        Body::Required(&SYNC_JOB_CLAIM),
    ),
    route("GET", "/{index}/_doc/{id}", E::DocGet, (8, 0), Body::None),
    route(
        "DELETE",
        "/{index}/_doc/{id}",
        E::DocDelete,
        (8, 0),
        Body::None,
    ),
    route(
        "POST",
        "/{index}/_update/{id}",
        E::DocUpdate,
        (8, 0),
        Body::Required(&UPDATE_REQUEST),
    ),
    route("POST", "/_bulk", E::Bulk, (8, 0), Body::Free),
    route("PUT", "/_bulk", E::Bulk, (8, 0), Body::Free),
    route("POST", "/{index}/_bulk", E::IndexBulk, (8, 0), Body::Free),
    route("PUT", "/{index}/_bulk", E::IndexBulk, (8, 0), Body::Free),
    route(
        "POST",
        "/{index}/_delete_by_query",
        E::DeleteByQuery,
        (8, 0),
        Body::Free,
    ),
    route("POST", "/{index}/_refresh", E::Refresh, (8, 0), Body::None),
    route("GET", "/{index}/_refresh", E::Refresh, (8, 0), Body::None),
    route("GET", "/{index}/_count", E::Count, (8, 0), Body::Free),
    route("POST", "/{index}/_count", E::Count, (8, 0), Body::Free),
    route("PUT", "/{index}/_mapping", E::Mapping, (8, 0), Body::Free),
    route("POST", "/{index}/_mapping", E::Mapping, (8, 0), Body::Free),
    route("HEAD", "/{index}", E::IndexExists, (8, 0), Body::None),
    route("PUT", "/{index}", E::IndexCreate, (8, 0), Body::Free),
];

// ---- Connector statuses and enums -------------------------------------------------------------

/// `ConnectorStatus`.
pub const CONNECTOR_STATUSES: &[&str] = &[
    "created",
    "needs_configuration",
    "configured",
    "connected",
    "error",
];
/// `ConnectorSyncStatus`.
pub const SYNC_STATUSES: &[&str] = &[
    "canceling",
    "canceled",
    "completed",
    "error",
    "in_progress",
    "pending",
    "suspended",
];
/// `ConnectorSyncJobType`.
pub const JOB_TYPES: &[&str] = &["full", "incremental", "access_control"];
/// `ConnectorSyncJobTriggerMethod`.
pub const TRIGGER_METHODS: &[&str] = &["on_demand", "scheduled"];

/// `ConnectorSyncJobStateMachine`: the transitions the protocol allows; `_cancel` and `_error`
/// refuse others with `status_exception` "Invalid transition attempt from [a] to [b]. Such a
/// status transition is not supported by the Connector Protocol." (`_claim` and `_stats` do not
/// check the status.)
pub fn job_transition_allowed(from: &str, to: &str) -> bool {
    matches!(
        (from, to),
        ("pending", "in_progress" | "canceled")
            | (
                "in_progress",
                "canceling" | "completed" | "suspended" | "error"
            )
            | ("suspended", "in_progress" | "canceled")
            | ("canceling", "canceled" | "error")
    )
}

fn sync_status(v: &Value) -> Result<(), Refusal> {
    one_of(v, "ConnectorSyncStatus", SYNC_STATUSES)
}

fn connector_status(v: &Value) -> Result<(), Refusal> {
    one_of(v, "ConnectorStatus", CONNECTOR_STATUSES)
}

// ---- Request parsers (all strict: ignoreUnknownFields = false) --------------------------------

/// `ClaimConnectorSyncJobAction.Request` ("claim_connector_sync_job", 8.15):
/// `declareString(constructorArg(), worker_hostname)`,
/// `declareObject(optionalConstructorArg(), …, sync_cursor)` — an object, never `null`.
pub static SYNC_JOB_CLAIM: Parser = Parser {
    name: "claim_connector_sync_job",
    lenient: false,
    fields: &[
        Field::new("worker_hostname", Kind::Str).required(),
        Field::new("sync_cursor", Kind::Object),
    ],
};

/// `UpdateConnectorSyncJobIngestionStatsAction.Request`
/// ("connector_sync_job_update_ingestion_stats"): three required longs, an optional long,
/// `last_seen` (`OBJECT_OR_STRING`, an instant), and `metadata` (`declareObject`, from 8.15).
/// `validate()`: no count may be negative.
pub static SYNC_JOB_STATS: Parser = Parser {
    name: "connector_sync_job_update_ingestion_stats",
    lenient: false,
    fields: &[
        Field::new("deleted_document_count", Kind::Long).required(),
        Field::new("indexed_document_count", Kind::Long).required(),
        Field::new("indexed_document_volume", Kind::Long).required(),
        Field::new("total_document_count", Kind::Long),
        Field::new("last_seen", Kind::ObjectOrString).check(instant),
        Field::new("metadata", Kind::Object).since((8, 15)),
    ],
};

/// `UpdateConnectorSyncJobErrorAction.Request` ("connector_sync_job_error_request"):
/// `declareString(constructorArg(), error)`; `validate()`: not empty.
pub static SYNC_JOB_ERROR: Parser = Parser {
    name: "connector_sync_job_error_request",
    lenient: false,
    fields: &[Field::new("error", Kind::Str).required()],
};

/// `PostConnectorSyncJobAction.Request` ("connector_sync_job_post_request"): `id` required,
/// `job_type` and `trigger_method` optional strings parsed with `fromString`.
pub static SYNC_JOB_POST: Parser = Parser {
    name: "connector_sync_job_post_request",
    lenient: false,
    fields: &[
        Field::new("id", Kind::Str).required(),
        Field::new("job_type", Kind::Str).check(|v| one_of(v, "ConnectorSyncJobType", JOB_TYPES)),
        Field::new("trigger_method", Kind::Str)
            .check(|v| one_of(v, "ConnectorSyncJobTriggerMethod", TRIGGER_METHODS)),
    ],
};

/// `UpdateConnectorErrorAction.Request` ("connector_update_error_request"):
/// `declareStringOrNull(optionalConstructorArg(), error)`.
pub static CONNECTOR_ERROR: Parser = Parser {
    name: "connector_update_error_request",
    lenient: false,
    fields: &[Field::new("error", Kind::StrOrNull)],
};

/// `FilteringValidation` ("connector_filtering_validation", lenient): `ids` and `messages`,
/// required string arrays.
static FILTERING_VALIDATION: Parser = Parser {
    name: "connector_filtering_validation",
    lenient: true,
    fields: &[
        Field::new("ids", Kind::StrArray).required(),
        Field::new("messages", Kind::StrArray).required(),
    ],
};

/// `FilteringValidationInfo` ("filtering_validation_info", lenient): `errors` (object array)
/// and `state` (`edited`, `invalid`, `valid`), both required.
static FILTERING_VALIDATION_INFO: Parser = Parser {
    name: "filtering_validation_info",
    lenient: true,
    fields: &[
        Field::new("errors", Kind::ObjectArray)
            .required()
            .check(|v| nested(&FILTERING_VALIDATION, v)),
        Field::new("state", Kind::Str).required().check(|v| {
            one_of(
                v,
                "FilteringValidationState",
                &["edited", "invalid", "valid"],
            )
        }),
    ],
};

/// `UpdateConnectorFilteringValidationAction.Request` ("connector_update_filtering_validation",
/// 8.14): `declareObject(constructorArg(), FilteringValidationInfo::fromXContent, validation)`.
pub static FILTERING_VALIDATION_REQUEST: Parser = Parser {
    name: "connector_update_filtering_validation",
    lenient: false,
    fields: &[Field::new("validation", Kind::Object)
        .required()
        .check(|v| nested(&FILTERING_VALIDATION_INFO, v))],
};

/// `PutConnectorAction.Request` ("connector_put_request"): what Kibana sends to create one.
pub static PUT_CONNECTOR: Parser = Parser {
    name: "connector_put_request",
    lenient: false,
    fields: &[
        Field::new("description", Kind::StrOrNull),
        Field::new("index_name", Kind::StrOrNull),
        Field::new("is_native", Kind::Bool),
        Field::new("language", Kind::StrOrNull),
        Field::new("name", Kind::StrOrNull),
        Field::new("service_type", Kind::StrOrNull),
    ],
};

/// `UpdateConnectorConfigurationAction.Request` ("connector_update_configuration_request"):
/// the whole form (`configuration`, each field parsed as below) or only `values`.
pub static CONNECTOR_CONFIGURATION: Parser = Parser {
    name: "connector_update_configuration_request",
    lenient: false,
    fields: &[
        Field::new("configuration", Kind::Object).check(configuration),
        Field::new("values", Kind::Object),
    ],
};

/// `ConnectorScheduling` ("connector_scheduling"): each of `access_control`, `full`,
/// `incremental` is `{enabled, interval}`.
static SCHEDULE: Parser = Parser {
    name: "schedule_config",
    lenient: false,
    fields: &[
        Field::new("enabled", Kind::Bool).required(),
        Field::new("interval", Kind::Str).required(),
    ],
};

static SCHEDULING: Parser = Parser {
    name: "connector_scheduling",
    lenient: true,
    fields: &[
        Field::new("access_control", Kind::Object).check(|v| nested(&SCHEDULE, v)),
        Field::new("full", Kind::Object).check(|v| nested(&SCHEDULE, v)),
        Field::new("incremental", Kind::Object).check(|v| nested(&SCHEDULE, v)),
    ],
};

/// `UpdateConnectorSchedulingAction.Request` ("connector_update_scheduling_request").
pub static CONNECTOR_SCHEDULING: Parser = Parser {
    name: "connector_update_scheduling_request",
    lenient: false,
    fields: &[Field::new("scheduling", Kind::Object)
        .required()
        .check(|v| nested(&SCHEDULING, v))],
};

/// `UpdateConnectorFilteringAction.Request` ("connector_update_filtering_request"): the whole
/// `filtering`, or a draft's `rules` and/or `advanced_sync_rules`.
pub static CONNECTOR_FILTERING: Parser = Parser {
    name: "connector_update_filtering_request",
    lenient: false,
    fields: &[
        Field::new("filtering", Kind::ObjectArray),
        Field::new("rules", Kind::ObjectArray),
        Field::new("advanced_sync_rules", Kind::Object),
    ],
};

/// `UpdateConnectorIndexNameAction.Request` ("connector_update_index_name_request").
pub static CONNECTOR_INDEX_NAME: Parser = Parser {
    name: "connector_update_index_name_request",
    lenient: false,
    fields: &[Field::new("index_name", Kind::StrOrNull).required()],
};

/// `ConnectorIngestPipeline` ("connector_ingest_pipeline"): four required fields.
static PIPELINE: Parser = Parser {
    name: "connector_ingest_pipeline",
    lenient: true,
    fields: &[
        Field::new("extract_binary_content", Kind::Bool).required(),
        Field::new("name", Kind::Str).required(),
        Field::new("reduce_whitespace", Kind::Bool).required(),
        Field::new("run_ml_inference", Kind::Bool).required(),
    ],
};

/// `UpdateConnectorPipelineAction.Request` ("connector_update_pipeline_request").
pub static CONNECTOR_PIPELINE: Parser = Parser {
    name: "connector_update_pipeline_request",
    lenient: false,
    fields: &[Field::new("pipeline", Kind::Object)
        .required()
        .check(|v| nested(&PIPELINE, v))],
};

/// `ConnectorFeatures.FeatureEnabled`: `{enabled: boolean}`.
static FEATURE: Parser = Parser {
    name: "connector_feature",
    lenient: true,
    fields: &[Field::new("enabled", Kind::Bool).required()],
};

static SYNC_RULES_FEATURE: Parser = Parser {
    name: "sync_rules_features",
    lenient: true,
    fields: &[
        Field::new("advanced", Kind::Object).check(|v| nested(&FEATURE, v)),
        Field::new("basic", Kind::Object).check(|v| nested(&FEATURE, v)),
    ],
};

/// `ConnectorFeatures` ("connector_features").
static FEATURES: Parser = Parser {
    name: "connector_features",
    lenient: true,
    fields: &[
        Field::new("document_level_security", Kind::Object).check(|v| nested(&FEATURE, v)),
        Field::new("incremental_sync", Kind::Object).check(|v| nested(&FEATURE, v)),
        Field::new("native_connector_api_keys", Kind::Object).check(|v| nested(&FEATURE, v)),
        Field::new("sync_rules", Kind::Object).check(|v| nested(&SYNC_RULES_FEATURE, v)),
    ],
};

/// `UpdateConnectorFeaturesAction.Request` (8.15).
pub static CONNECTOR_FEATURES: Parser = Parser {
    name: "connector_update_features_request",
    lenient: false,
    fields: &[Field::new("features", Kind::Object)
        .required()
        .check(|v| nested(&FEATURES, v))],
};

/// `UpdateRequest`'s body parser ("UpdateRequest", `_update` of any document).
pub static UPDATE_REQUEST: Parser = Parser {
    name: "UpdateRequest",
    lenient: false,
    fields: &[
        Field::new("doc", Kind::Object),
        Field::new("upsert", Kind::Object),
        Field::new("doc_as_upsert", Kind::Bool),
        Field::new("scripted_upsert", Kind::Bool),
        Field::new("detect_noop", Kind::Bool),
        Field::new("script", Kind::ObjectOrString),
        Field::new("_source", Kind::Any),
    ],
};

// ---- The connector document, as `POST _connector/_sync_job` parses it -------------------------

/// `ConfigurationSelectOption` ("connector_configuration_select_option"): `label` and `value`,
/// both required strings (`declareString`): a number or boolean option value is refused.
static SELECT_OPTION: Parser = Parser {
    name: "connector_configuration_select_option",
    lenient: true,
    fields: &[
        Field::new("label", Kind::Str).required(),
        Field::new("value", Kind::Str).required(),
    ],
};

/// `ConfigurationDependency` ("connector_configuration_dependency"): `field` a string, `value`
/// (`VALUE`) a string, number, boolean or null — never a list or object.
static DEPENDENCY: Parser = Parser {
    name: "connector_configuration_dependency",
    lenient: true,
    fields: &[
        Field::new("field", Kind::Str).required(),
        Field::new("value", Kind::Scalar).required(),
    ],
};

/// `ConfigurationValidation` ("connector_configuration_validation"): `constraint` a string, a
/// number, or a list of strings and numbers; `type` one of `ConfigurationValidationType`.
static VALIDATION: Parser = Parser {
    name: "connector_configuration_validation",
    lenient: true,
    fields: &[
        Field::new("constraint", Kind::Any)
            .required()
            .check(constraint),
        Field::new("type", Kind::Str).required().check(|v| {
            one_of(
                v,
                "ConfigurationValidationType",
                &[
                    "less_than",
                    "greater_than",
                    "list_type",
                    "included_in",
                    "regex",
                ],
            )
        }),
    ],
};

fn constraint(v: &Value) -> Result<(), Refusal> {
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_));
    match v {
        v if scalar(v) => Ok(()),
        Value::Array(items) if items.iter().all(scalar) => Ok(()),
        other => Err(Refusal::parse(format!(
            "Unsupported token [{}]",
            super::parse::token(other)
        ))),
    }
}

/// `ConnectorConfiguration` ("connector_configuration", lenient): `label` required;
/// `default_value` (`VALUE`) a scalar or null; `value` a string, number, boolean, object or null
/// (`parseConfigurationValue` throws "Unsupported token [START_ARRAY]" for a list); `display` one
/// of `ConfigurationDisplayType` (8.15 has `text`, which Elastic's service writes, besides
/// `textbox`); `type` one of `ConfigurationFieldType`; `order` an int; `required`/`sensitive`
/// booleans.
static CONFIGURATION_FIELD: Parser = Parser {
    name: "connector_configuration",
    lenient: true,
    fields: &[
        Field::new("category", Kind::Str),
        Field::new("default_value", Kind::Scalar),
        Field::new("depends_on", Kind::ObjectArray).check(|v| nested(&DEPENDENCY, v)),
        Field::new("display", Kind::StrOrNull).check(|v| {
            one_of(
                v,
                "ConfigurationDisplayType",
                &[
                    "text", "textbox", "textarea", "numeric", "toggle", "dropdown",
                ],
            )
        }),
        Field::new("label", Kind::Str).required(),
        Field::new("options", Kind::ObjectArray).check(|v| nested(&SELECT_OPTION, v)),
        Field::new("order", Kind::Int),
        Field::new("placeholder", Kind::StrOrNull),
        Field::new("required", Kind::Bool),
        Field::new("sensitive", Kind::Bool),
        Field::new("tooltip", Kind::StrOrNull),
        Field::new("type", Kind::StrOrNull)
            .check(|v| one_of(v, "ConfigurationFieldType", &["str", "int", "list", "bool"])),
        Field::new("ui_restrictions", Kind::StrArray),
        Field::new("validations", Kind::ObjectArray).check(|v| nested(&VALIDATION, v)),
        Field::new("value", Kind::Any).check(|v| match v {
            Value::Array(_) => Err(Refusal::parse("Unsupported token [START_ARRAY]".into())),
            _ => Ok(()),
        }),
    ],
};

/// The connector's `configuration`: an object of configuration fields.
fn configuration(v: &Value) -> Result<(), Refusal> {
    for (key, field) in v.as_object().into_iter().flatten() {
        CONFIGURATION_FIELD
            .parse(field, (99, 0))
            .map_err(|e| Refusal {
                kind: "x_content_parse_exception",
                reason: format!(
                    "[connector_configuration] failed to parse configuration field [{key}]"
                ),
                cause: Some(format!("{}: {}", e.kind, e.reason)),
            })?;
    }
    Ok(())
}

/// `Connector` ("connector", lenient), the stored document `POST _connector/_sync_job` parses
/// (`Connector.fromXContentBytes`) to snapshot it into the job: what Inlet writes into the
/// document must parse here, or every sync of the connector fails. Fields Elastic's service
/// writes as `null` (`error`, `last_*`) accept `null`.
pub static CONNECTOR_DOC: Parser = Parser {
    name: "connector",
    lenient: true,
    fields: &[
        Field::new("api_key_id", Kind::StrOrNull),
        Field::new("api_key_secret_id", Kind::StrOrNull),
        Field::new("configuration", Kind::Object).check(configuration),
        Field::new("custom_scheduling", Kind::Object),
        Field::new("description", Kind::StrOrNull),
        Field::new("error", Kind::StrOrNull),
        Field::new("features", Kind::ObjectOrNull).check(|v| nested(&FEATURES, v)),
        Field::new("filtering", Kind::ObjectArray),
        Field::new("index_name", Kind::StrOrNull),
        Field::new("is_native", Kind::Bool),
        Field::new("language", Kind::StrOrNull),
        Field::new("last_access_control_sync_error", Kind::StrOrNull),
        Field::new("last_access_control_sync_scheduled_at", Kind::StrOrNull).check(instant),
        Field::new("last_access_control_sync_status", Kind::StrOrNull).check(sync_status),
        Field::new("last_deleted_document_count", Kind::LongOrNull),
        Field::new("last_incremental_sync_scheduled_at", Kind::StrOrNull).check(instant),
        Field::new("last_indexed_document_count", Kind::LongOrNull),
        Field::new("last_seen", Kind::StrOrNull).check(instant),
        Field::new("last_sync_error", Kind::StrOrNull),
        Field::new("last_sync_scheduled_at", Kind::StrOrNull).check(instant),
        Field::new("last_sync_status", Kind::StrOrNull).check(sync_status),
        Field::new("last_synced", Kind::StrOrNull).check(instant),
        Field::new("name", Kind::StrOrNull),
        Field::new("pipeline", Kind::ObjectOrNull).check(|v| nested(&PIPELINE, v)),
        Field::new("scheduling", Kind::Object).check(|v| nested(&SCHEDULING, v)),
        Field::new("service_type", Kind::StrOrNull),
        Field::new("status", Kind::Str).check(connector_status),
        Field::new("sync_cursor", Kind::ObjectOrNull),
        Field::new("sync_now", Kind::Bool),
    ],
};
