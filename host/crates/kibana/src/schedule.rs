//! Kibana's schedules: a Quartz cron expression per job type in the connector's `scheduling`
//! (`{full: {enabled, interval}, incremental: …, access_control: …}`), evaluated in UTC.

use std::str::FromStr as _;

use chrono::{DateTime, Utc};

use super::model::{ConnectorDoc, parse_time};
use inlet_policy::job::JobType;

/// The connector field where the last fire time of `kind` is recorded (the cross-process guard;
/// read back by [`ConnectorDoc::scheduled_at`]).
pub(crate) fn scheduled_at_field(kind: JobType) -> &'static str {
    match kind {
        JobType::Full => "last_sync_scheduled_at",
        JobType::Incremental => "last_incremental_sync_scheduled_at",
        JobType::AccessControl => "last_access_control_sync_scheduled_at",
    }
}

/// The enabled schedule of `kind`, if any.
pub(crate) fn interval(connector: &ConnectorDoc, kind: JobType) -> Option<&str> {
    let s = connector.schedule(kind)?;
    (s.enabled == Some(true))
        .then_some(s.interval.as_deref())
        .flatten()
        .filter(|i| !i.trim().is_empty())
}

/// Parses Elastic's Quartz format: `sec min hour day-of-month month day-of-week [year]`, `?` for
/// "no specific value", day-of-week 1 = Sunday. The `cron` crate reads that format as is.
pub(crate) fn parse(expression: &str) -> Result<cron::Schedule, String> {
    cron::Schedule::from_str(expression.trim()).map_err(|e| {
        format!("{expression:?} is not a Quartz cron expression ({e}); example: \"0 0 * * * ?\" (hourly)")
    })
}

/// The fire time in `(since, now]`, if one fell there: the schedule is due. Several missed fire
/// times still give one sync, like Elastic's service.
pub(crate) fn due(
    schedule: &cron::Schedule,
    since: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    // The latest fire time not after `now`: the one to record, so another process that woke
    // later sees it and does not fire again.
    let mut last = None;
    for t in schedule.after(&since) {
        if t > now {
            break;
        }
        last = Some(t);
    }
    last
}

/// Whether `recorded` (`last_*_scheduled_at`) already covers the fire time `at`.
pub(crate) fn already_scheduled(recorded: Option<&str>, at: DateTime<Utc>) -> bool {
    recorded.and_then(parse_time).is_some_and(|r| r >= at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;
    use serde_json::json;

    fn connector(v: serde_json::Value) -> ConnectorDoc {
        serde_json::from_value(v).expect("a connector document")
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 7, h, m, s)
            .single()
            .expect("valid time")
    }

    #[test]
    fn quartz_expressions_with_question_marks() {
        let hourly = parse("0 0 * * * ?").expect("hourly");
        assert_eq!(due(&hourly, at(9, 59, 0), at(10, 0, 0)), Some(at(10, 0, 0)));
        assert_eq!(
            due(&hourly, at(10, 0, 0), at(10, 59, 59)),
            None,
            "(since, now]"
        );
        let every_5s = parse("0/5 * * * * ?").expect("every 5 s");
        assert_eq!(
            due(&every_5s, at(10, 0, 1), at(10, 0, 12)),
            Some(at(10, 0, 10)),
            "missed fire times give one sync, at the latest"
        );
        // Quartz day-of-week: 6 = Friday; 2025-03-07 is a Friday.
        let fridays = parse("0 30 8 ? * 6").expect("fridays");
        assert_eq!(due(&fridays, at(8, 0, 0), at(9, 0, 0)), Some(at(8, 30, 0)));
        let mondays = parse("0 30 8 ? * MON").expect("mondays");
        assert_eq!(due(&mondays, at(8, 0, 0), at(9, 0, 0)), None);
        assert!(parse("every hour").is_err());
    }

    #[test]
    fn schedules_come_from_the_connector() {
        let doc = connector(json!({"scheduling": {
            "full": {"enabled": true, "interval": "0 0 0 * * ?"},
            "incremental": {"enabled": false, "interval": "0 * * * * ?"},
            "access_control": {"enabled": true, "interval": " "},
        }}));
        assert_eq!(interval(&doc, JobType::Full), Some("0 0 0 * * ?"));
        assert_eq!(interval(&doc, JobType::Incremental), None);
        assert_eq!(interval(&doc, JobType::AccessControl), None, "blank");
        assert_eq!(
            interval(&connector(json!({"scheduling": null})), JobType::Full),
            None
        );
    }

    #[test]
    fn recorded_fire_times_guard_against_double_scheduling() {
        assert!(already_scheduled(
            Some("2025-03-07T10:00:00+00:00"),
            at(10, 0, 0)
        ));
        assert!(already_scheduled(
            Some("2025-03-07T10:00:05Z"),
            at(10, 0, 0)
        ));
        assert!(!already_scheduled(
            Some("2025-03-07T09:00:00Z"),
            at(10, 0, 0)
        ));
        assert!(!already_scheduled(Some("not a time"), at(10, 0, 0)));
        assert!(!already_scheduled(None, at(10, 0, 0)));
    }

    /// What is written with [`scheduled_at_field`] is what [`ConnectorDoc::scheduled_at`] reads.
    #[test]
    fn the_guard_field_written_is_the_one_read() {
        for kind in JobType::ALL {
            let doc = connector(json!({ scheduled_at_field(kind): "2025-03-07T10:00:00Z" }));
            assert_eq!(
                doc.scheduled_at(kind),
                Some("2025-03-07T10:00:00Z"),
                "{kind}"
            );
            for other in JobType::ALL.into_iter().filter(|o| *o != kind) {
                assert_eq!(doc.scheduled_at(other), None, "{kind} / {other}");
            }
        }
    }
}
