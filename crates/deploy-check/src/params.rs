//! NiFi parameter references (`#{name}`, `#{'name with spaces'}`) inside property values.

use regex::Regex;
use std::sync::OnceLock;

/// The parameter names a property value references, in order. `##{x}` is NiFi's escape for a
/// literal `#{x}` and is not a reference.
pub fn parameter_refs(value: &str) -> Vec<String> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| Regex::new(r"(#+)\{('([^']*)'|[^}]*)\}").expect("valid regex"));
    re.captures_iter(value)
        .filter(|c| c[1].len() % 2 == 1)
        .map(|c| match c.get(3) {
            Some(quoted) => quoted.as_str().to_string(),
            None => c[2].to_string(),
        })
        .collect()
}

/// True when the value is exactly one parameter reference and nothing else, which is the only
/// form NiFi accepts for a sensitive parameter.
pub(crate) fn is_single_ref(value: &str) -> bool {
    let refs = parameter_refs(value);
    refs.len() == 1
        && (value == format!("#{{{}}}", refs[0]) || value == format!("#{{'{}'}}", refs[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_plain_quoted_and_skips_escaped() {
        assert_eq!(
            parameter_refs("#{a}/x/#{'b c'}/##{not}/###{d}"),
            vec!["a", "b c", "d"]
        );
        assert!(parameter_refs("${attr} plain").is_empty());
    }

    #[test]
    fn single_ref() {
        assert!(is_single_ref("#{token}"));
        assert!(!is_single_ref("Bearer #{token}"));
        assert!(!is_single_ref("#{a}#{b}"));
    }
}
