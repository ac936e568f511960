//! Dockerfile rules the stack relies on (hadolint covers general style in scripts/check-deploy.sh).

use crate::{Problem, problem};

/// Pinned base images, a multi-stage build with `--locked`, a non-root user and a HEALTHCHECK
/// that uses the binary itself.
pub fn check_dockerfile(text: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    // Join continuation lines so each instruction is one line.
    let joined = text.replace("\\\n", " ");
    let instructions: Vec<(String, String)> = joined
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once(char::is_whitespace) {
            Some((i, rest)) => (i.to_ascii_uppercase(), rest.trim().to_string()),
            None => (l.to_ascii_uppercase(), String::new()),
        })
        .collect();
    let froms: Vec<&String> = instructions
        .iter()
        .filter(|(i, _)| i == "FROM")
        .map(|(_, a)| a)
        .collect();
    if froms.len() < 2 {
        problem(
            &mut out,
            "expected a multi-stage build (a build stage and a runtime stage)",
        );
    }
    let stages: Vec<&str> = froms
        .iter()
        .filter_map(|f| f.split_whitespace().nth(2))
        .collect();
    for f in &froms {
        let image = f.split_whitespace().next().unwrap_or("");
        if stages.contains(&image) {
            continue;
        }
        match image.rsplit_once(':') {
            None => problem(&mut out, format!("FROM {image}: pin a tag")),
            Some((_, "latest")) => {
                problem(&mut out, format!("FROM {image}: `latest` is not a pin"))
            }
            Some(_) => {}
        }
    }
    let runs = instructions
        .iter()
        .filter(|(i, _)| i == "RUN")
        .map(|(_, a)| a.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    if !runs.contains("cargo build --release --locked") {
        problem(
            &mut out,
            "the build stage must run `cargo build --release --locked`",
        );
    }
    // USER and HEALTHCHECK must be set in the final stage.
    let last_from = instructions
        .iter()
        .rposition(|(i, _)| i == "FROM")
        .unwrap_or(0);
    let final_stage = &instructions[last_from..];
    match final_stage.iter().rev().find(|(i, _)| i == "USER") {
        None => problem(&mut out, "the runtime stage runs as root: add a USER"),
        Some((_, u)) if u.starts_with("root") || u.starts_with("0:") || u == "0" => {
            problem(&mut out, "the runtime stage's USER is root")
        }
        Some(_) => {}
    }
    match final_stage.iter().find(|(i, _)| i == "HEALTHCHECK") {
        None => problem(&mut out, "the runtime stage has no HEALTHCHECK"),
        Some((_, h)) if !h.contains("healthcheck") => problem(
            &mut out,
            "HEALTHCHECK should run `snowstream healthcheck` (slim images have no curl)",
        ),
        Some(_) => {}
    }
    out
}
