//! The rows of [`FAMILIES`] a file name can match, found without trying every row.
//!
//! Rows are tried in table order and the first that matches (and that the evidence settles)
//! wins, so an index may only skip rows that cannot match. Almost every row ends in a literal
//! (`.cfg`, `-phone.cfg`, `.cnf.xml`), matched case-insensitively at the end of the name; a
//! name can only match rows whose literal ends as the name does. Rows are therefore bucketed
//! by the lower-cased last [`ENDING`] bytes of their final literal, and each bucket is merged,
//! in table order, with the rows that end otherwise (a slot, or a shorter literal), which every
//! name must still try. Looking a name up is one binary search over a few dozen endings.
//! The same holds for a near miss around a MAC slot, which keeps the literal after the slot.

use std::sync::LazyLock;

use super::pattern::Seg;
use super::table::{Family, FAMILIES};

/// How many trailing bytes of a name choose its bucket.
const ENDING: usize = 3;

/// A row and the number of `/`-separated path segments its pattern spans.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    pub family: &'static Family,
    pub depth: usize,
}

/// Candidate rows by name ending.
#[derive(Debug)]
pub(crate) struct Index {
    /// Sorted by ending; each list in table order.
    by_ending: Vec<([u8; ENDING], Vec<Candidate>)>,
    /// Rows every name must try, in table order: the candidates of an ending no row has.
    open: Vec<Candidate>,
}

static INDEX: LazyLock<Index> = LazyLock::new(|| Index::build(FAMILIES));

/// The rows `name` (a file name, or the stripped variant of one) can match, in table order.
pub(crate) fn candidates(name: &str) -> &'static [Candidate] {
    INDEX.candidates(name)
}

impl Index {
    fn build(families: &'static [Family]) -> Index {
        let rows: Vec<(Option<[u8; ENDING]>, Candidate)> = families
            .iter()
            .map(|family| {
                let candidate = Candidate {
                    family,
                    depth: family.depth(),
                };
                (ending_of(family.pattern), candidate)
            })
            .collect();
        let mut endings: Vec<[u8; ENDING]> = rows.iter().filter_map(|(e, _)| *e).collect();
        endings.sort_unstable();
        endings.dedup();
        let for_ending = |ending: Option<[u8; ENDING]>| -> Vec<Candidate> {
            rows.iter()
                .filter(|(e, _)| e.is_none() || *e == ending)
                .map(|(_, c)| *c)
                .collect()
        };
        Index {
            by_ending: endings.iter().map(|e| (*e, for_ending(Some(*e)))).collect(),
            open: for_ending(None),
        }
    }

    fn candidates(&self, name: &str) -> &[Candidate] {
        let found = key(name.as_bytes()).and_then(|k| {
            self.by_ending
                .binary_search_by(|(e, _)| e.cmp(&k))
                .ok()
                .and_then(|i| self.by_ending.get(i))
        });
        found.map_or(&self.open, |(_, rows)| rows)
    }
}

/// The bucket a pattern belongs to: the lower-cased end of its final literal, if that literal
/// is long enough to decide one.
fn ending_of(pattern: &[Seg]) -> Option<[u8; ENDING]> {
    match pattern.last() {
        Some(Seg::Lit(lit)) => key(lit.as_bytes()),
        _ => None,
    }
}

fn key(bytes: &[u8]) -> Option<[u8; ENDING]> {
    let start = bytes.len().checked_sub(ENDING)?;
    let mut k: [u8; ENDING] = bytes.get(start..)?.try_into().ok()?;
    k.make_ascii_lowercase();
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::super::pattern;
    use super::*;

    /// The index's promise: for any name, the rows it skips are rows that cannot match it, and
    /// the rows it keeps are in table order.
    #[test]
    fn skips_only_rows_that_cannot_match() {
        let index = Index::build(FAMILIES);
        let names = [
            "cfg000b82123456.xml",
            "CFG000B82123456.XML",
            "cfg000b82123456",
            "cfg.xml",
            "0004f2123456-phone.cfg",
            "000000000000.cfg",
            "y000000000066.cfg",
            "algom0022EE123456.conf",
            "algop8188.conf.md5",
            "SEP00562B123456.cnf.xml",
            "snomD785-000413123456.htm",
            "0c383e123456.cfg",
            "sip.ld",
            "a.b",
            "x",
            "",
            "gxp2170fw.bin",
            "account_Security.enc",
            "cfg000b8212345.xml",
            "0004f212345z-phone.cfg",
            "algom0022EE12345.conf",
        ];
        for name in names {
            let kept = index.candidates(name);
            // Rows are told apart by shape (`table`'s tests: no two rows share one); `FAMILIES`
            // is a constant, so two uses need not share an address.
            let position = |f: &Family| FAMILIES.iter().position(|g| g.pattern == f.pattern);
            let order: Vec<_> = kept.iter().map(|c| position(c.family)).collect();
            assert!(
                order.iter().all(Option::is_some),
                "{name}: a row not in the table"
            );
            assert!(
                order.windows(2).all(|w| w[0] < w[1]),
                "{name}: out of order"
            );
            for family in FAMILIES {
                let is_kept = kept.iter().any(|c| c.family.pattern == family.pattern);
                if !is_kept {
                    assert!(
                        pattern::matches(family.pattern, name).is_none(),
                        "{name}: skipped {:?}, which matches",
                        family.pattern
                    );
                    assert!(
                        pattern::mac_near_miss(family.pattern, name).is_none(),
                        "{name}: skipped {:?}, a near miss of it",
                        family.pattern
                    );
                }
            }
        }
        // The point of it: a name tries far fewer rows than the table holds.
        assert!(index.candidates("0004f2123456-phone.cfg").len() < FAMILIES.len() / 2);
    }

    #[test]
    fn depths_are_precomputed() {
        for c in &Index::build(FAMILIES).open {
            assert_eq!(c.depth, c.family.depth());
        }
        let cisco = candidates("00562b123456.cfg")
            .iter()
            .find(|c| c.depth == 3)
            .map(|c| c.family.pattern.first().copied());
        assert_eq!(cisco, Some(Some(Seg::Lit("Cisco/CP-"))));
    }
}
