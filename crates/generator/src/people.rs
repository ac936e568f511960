//! Realistic customer field values (English locale) drawn from a seeded RNG.

use fake::Fake;
use fake::faker::address::en::{
    BuildingNumber, CityName, CountryName, PostCode, StateAbbr, StreetName,
};
use fake::faker::internet::en::FreeEmailProvider;
use fake::faker::job::en::Title;
use fake::faker::name::en::{FirstName, LastName};
use fake::faker::phone_number::en::PhoneNumber;
use rand::RngExt;
use rand::rngs::ChaCha8Rng;

pub(crate) fn name(rng: &mut ChaCha8Rng) -> String {
    let first: String = FirstName().fake_with_rng(rng);
    let last: String = LastName().fake_with_rng(rng);
    format!("{first} {last}")
}

/// The same first name with a new last name (marriage, correction).
pub(crate) fn renamed(name: &str, rng: &mut ChaCha8Rng) -> String {
    let first = name.split_whitespace().next().unwrap_or(name);
    let last: String = LastName().fake_with_rng(rng);
    format!("{first} {last}")
}

/// An address in the Faker style: street line, optional unit, city/state/zip, on one line
/// or (mostly) on several.
pub(crate) fn address(rng: &mut ChaCha8Rng) -> String {
    let building: String = BuildingNumber().fake_with_rng(rng);
    let street: String = StreetName().fake_with_rng(rng);
    let separator = if rng.random_bool(0.7) { "\n" } else { ", " };
    let mut street_line = format!("{building} {street}");
    if rng.random_bool(0.3) {
        let kind = ["Apt.", "Suite", "Unit"][rng.random_range(0..3)];
        let unit = rng.random_range(1..1000u32);
        // Sometimes on a line of its own, as people type it.
        let join = if separator == "\n" && rng.random_bool(0.3) {
            "\n"
        } else {
            " "
        };
        street_line = format!("{street_line}{join}{kind} {unit}");
    }
    let city: String = CityName().fake_with_rng(rng);
    let state: String = StateAbbr().fake_with_rng(rng);
    let zip: String = PostCode().fake_with_rng(rng);
    format!("{street_line}{separator}{city}, {state} {zip}")
}

/// An email derived from the name, like real sign-ups: `ann.lee42@gmail.com`.
pub(crate) fn email(name: &str, rng: &mut ChaCha8Rng) -> String {
    let parts: Vec<String> = name
        .split_whitespace()
        .map(|p| {
            p.chars()
                .filter(char::is_ascii_alphanumeric)
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let first = parts.first().map_or("customer", String::as_str);
    let last = parts.last().map_or("x", String::as_str);
    let initial = &first[..1];
    let local = match rng.random_range(0..4) {
        0 => format!("{first}.{last}"),
        1 => format!("{initial}{last}"),
        2 => format!("{first}_{last}"),
        _ => format!("{first}{last}"),
    };
    let suffix = if rng.random_bool(0.4) {
        rng.random_range(1..100u32).to_string()
    } else {
        String::new()
    };
    let domain: String = FreeEmailProvider().fake_with_rng(rng);
    format!("{local}{suffix}@{domain}")
}

pub(crate) fn phone(rng: &mut ChaCha8Rng) -> String {
    PhoneNumber().fake_with_rng(rng)
}

pub(crate) fn country(rng: &mut ChaCha8Rng) -> String {
    CountryName().fake_with_rng(rng)
}

pub(crate) fn job(rng: &mut ChaCha8Rng) -> String {
    Title().fake_with_rng(rng)
}
