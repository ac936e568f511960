//! The change stream: an initial load, then inserts/updates/deletes in event-time order,
//! then the delivery messiness (reordering, late arrivals, duplicates) applied on the way out.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap, VecDeque};

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

use crate::GenError;
use crate::people;
use crate::record::{Customer, EventTime, Op};

/// What to generate. Every field is honoured deterministically: the same `Config` always
/// yields the same records in the same delivery order.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Seeds the ChaCha8 RNGs.
    pub seed: u64,
    /// Customers inserted first (ids `1..=initial_customers`).
    pub initial_customers: u64,
    /// Change events after the initial load; `u64::MAX` for an endless stream.
    pub changes: u64,
    /// Relative weights of inserts, updates and deletes among the changes.
    pub insert_weight: u32,
    pub update_weight: u32,
    pub delete_weight: u32,
    /// Fraction of events delivered twice (an exact duplicate, soon after the original).
    pub duplicate_rate: f64,
    /// Each event may be delivered up to this many positions after its event-time position,
    /// so delivery order differs from event order within that window (0: in order).
    pub reorder_window: u64,
    /// Fraction of events delivered late, `late_by..2*late_by` positions after their turn.
    pub late_rate: f64,
    pub late_by: u64,
    /// Chance that a change is followed by 1-3 more changes to the same customer within a
    /// few milliseconds (so several versions of one key share a request or batch).
    pub burst_rate: f64,
    /// Chance that an insert brings back a deleted customer id instead of a new one.
    pub reinsert_rate: f64,
    /// Event time of the first event.
    pub start: EventTime,
    /// Mean milliseconds between consecutive events (at least 1).
    pub mean_gap_ms: u64,
}

impl Default for Config {
    /// Demo values: 100 customers, 1000 changes (20% inserts, 70% updates, 10% deletes), a
    /// little of every kind of messiness.
    fn default() -> Self {
        Config {
            seed: 42,
            initial_customers: 100,
            changes: 1000,
            insert_weight: 20,
            update_weight: 70,
            delete_weight: 10,
            duplicate_rate: 0.02,
            reorder_window: 8,
            late_rate: 0.01,
            late_by: 200,
            burst_rate: 0.05,
            reinsert_rate: 0.25,
            start: EventTime::from_millis(1_767_225_600_000), // 2026-01-01T00:00:00.000Z
            mean_gap_ms: 250,
        }
    }
}

impl Config {
    /// In-order, exactly-once delivery: no duplicates, reordering, late data or bursts.
    pub fn clean() -> Self {
        Config {
            duplicate_rate: 0.0,
            reorder_window: 0,
            late_rate: 0.0,
            burst_rate: 0.0,
            ..Config::default()
        }
    }

    /// A small key space with a lot of messiness, to exercise SCD logic: duplicates,
    /// reordering, late updates after deletes, bursts and re-inserts are all frequent.
    pub fn tricky() -> Self {
        Config {
            initial_customers: 20,
            changes: 300,
            insert_weight: 25,
            update_weight: 55,
            delete_weight: 20,
            duplicate_rate: 0.15,
            reorder_window: 16,
            late_rate: 0.08,
            late_by: 40,
            burst_rate: 0.2,
            reinsert_rate: 0.6,
            ..Config::default()
        }
    }

    /// Total events in event order (initial load plus changes), saturating.
    pub fn total_events(&self) -> u64 {
        self.initial_customers.saturating_add(self.changes)
    }

    /// Checks the knobs make sense.
    pub fn validate(&self) -> Result<(), GenError> {
        let bad = |msg: String| Err(GenError::InvalidConfig(msg));
        for (name, rate) in [
            ("duplicate rate", self.duplicate_rate),
            ("late rate", self.late_rate),
            ("burst rate", self.burst_rate),
            ("re-insert rate", self.reinsert_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return bad(format!("the {name} must be between 0 and 1, not {rate}"));
            }
        }
        if self.changes > 0
            && u64::from(self.insert_weight)
                + u64::from(self.update_weight)
                + u64::from(self.delete_weight)
                == 0
        {
            return bad("the insert, update and delete weights cannot all be 0".into());
        }
        if self.mean_gap_ms == 0 {
            return bad("the mean gap between events must be at least 1 ms".into());
        }
        Ok(())
    }
}

/// Counts of what the generator produced so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GenStats {
    /// Events in event order, by operation (re-inserts are counted as inserts too).
    pub inserts: u64,
    pub updates: u64,
    pub deletes: u64,
    pub reinserts: u64,
    /// Extra deliveries of an already delivered event.
    pub duplicates: u64,
    /// Events held back for a late delivery.
    pub late: u64,
    /// Follow-up changes to a key just changed.
    pub burst_changes: u64,
}

/// All records of a finite stream, in delivery order (duplicates and reordering applied).
///
/// # Panics
/// If `cfg.changes` is `u64::MAX` (endless): iterate a [`Generator`] instead.
pub fn generate(cfg: &Config) -> Vec<Customer> {
    assert!(
        cfg.changes != u64::MAX,
        "generate() needs a finite stream; iterate a Generator for an endless one"
    );
    Generator::new(cfg.clone()).collect()
}

/// An iterator over the records in delivery order; endless when `changes == u64::MAX`.
pub struct Generator {
    cfg: Config,
    /// Decides what happens and the field values.
    content: ChaCha8Rng,
    /// Decides delivery order and duplicates, so changing delivery knobs keeps the events.
    delivery: ChaCha8Rng,
    clock_ms: i64,
    produced: u64,
    next_id: u64,
    state: HashMap<u64, Customer>,
    /// Live ids with their position, for O(1) random pick and removal.
    live: Vec<u64>,
    live_pos: HashMap<u64, usize>,
    deleted: Vec<u64>,
    burst: Option<(u64, u32)>,
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    ready: VecDeque<Customer>,
    stats: GenStats,
}

struct Pending {
    key: u64,
    seq: u64,
    record: Customer,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.key, self.seq) == (other.key, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.key, self.seq).cmp(&(other.key, other.seq))
    }
}

impl Generator {
    /// A generator for `cfg` (call [`Config::validate`] first for a friendly error).
    pub fn new(cfg: Config) -> Self {
        let content = ChaCha8Rng::seed_from_u64(cfg.seed);
        let delivery = ChaCha8Rng::seed_from_u64(cfg.seed ^ 0x9E37_79B9_7F4A_7C15);
        Generator {
            clock_ms: cfg.start.millis(),
            cfg,
            content,
            delivery,
            produced: 0,
            next_id: 1,
            state: HashMap::new(),
            live: Vec::new(),
            live_pos: HashMap::new(),
            deleted: Vec::new(),
            burst: None,
            heap: BinaryHeap::new(),
            seq: 0,
            ready: VecDeque::new(),
            stats: GenStats::default(),
        }
    }

    /// What was produced so far.
    pub fn stats(&self) -> GenStats {
        self.stats
    }

    /// Creates the next event in event-time order and schedules its deliveries.
    fn produce(&mut self) {
        let index = self.produced;
        self.produced += 1;
        let record = self.next_event(index);
        let rng = &mut self.delivery;
        let key = if self.cfg.late_rate > 0.0 && rng.random_bool(self.cfg.late_rate) {
            self.stats.late += 1;
            let by = self.cfg.late_by.max(1);
            index + by + rng.random_range(0..by)
        } else {
            index + rng.random_range(0..=self.cfg.reorder_window)
        };
        if self.cfg.duplicate_rate > 0.0 && rng.random_bool(self.cfg.duplicate_rate) {
            self.stats.duplicates += 1;
            let again = key + rng.random_range(0..=self.cfg.reorder_window.max(2));
            self.push(again, record.clone());
        }
        self.push(key, record);
        // Nothing produced later can have a key at or below `index`.
        while self.heap.peek().is_some_and(|p| p.0.key <= index) {
            let Reverse(p) = self.heap.pop().expect("peeked");
            self.ready.push_back(p.record);
        }
    }

    fn push(&mut self, key: u64, record: Customer) {
        self.seq += 1;
        self.heap.push(Reverse(Pending {
            key,
            seq: self.seq,
            record,
        }));
    }

    fn next_event(&mut self, index: u64) -> Customer {
        if index < self.cfg.initial_customers {
            self.tick(false);
            return self.insert();
        }
        if let Some((id, left)) = self.burst.take()
            && self.live_pos.contains_key(&id)
        {
            self.stats.burst_changes += 1;
            self.tick(true);
            if left > 1 {
                self.burst = Some((id, left - 1));
                return self.update(id);
            }
            return if self.content.random_bool(0.15) {
                self.delete(id)
            } else {
                self.update(id)
            };
        }
        self.tick(false);
        let total = self.cfg.insert_weight + self.cfg.update_weight + self.cfg.delete_weight;
        let roll = self.content.random_range(0..total.max(1));
        let record = if roll < self.cfg.insert_weight || self.live.is_empty() {
            self.insert()
        } else {
            let id = self.live[self.content.random_range(0..self.live.len())];
            if roll < self.cfg.insert_weight + self.cfg.update_weight {
                self.update(id)
            } else {
                self.delete(id)
            }
        };
        if record.op != Op::Delete
            && self.cfg.burst_rate > 0.0
            && self.content.random_bool(self.cfg.burst_rate)
        {
            self.burst = Some((record.id, self.content.random_range(1..=3)));
        }
        record
    }

    /// Advances the event clock: strictly increasing, so no two versions share a time.
    fn tick(&mut self, burst: bool) {
        let mean = self.cfg.mean_gap_ms.max(1);
        let max = if burst {
            mean.min(40)
        } else {
            mean.saturating_mul(2) - 1
        };
        self.clock_ms += self.content.random_range(1..=max) as i64;
    }

    fn now(&self) -> EventTime {
        EventTime::from_millis(self.clock_ms)
    }

    fn insert(&mut self) -> Customer {
        let rng = &mut self.content;
        let comeback = !self.deleted.is_empty()
            && self.cfg.reinsert_rate > 0.0
            && rng.random_bool(self.cfg.reinsert_rate);
        let record = if comeback {
            let id = self
                .deleted
                .swap_remove(rng.random_range(0..self.deleted.len()));
            self.stats.reinserts += 1;
            // A returning customer keeps name and email; where they live and work moved on.
            let old = &self.state[&id];
            Customer {
                id,
                name: old.name.clone(),
                phone_number: people::phone(rng),
                email: old.email.clone(),
                address: people::address(rng),
                country: people::country(rng),
                job: people::job(rng),
                updated_at: EventTime::from_millis(self.clock_ms),
                op: Op::Insert,
            }
        } else {
            let id = self.next_id;
            self.next_id += 1;
            let name = people::name(rng);
            Customer {
                id,
                email: people::email(&name, rng),
                name,
                phone_number: people::phone(rng),
                address: people::address(rng),
                country: people::country(rng),
                job: people::job(rng),
                updated_at: EventTime::from_millis(self.clock_ms),
                op: Op::Insert,
            }
        };
        self.stats.inserts += 1;
        self.live_pos.insert(record.id, self.live.len());
        self.live.push(record.id);
        self.state.insert(record.id, record.clone());
        record
    }

    /// A realistic subset of fields changes: a move, a new job, a new email or phone, a
    /// new last name. At least one field always differs.
    fn update(&mut self, id: u64) -> Customer {
        let mut row = self.state[&id].clone();
        let before = row.clone();
        let rng = &mut self.content;
        for _ in 0..8 {
            match rng.random_range(0..100) {
                0..30 => {
                    row.address = people::address(rng);
                    if rng.random_bool(0.2) {
                        row.country = people::country(rng);
                    }
                    if rng.random_bool(0.3) {
                        row.phone_number = people::phone(rng);
                    }
                }
                30..55 => {
                    row.job = people::job(rng);
                    if rng.random_bool(0.2) {
                        row.email = people::email(&row.name, rng);
                    }
                }
                55..70 => row.email = people::email(&row.name, rng),
                70..85 => row.phone_number = people::phone(rng),
                _ => {
                    row.name = people::renamed(&row.name, rng);
                    if rng.random_bool(0.5) {
                        row.email = people::email(&row.name, rng);
                    }
                }
            }
            if !same_fields(&row, &before) {
                break;
            }
        }
        row.updated_at = self.now();
        row.op = Op::Update;
        self.stats.updates += 1;
        self.state.insert(id, row.clone());
        row
    }

    fn delete(&mut self, id: u64) -> Customer {
        let mut row = self.state[&id].clone();
        row.updated_at = self.now();
        row.op = Op::Delete;
        self.stats.deletes += 1;
        if let Some(pos) = self.live_pos.remove(&id) {
            self.live.swap_remove(pos);
            if let Some(&moved) = self.live.get(pos) {
                self.live_pos.insert(moved, pos);
            }
        }
        self.deleted.push(id);
        self.state.insert(id, row.clone());
        row
    }
}

fn same_fields(a: &Customer, b: &Customer) -> bool {
    (
        &a.name,
        &a.phone_number,
        &a.email,
        &a.address,
        &a.country,
        &a.job,
    ) == (
        &b.name,
        &b.phone_number,
        &b.email,
        &b.address,
        &b.country,
        &b.job,
    )
}

impl Iterator for Generator {
    type Item = Customer;

    fn next(&mut self) -> Option<Customer> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(r);
            }
            if self.produced < self.cfg.total_events() {
                self.produce();
            } else {
                let Reverse(p) = self.heap.pop()?;
                return Some(p.record);
            }
        }
    }
}
