//! Spec migrations: which changes of a [`TableSpec`] can be applied to tables that already
//! hold data. Supported: new columns appended at the end of `[[columns]]` (everything else
//! equal). The Snowflake renderer ([`crate::snowflake::render_migration`]) and the local
//! warehouse (on [`crate::Warehouse::open`]) apply the same plan: add the columns, backfill
//! them from the raw records, run the tasks with the new spec.

use crate::Error;
use crate::spec::{Column, TableSpec};

/// The columns `new` appends to the spec whose fingerprint is `old_fingerprint`, or why the
/// change is not a supported migration. Empty when nothing changed.
pub(crate) fn added_columns(old_fingerprint: &str, new: &TableSpec) -> Result<Vec<Column>, String> {
    let new_fp = new.fingerprint();
    let split = |fp: &str| -> Option<(String, Vec<String>)> {
        let (head, cols) = fp.split_once(" columns=")?;
        Some((
            head.to_string(),
            cols.split(',').map(str::to_string).collect(),
        ))
    };
    let (Some((old_head, old_cols)), Some((new_head, new_cols))) =
        (split(old_fingerprint), split(&new_fp))
    else {
        return Err("unreadable spec fingerprint".into());
    };
    if old_head != new_head {
        return Err(format!(
            "only new columns can be added; the table settings changed from `{old_head}` to `{new_head}`"
        ));
    }
    if new_cols.len() < old_cols.len() || new_cols[..old_cols.len()] != old_cols[..] {
        return Err(format!(
            "only columns appended at the end can be added; the columns changed from `{}` to `{}`",
            old_cols.join(","),
            new_cols.join(",")
        ));
    }
    Ok(new.columns[old_cols.len()..].to_vec())
}

/// The plan to migrate tables made for `old` to `new`: the appended columns.
pub fn plan(old: &TableSpec, new: &TableSpec) -> Result<Vec<Column>, Error> {
    added_columns(&old.fingerprint(), new).map_err(Error::Spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(extra: &str) -> TableSpec {
        TableSpec::parse(&(include_str!("../../../specs/customers.toml").to_string() + extra))
            .unwrap()
    }

    #[test]
    fn appended_columns_are_a_migration_other_changes_are_not() {
        let old = TableSpec::customers();
        let new = spec("\n[[columns]]\nname = \"tier\"\ntype = \"integer\"\n");
        let added = plan(&old, &new).unwrap();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].name, "tier");
        assert!(plan(&old, &old).unwrap().is_empty());
        assert!(plan(&new, &old).is_err(), "dropping a column");
        let renamed = TableSpec::parse(
            &include_str!("../../../specs/customers.toml").replace("\"job\"", "\"title\""),
        )
        .unwrap();
        assert!(plan(&old, &renamed).is_err());
    }
}
