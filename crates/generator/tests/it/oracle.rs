//! The SCD oracle on hand-built event lists and on generated streams (contract 3).

use generator::oracle::{self, HistoryRow, Oracle};
use generator::{Config, Customer, EventTime, Op, generate};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00.000Z

fn ev(id: u64, second: i64, op: Op, job: &str) -> Customer {
    Customer {
        id,
        name: format!("Customer {id}"),
        phone_number: "555-0100".into(),
        email: format!("c{id}@example.com"),
        address: "1 Main St\nSpringfield, IL 62701".into(),
        country: "United States".into(),
        job: job.into(),
        updated_at: EventTime::from_millis(T0 + second * 1000),
        op,
    }
}

fn t(second: i64) -> EventTime {
    EventTime::from_millis(T0 + second * 1000)
}

/// (id, valid_from second, valid_to second, is_current, is_deleted, job) per history row.
fn history(o: &Oracle) -> Vec<(u64, i64, Option<i64>, bool, bool, String)> {
    let s = |e: EventTime| (e.millis() - T0) / 1000;
    o.history
        .iter()
        .map(|h: &HistoryRow| {
            (
                h.record.id,
                s(h.valid_from),
                h.valid_to.map(s),
                h.is_current,
                h.is_deleted,
                h.record.job.clone(),
            )
        })
        .collect()
}

fn h(
    id: u64,
    from: i64,
    to: Option<i64>,
    cur: bool,
    del: bool,
    job: &str,
) -> (u64, i64, Option<i64>, bool, bool, String) {
    (id, from, to, cur, del, job.to_string())
}

#[test]
fn duplicates_change_nothing() {
    let a = ev(1, 1, Op::Insert, "clerk");
    let b = ev(1, 2, Op::Update, "manager");
    let once = oracle::compute(&[a.clone(), b.clone()]);
    let twice = oracle::compute(&[a.clone(), b.clone(), a, b.clone(), b]);
    assert_eq!(once, twice);
    assert_eq!(once.latest.len(), 1);
    assert_eq!(once.latest[0].record.job, "manager");
    assert_eq!(
        history(&once),
        vec![
            h(1, 1, Some(2), false, false, "clerk"),
            h(1, 2, None, true, false, "manager")
        ]
    );
}

#[test]
fn arrival_order_does_not_matter() {
    let i = ev(1, 1, Op::Insert, "clerk");
    let u1 = ev(1, 2, Op::Update, "analyst");
    let u2 = ev(1, 3, Op::Update, "manager");
    let in_order = oracle::compute(&[i.clone(), u1.clone(), u2.clone()]);
    // Several changes to one key in one batch, delivered newest first.
    let reversed = oracle::compute(&[u2.clone(), u1.clone(), i.clone()]);
    let shuffled = oracle::compute(&[u1, u2, i]);
    assert_eq!(in_order, reversed);
    assert_eq!(in_order, shuffled);
    assert_eq!(in_order.latest[0].record.updated_at, t(3));
    assert_eq!(
        history(&in_order),
        vec![
            h(1, 1, Some(2), false, false, "clerk"),
            h(1, 2, Some(3), false, false, "analyst"),
            h(1, 3, None, true, false, "manager"),
        ]
    );
}

#[test]
fn a_delete_leaves_a_tombstone_that_a_late_older_update_cannot_resurrect() {
    let events = [
        ev(1, 1, Op::Insert, "clerk"),
        ev(1, 3, Op::Delete, "clerk"),
        ev(1, 2, Op::Update, "manager"), // late: older than the delete
    ];
    let o = oracle::compute(&events);
    assert_eq!(o.latest.len(), 1);
    assert!(o.latest[0].is_deleted);
    assert_eq!(o.latest[0].record.op, Op::Delete);
    assert_eq!(o.latest[0].record.updated_at, t(3));
    // The late update is placed between the insert and the delete.
    assert_eq!(
        history(&o),
        vec![
            h(1, 1, Some(2), false, false, "clerk"),
            h(1, 2, Some(3), false, false, "manager"),
            h(1, 3, None, true, true, "clerk"),
        ]
    );
}

#[test]
fn a_newer_insert_after_a_delete_revives_the_row() {
    let events = [
        ev(1, 1, Op::Insert, "clerk"),
        ev(2, 1, Op::Insert, "nurse"),
        ev(1, 2, Op::Delete, "clerk"),
        ev(1, 5, Op::Insert, "pilot"),
    ];
    let o = oracle::compute(&events);
    let latest: Vec<(u64, bool, &str)> = o
        .latest
        .iter()
        .map(|l| (l.record.id, l.is_deleted, l.record.job.as_str()))
        .collect();
    assert_eq!(latest, vec![(1, false, "pilot"), (2, false, "nurse")]);
    assert_eq!(
        history(&o),
        vec![
            h(1, 1, Some(2), false, false, "clerk"),
            h(1, 2, Some(5), false, true, "clerk"),
            h(1, 5, None, true, false, "pilot"),
            h(2, 1, None, true, false, "nurse"),
        ]
    );
}

/// The total order of sql/README.md: at equal (id, updated_at) a delete wins, then the
/// greater column text (bytes), whatever the delivery order.
#[test]
fn on_equal_id_and_time_the_greater_version_wins_in_any_delivery_order() {
    let lower = ev(1, 1, Op::Insert, "clerk");
    let upper = ev(1, 1, Op::Insert, "CLERK");
    for events in [
        [lower.clone(), upper.clone()],
        [upper.clone(), lower.clone()],
    ] {
        let o = oracle::compute(&events);
        assert_eq!(o.history.len(), 1);
        assert_eq!(o.latest[0].record.job, "clerk");
    }
    let delete = ev(1, 1, Op::Delete, "CLERK");
    for events in [
        [lower.clone(), delete.clone()],
        [delete.clone(), lower.clone()],
    ] {
        assert!(oracle::compute(&events).latest[0].is_deleted);
    }
}

#[test]
fn ndjson_lines_follow_contract_3() {
    let o = oracle::compute(&[ev(2, 1, Op::Insert, "nurse"), ev(2, 2, Op::Delete, "nurse")]);
    let mut out = Vec::new();
    oracle::write_ndjson(&o, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        lines[0],
        serde_json::json!({"table":"latest","row":{
            "id":2,"name":"Customer 2","phone_number":"555-0100","email":"c2@example.com",
            "address":"1 Main St\nSpringfield, IL 62701","country":"United States","job":"nurse",
            "updated_at":"2026-01-01T00:00:02.000Z","op":"D","is_deleted":true}})
    );
    assert_eq!(lines[1]["table"], "history");
    assert_eq!(lines[1]["row"]["valid_from"], "2026-01-01T00:00:01.000Z");
    assert_eq!(lines[1]["row"]["valid_to"], "2026-01-01T00:00:02.000Z");
    assert_eq!(lines[1]["row"]["is_current"], false);
    assert_eq!(lines[2]["row"]["valid_to"], serde_json::Value::Null);
    assert_eq!(lines[2]["row"]["is_current"], true);
    assert_eq!(lines[2]["row"]["is_deleted"], true);
}

/// On a generated stream: the oracle does not depend on delivery order, and its latest row
/// per id is the last event of that id in event order.
#[test]
fn generated_streams_give_order_independent_results() {
    let delivered = generate(&Config {
        seed: 9,
        changes: 1500,
        ..Config::tricky()
    });
    let o = oracle::compute(&delivered);
    let mut reversed = delivered.clone();
    reversed.reverse();
    assert_eq!(o, oracle::compute(&reversed));
    let mut by_time = delivered.clone();
    by_time.sort_by_key(|r| r.updated_at);
    assert_eq!(o, oracle::compute(&by_time));

    let mut last = std::collections::BTreeMap::new();
    for r in &by_time {
        last.insert(r.id, r.clone());
    }
    let expected: Vec<(Customer, bool)> = last
        .into_values()
        .map(|r| {
            let d = r.op == Op::Delete;
            (r, d)
        })
        .collect();
    let got: Vec<(Customer, bool)> = o
        .latest
        .iter()
        .map(|l| (l.record.clone(), l.is_deleted))
        .collect();
    assert_eq!(got, expected);
    assert!(
        o.latest.iter().any(|l| l.is_deleted),
        "no tombstones in a tricky stream"
    );
    // Exactly one current history row per id, and it is the latest row.
    let current: Vec<&Customer> = o
        .history
        .iter()
        .filter(|h| h.is_current)
        .map(|h| &h.record)
        .collect();
    assert_eq!(
        current,
        o.latest.iter().map(|l| &l.record).collect::<Vec<_>>()
    );
}
