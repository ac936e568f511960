//! The change stream: determinism, the change mix, contract 2 and the realism knobs.

use std::collections::{BTreeMap, HashMap, HashSet};

use generator::{Config, Customer, EventTime, Format, Generator, Op, encode_batch, generate};

fn by_event_time(records: &[Customer]) -> Vec<Customer> {
    let mut v = records.to_vec();
    v.sort_by_key(|r| (r.updated_at, r.id));
    v.dedup();
    v
}

#[test]
fn same_seed_gives_the_same_bytes_in_every_format_and_another_seed_does_not() {
    let cfg = Config {
        seed: 7,
        initial_customers: 30,
        changes: 200,
        ..Config::tricky()
    };
    let a = generate(&cfg);
    let b = generate(&cfg);
    let other = generate(&Config {
        seed: 8,
        ..cfg.clone()
    });
    for format in Format::ALL {
        let (x, _) = encode_batch(&a, format);
        let (y, _) = encode_batch(&b, format);
        let (z, _) = encode_batch(&other, format);
        assert_eq!(x, y, "{format}: same seed, different bytes");
        assert_ne!(x, z, "{format}: seeds 7 and 8 gave the same bytes");
    }
}

#[test]
fn delivery_knobs_do_not_change_the_events_themselves() {
    let messy = Config {
        seed: 3,
        ..Config::default()
    };
    let clean = Config {
        seed: 3,
        duplicate_rate: 0.0,
        reorder_window: 0,
        late_rate: 0.0,
        ..Config::default()
    };
    let messy = generate(&messy);
    let clean = generate(&clean);
    assert_ne!(
        messy, clean,
        "the messy stream should be delivered differently"
    );
    assert_eq!(by_event_time(&messy), clean);
}

#[test]
fn the_change_mix_follows_the_weights() {
    for (i, u, d) in [(20, 70, 10), (50, 25, 25)] {
        let cfg = Config {
            seed: 11,
            initial_customers: 500,
            changes: 20_000,
            insert_weight: i,
            update_weight: u,
            delete_weight: d,
            burst_rate: 0.0,
            ..Config::clean()
        };
        let records = generate(&cfg);
        assert_eq!(records.len(), 20_500);
        assert!(records[..500].iter().all(|r| r.op == Op::Insert));
        let mut counts: HashMap<Op, u64> = HashMap::new();
        for r in &records[500..] {
            *counts.entry(r.op).or_default() += 1;
        }
        let total = (i + u + d) as f64;
        for (op, w) in [(Op::Insert, i), (Op::Update, u), (Op::Delete, d)] {
            let share = counts.get(&op).copied().unwrap_or(0) as f64 / 20_000.0;
            let want = w as f64 / total;
            assert!(
                (share - want).abs() < 0.02,
                "{op:?}: share {share:.3}, weight says {want:.3}"
            );
        }
    }
}

#[test]
fn a_clean_stream_is_in_order_exactly_once() {
    let records = generate(&Config {
        seed: 5,
        ..Config::clean()
    });
    assert_eq!(records.len(), 1100);
    assert!(
        records
            .windows(2)
            .all(|w| w[0].updated_at < w[1].updated_at)
    );
}

/// Contract 2 and the promised messiness, on a stream with all knobs turned up.
#[test]
fn tricky_stream_honours_contract_2_and_has_every_kind_of_mess() {
    let cfg = Config {
        seed: 42,
        changes: 2000,
        ..Config::tricky()
    };
    let delivered = generate(&cfg);

    // Equal (id, updated_at) means an exact duplicate.
    let mut versions: HashMap<(u64, EventTime), &Customer> = HashMap::new();
    let mut duplicates = 0;
    for r in &delivered {
        if let Some(prev) = versions.insert((r.id, r.updated_at), r) {
            assert_eq!(prev, r, "two different versions share (id, updated_at)");
            duplicates += 1;
        }
    }
    assert!(duplicates > 0, "no duplicate deliveries");
    assert_eq!(versions.len() as u64, cfg.total_events());

    // Event order per id: inserts/updates/deletes make sense and deletes carry the row.
    let events = by_event_time(&delivered);
    let mut last: HashMap<u64, &Customer> = HashMap::new();
    let (mut reinserts, mut fields_changed, mut updates) = (0, 0, 0);
    for e in &events {
        match (last.get(&e.id), e.op) {
            (None, op) => assert_eq!(op, Op::Insert, "first event of {} is not an insert", e.id),
            (Some(p), Op::Insert) => {
                assert_eq!(p.op, Op::Delete, "insert of live id {}", e.id);
                reinserts += 1;
            }
            (Some(p), op) => {
                assert_ne!(p.op, Op::Delete, "{op:?} of deleted id {}", e.id);
                let changed = changed_fields(p, e);
                if op == Op::Delete {
                    assert_eq!(
                        changed, 0,
                        "delete of {} does not carry the row as it was",
                        e.id
                    );
                } else {
                    assert!(changed > 0, "update of {} changes nothing", e.id);
                    fields_changed += changed;
                    updates += 1;
                }
            }
        }
        last.insert(e.id, e);
    }
    assert!(reinserts > 0, "no re-inserts after delete");
    let mean_changed = fields_changed as f64 / updates as f64;
    assert!(
        (1.0..3.0).contains(&mean_changed),
        "updates should change a few fields, not {mean_changed:.2} on average"
    );

    // Delivery order differs from event order.
    let out_of_order = delivered
        .windows(2)
        .filter(|w| w[1].updated_at < w[0].updated_at)
        .count();
    assert!(out_of_order > 0, "delivery order equals event order");

    // A late older version arrives after a newer delete of the same id.
    let mut newest_delete: HashMap<u64, EventTime> = HashMap::new();
    let mut late_after_delete = 0;
    for r in &delivered {
        if newest_delete.get(&r.id).is_some_and(|&t| r.updated_at < t) {
            late_after_delete += 1;
        }
        if r.op == Op::Delete {
            let t = newest_delete.entry(r.id).or_insert(r.updated_at);
            *t = (*t).max(r.updated_at);
        }
    }
    assert!(
        late_after_delete > 0,
        "no late older version after a delete"
    );

    // Several versions of one key inside one batch of 100.
    let batches_with_repeats = delivered
        .chunks(100)
        .filter(|b| {
            let mut seen: BTreeMap<u64, HashSet<EventTime>> = BTreeMap::new();
            b.iter().any(|r| {
                let s = seen.entry(r.id).or_default();
                s.insert(r.updated_at);
                s.len() > 1
            })
        })
        .count();
    assert!(
        batches_with_repeats > 0,
        "no batch has two versions of one key"
    );
}

fn changed_fields(a: &Customer, b: &Customer) -> usize {
    [
        a.name != b.name,
        a.phone_number != b.phone_number,
        a.email != b.email,
        a.address != b.address,
        a.country != b.country,
        a.job != b.job,
    ]
    .into_iter()
    .filter(|c| *c)
    .count()
}

#[test]
fn records_look_like_customers() {
    let records = generate(&Config {
        seed: 1,
        ..Config::clean()
    });
    assert!(
        records
            .iter()
            .all(|r| r.email.contains('@') && !r.name.is_empty())
    );
    assert!(
        records.iter().any(|r| r.address.contains('\n')),
        "no multi-line address"
    );
    assert!(
        records.iter().any(|r| !r.address.contains('\n')),
        "only multi-line addresses"
    );
    let countries: HashSet<&str> = records.iter().map(|r| r.country.as_str()).collect();
    assert!(countries.len() > 20);
    assert_eq!(
        records[0].updated_at.to_string().len(),
        "2026-01-01T00:00:00.000Z".len()
    );
}

#[test]
fn an_endless_generator_keeps_going_and_counts_what_it_made() {
    let mut g = Generator::new(Config {
        changes: u64::MAX,
        initial_customers: 10,
        ..Config::default()
    });
    let first: Vec<Customer> = g.by_ref().take(5000).collect();
    assert_eq!(first.len(), 5000);
    let s = g.stats();
    assert!(
        s.inserts >= 10 && s.updates > s.deletes && s.deletes > 0,
        "{s:?}"
    );
}

#[test]
fn bad_settings_are_explained() {
    let e = Config {
        late_rate: 1.5,
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("late rate"), "{e}");
    let e = Config {
        insert_weight: 0,
        update_weight: 0,
        delete_weight: 0,
        ..Config::default()
    }
    .validate()
    .unwrap_err();
    assert!(e.to_string().contains("weights"), "{e}");
    assert!(Config::default().validate().is_ok());
}
