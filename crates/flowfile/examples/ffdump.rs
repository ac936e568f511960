//! Prints the FlowFiles in a package file, or why it is rejected:
//! `cargo run -p flowfile --example ffdump -- FILE [v3|v2]`.

use flowfile::{Limits, Version, decode_all};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: ffdump FILE [v3|v2]");
        std::process::exit(2);
    };
    let version = match args.next().as_deref() {
        Some("v2") => Version::V2,
        _ => Version::V3,
    };
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    match decode_all(version, &data, Limits::default()) {
        Ok(files) => {
            for (i, ff) in files.iter().enumerate() {
                println!(
                    "FlowFile #{i}: {} attributes, {} content bytes",
                    ff.attributes.len(),
                    ff.content.len()
                );
                for (k, v) in ff.attributes.iter().take(5) {
                    let v: String = v.chars().take(60).collect();
                    println!("  {k} = {v}");
                }
            }
        }
        Err(e) => {
            println!("rejected: {e}");
            std::process::exit(1);
        }
    }
}
