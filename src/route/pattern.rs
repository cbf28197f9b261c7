//! File-name patterns: literals and typed slots, matched case-insensitively.
//!
//! A pattern such as `cfg{mac}.xml` is written as segments (`Lit("cfg")`, `Mac`, `Lit(".xml")`)
//! rather than as a regex: the slots are *typed* (a MAC slot yields a [`Mac`], a model slot a
//! validated model), a near miss on a MAC slot can be reported as "invalid MAC", and the same
//! segments render the canonical file name back. Input is at most a few hundred bytes, so the
//! small amount of backtracking for variable slots costs nothing.

use crate::mac::{Mac, MacCase, MacError};
use crate::model::Model;

use super::yealink_codes;

/// One piece of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seg {
    /// Literal text, matched case-insensitively and rendered exactly as written here.
    Lit(&'static str),
    /// Twelve hex digits; rendered in the vendor's case unless the pattern forces one.
    Mac(Option<MacCase>),
    /// A model-like token with its own grammar.
    Model(ModelRule),
    /// A free-form name part (firmware part numbers, key file bases), kept as sent.
    Part,
}

/// Grammars of the model tokens vendors put in file names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModelRule {
    /// Grandstream `[a-z]{2,4}\d{3,4}[a-z0-9]*`: `gxp2170`, `grp2612w`, `ht802`.
    Grandstream,
    /// Cisco SPA product number `\d{3,4}[a-z0-9]*`: `504g`, `942`, `2102`.
    SpaPsn,
    /// Three digits: ATA `ata191.cfg`.
    Digits3,
    /// Four digits: Algo products (`8188`), Cisco MPP (`8841` of `8841-3PCC`).
    Digits4,
    /// Cisco MPP number, rendered as model `cp-<n>-3pcc`.
    Mpp,
    /// Yealink common-file code `\d{3}` of `y000000000<code>.cfg`, mapped to a model by table.
    YealinkCode,
    /// Snom model `[a-z0-9]{2,8}`: `320`, `d785`, `m900`; rendered upper case.
    Snom,
    /// Aastra/Mitel `\d{4}[a-z]{0,2}`: `6731i`, `6940`.
    Aastra,
    /// Panasonic after `KX-`: `[a-z0-9]{2,10}`; model `kx-<n>`, rendered upper case.
    Panasonic,
    /// Fanvil per-model common file base: `F0V00X600000`, `f0X4hw1.100`, `f0C00620000`. The
    /// case differs between series, so it is kept as sent; it names a series, not a model.
    FanvilCommon,
}

impl ModelRule {
    fn accepts(self, s: &str) -> bool {
        let b = s.as_bytes();
        let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
        let alnum = |r: &[u8]| r.iter().all(u8::is_ascii_alphanumeric);
        match self {
            ModelRule::Grandstream => {
                let (letters, rest) = split_while(b, u8::is_ascii_alphabetic);
                let (nums, rest) = split_while(rest, u8::is_ascii_digit);
                (2..=4).contains(&letters.len()) && (3..=4).contains(&nums.len()) && alnum(rest)
            }
            ModelRule::SpaPsn => {
                let (nums, rest) = split_while(b, u8::is_ascii_digit);
                (3..=4).contains(&nums.len()) && alnum(rest) && b.len() <= 8
            }
            ModelRule::Digits3 | ModelRule::YealinkCode => b.len() == 3 && digits(b),
            ModelRule::Digits4 | ModelRule::Mpp => b.len() == 4 && digits(b),
            ModelRule::Snom => (2..=8).contains(&b.len()) && alnum(b),
            ModelRule::Aastra => b.split_at_checked(4).is_some_and(|(nums, suffix)| {
                suffix.len() <= 2 && digits(nums) && suffix.iter().all(u8::is_ascii_alphabetic)
            }),
            ModelRule::Panasonic => (2..=10).contains(&b.len()) && alnum(b),
            ModelRule::FanvilCommon => {
                (8..=16).contains(&b.len())
                    && b.get(..2).is_some_and(|p| p.eq_ignore_ascii_case(b"f0"))
                    && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'.')
            }
        }
    }

    /// The model this token names, if it names one.
    fn model(self, s: &str) -> Option<Model> {
        match self {
            ModelRule::Mpp => Model::new(&format!("cp-{s}-3pcc")),
            ModelRule::Panasonic => Model::new(&format!("kx-{s}")),
            ModelRule::YealinkCode => yealink_codes::model_of(s).and_then(Model::new),
            ModelRule::SpaPsn => Model::new(&format!("spa{s}")),
            ModelRule::Digits3 => Model::new(&format!("ata{s}")),
            ModelRule::FanvilCommon => None,
            _ => Model::new(s),
        }
    }

    fn render(self, s: &str, out: &mut String) {
        match self {
            ModelRule::Snom | ModelRule::Panasonic => out.push_str(&s.to_ascii_uppercase()),
            ModelRule::FanvilCommon => out.push_str(s),
            _ => out.push_str(&s.to_ascii_lowercase()),
        }
    }
}

/// Splits `b` after its longest prefix of bytes that satisfy `pred`.
fn split_while(b: &[u8], pred: impl Fn(&u8) -> bool) -> (&[u8], &[u8]) {
    let n = b.iter().take_while(|c| pred(c)).count();
    // n ≤ b.len(), so the split always succeeds; the fallback only keeps this total.
    b.split_at_checked(n).unwrap_or((b, &[]))
}

/// Characters a free-form part may hold: enough for `T46S(T48S,T42S,T41S)-66.86.0.15` and
/// `2345-12600-001`, nothing that could be a separator, escape or traversal.
fn part_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && !s.starts_with('.')
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'.' | b'_' | b'+' | b',' | b'(' | b')' | b'@' | b'-')
        })
}

/// What a successful match captured, in slot order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Captures<'a> {
    pub mac: Option<Mac>,
    pub model_text: Option<&'a str>,
    pub model_rule: Option<ModelRule>,
    pub part: Option<&'a str>,
}

impl Captures<'_> {
    /// The model the name carries, if any.
    pub fn model(&self) -> Option<Model> {
        self.model_rule?.model(self.model_text?)
    }
}

/// Matches `input` against `segs`. All-zero MACs never fill a MAC slot: `000000000000` is
/// the generic-file name of Polycom and Yealink, never a device.
pub(crate) fn matches<'a>(segs: &[Seg], input: &'a str) -> Option<Captures<'a>> {
    // Most rows fail on their literal suffix; checking it first spares the variable slots'
    // backtracking for them.
    if let Some(Seg::Lit(suffix)) = segs.last() {
        let start = input.len().checked_sub(suffix.len())?;
        if !input.get(start..)?.eq_ignore_ascii_case(suffix) {
            return None;
        }
    }
    let mut caps = Captures::default();
    match_from(segs, input, &mut caps).then_some(caps)
}

fn match_from<'a>(segs: &[Seg], input: &'a str, caps: &mut Captures<'a>) -> bool {
    let Some((first, rest)) = segs.split_first() else {
        return input.is_empty();
    };
    match *first {
        Seg::Lit(lit) => match input.get(..lit.len()) {
            Some(head) if head.eq_ignore_ascii_case(lit) => {
                match_from(rest, &input[lit.len()..], caps)
            }
            _ => false,
        },
        Seg::Mac(_) => {
            let Some(head) = input.get(..12) else {
                return false;
            };
            match Mac::parse_compact(head) {
                Ok(mac) if !mac.is_zero() => {
                    caps.mac = Some(mac);
                    match_from(rest, &input[12..], caps)
                }
                _ => false,
            }
        }
        Seg::Model(rule) => match_variable(
            rest,
            input,
            caps,
            |s| rule.accepts(s),
            |c, s| {
                c.model_text = Some(s);
                c.model_rule = Some(rule);
            },
        ),
        Seg::Part => match_variable(rest, input, caps, part_ok, |c, s| c.part = Some(s)),
    }
}

/// Tries every split of `input` into a slot value and a remainder, shortest value first.
fn match_variable<'a>(
    rest: &[Seg],
    input: &'a str,
    caps: &mut Captures<'a>,
    accept: impl Fn(&str) -> bool,
    store: impl Fn(&mut Captures<'a>, &'a str),
) -> bool {
    for (end, _) in input
        .char_indices()
        .skip(1)
        .chain(std::iter::once((input.len(), ' ')))
    {
        let (value, remainder) = input.split_at(end);
        if accept(value) {
            let mut trial = caps.clone();
            store(&mut trial, value);
            if match_from(rest, remainder, &mut trial) {
                *caps = trial;
                return true;
            }
        }
    }
    false
}

/// If `input` has this pattern's literal frame around a MAC slot but the slot holds something
/// MAC-like that is not a valid MAC (wrong length, a non-hex digit), says what is wrong.
/// Only patterns of the form `Lit* Mac Lit*` are checked; that covers every device file name.
pub(crate) fn mac_near_miss<'a>(segs: &[Seg], input: &'a str) -> Option<(&'a str, MacError)> {
    let mut around_mac = segs.splitn(2, |s| matches!(s, Seg::Mac(_)));
    let (before, after) = (around_mac.next()?, around_mac.next()?);
    let lit_len = |s: &[Seg]| -> Option<usize> {
        s.iter()
            .map(|seg| match seg {
                Seg::Lit(l) => Some(l.len()),
                _ => None,
            })
            .sum()
    };
    let (pre, post) = (lit_len(before)?, lit_len(after)?);
    let lits = |s: &[Seg]| -> String {
        s.iter()
            .filter_map(|seg| match seg {
                Seg::Lit(l) => Some(*l),
                _ => None,
            })
            .collect()
    };
    let middle_end = input.len().checked_sub(post)?;
    let middle = input.get(pre..middle_end)?;
    // `get` succeeded, so both cut points are character boundaries.
    if !input[..pre].eq_ignore_ascii_case(&lits(before))
        || !input[middle_end..].eq_ignore_ascii_case(&lits(after))
    {
        return None;
    }
    let hexish = middle
        .bytes()
        .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'-');
    let twelve_alnum = middle.len() == 12 && middle.bytes().all(|b| b.is_ascii_alphanumeric());
    if middle.is_empty() || !(hexish || twelve_alnum) {
        return None;
    }
    match middle.parse::<Mac>() {
        Err(e) => Some((middle, e)),
        Ok(mac) if mac.is_zero() => None,
        // Valid but in a separated form: file names never carry one.
        Ok(_) => Some((middle, MacError::BadSeparators)),
    }
}

/// Renders a pattern back into a file name with the captured values.
pub(crate) fn render(segs: &[Seg], caps: &Captures<'_>, vendor_case: MacCase) -> Option<String> {
    let mut out = String::with_capacity(32);
    for seg in segs {
        match *seg {
            Seg::Lit(l) => out.push_str(l),
            Seg::Mac(case) => out.push_str(&caps.mac?.compact(case.unwrap_or(vendor_case))),
            Seg::Model(rule) => rule.render(caps.model_text?, &mut out),
            Seg::Part => out.push_str(caps.part?),
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Seg::*;

    #[test]
    fn literals_and_mac_slots_match_case_insensitively() {
        let pat = [Lit("algom"), Mac(Some(MacCase::Upper)), Lit(".conf")];
        let caps = matches(&pat, "ALGOM0022ee123456.CONF").unwrap();
        assert_eq!(caps.mac.unwrap().to_string(), "0022ee123456");
        assert_eq!(
            render(&pat, &caps, MacCase::Lower).unwrap(),
            "algom0022EE123456.conf"
        );
        assert!(matches(&pat, "algom0022ee12345.conf").is_none());
        assert!(matches(&pat, "algom000000000000.conf").is_none());
    }

    #[test]
    fn variable_slots_backtrack_to_the_next_literal() {
        let pat = [
            Lit("snom"),
            Model(ModelRule::Snom),
            Lit("-"),
            Mac(Some(MacCase::Upper)),
            Lit(".htm"),
        ];
        let caps = matches(&pat, "snomD785-000413123456.htm").unwrap();
        assert_eq!(caps.model().unwrap().as_str(), "d785");
        let part = [Part, Lit("_Security.enc")];
        assert_eq!(
            matches(&part, "account_Security.enc").unwrap().part,
            Some("account")
        );
        assert!(matches(&part, "_Security.enc").is_none());
        assert!(matches(&part, "a b_Security.enc").is_none());
    }

    #[test]
    fn near_misses_name_the_mac_fault() {
        let pat = [Lit("cfg"), Mac(None), Lit(".xml")];
        assert_eq!(
            mac_near_miss(&pat, "cfg000b8212345.xml"),
            Some(("000b8212345", MacError::WrongLength(11)))
        );
        assert_eq!(
            mac_near_miss(&pat, "cfg000b8212345z.xml"),
            Some(("000b8212345z", MacError::NotHex))
        );
        assert_eq!(mac_near_miss(&pat, "cfggxp2170.xml"), None);
        assert_eq!(mac_near_miss(&pat, "cfg.xml"), None);
        assert_eq!(mac_near_miss(&pat, "cf"), None);
    }

    #[test]
    fn model_grammars() {
        assert!(ModelRule::Grandstream.accepts("gxp2170"));
        assert!(ModelRule::Grandstream.accepts("grp2612w"));
        assert!(!ModelRule::Grandstream.accepts("000b82123456"));
        assert!(ModelRule::Aastra.accepts("6731i"));
        assert!(!ModelRule::Aastra.accepts("673"));
        assert_eq!(
            ModelRule::Mpp.model("8841").unwrap().as_str(),
            "cp-8841-3pcc"
        );
        assert_eq!(
            ModelRule::YealinkCode.model("066").unwrap().as_str(),
            "t46s"
        );
    }
}
