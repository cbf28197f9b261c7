//! Patterns that need no backtracking construct run straight on `regex-automata`'s meta engine:
//! the engine `fancy-regex` would hand the whole pattern to anyway, without its wrapper. Going
//! direct lets a match write its groups into a buffer the caller keeps (no allocation per
//! match), and gives the prefilter ([`crate::rewrite::prefilter`]) the pattern text it builds
//! its multi-pattern automaton from.
//!
//! A translated pattern runs here when `regex-syntax`, configured as `fancy-regex` configures it
//! in its ASCII bytes mode (no Unicode, any byte may match), reads it and the translator wrote
//! no backtracking construct (lookaround, backreferences, atomic groups, possessive quantifiers,
//! `\K`). The tests in the parent module check that both engines give the same groups.
//!
//! ## `^.*R`: groups from the last place `R` can start
//!
//! Rule files are full of `^.*/provision/…` (FusionPBX writes every rule so). Reading the groups
//! of such a match is the costly part of a rule that matches: the engine that resolves groups
//! tries `.*` at every length. The answer is known without that: `.*` is greedy, so the match
//! is the one where `R` starts at the *last* position it can match from (no further than the
//! first `\n`, which `.` does not cross), with `R`'s own preferred match there. That is where
//! a backtracking engine (PCRE, or the meta engine's backtracker) would find it, so the groups
//! are the same. Such patterns keep `R` compiled apart ([`Tail`]) with its literal prefix: the
//! groups come from running `R`, anchored, at the last occurrences of that prefix.

use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::util::syntax;
use regex_automata::{meta, Anchored, Input};
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::{Groups, DFA_LIMIT, SIZE_LIMIT};

/// Groups whose slots live on the stack during a match; more use a heap buffer.
const STACK_GROUPS: usize = 10;

/// How many last places [`Tail`] tries before leaving the subject to the whole pattern (a
/// subject holding `R`'s prefix many times without `R` matching there stays linear).
const TAIL_TRIES: usize = 4;

/// How `regex-syntax` reads a translated pattern: bytes, ASCII classes and case folding, as
/// `fancy-regex` delegates in `BytesMode::Ascii`.
pub(crate) fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(false).utf8(false)
}

/// The meta engine's settings, as `fancy-regex` sets them for a delegated pattern (an empty match
/// may fall anywhere: subjects are bytes, not UTF-8), with this module's bounds.
fn meta_config() -> meta::Config {
    meta::Config::new()
        .utf8_empty(false)
        .nfa_size_limit(Some(SIZE_LIMIT))
        .hybrid_cache_capacity(DFA_LIMIT)
}

fn build(hir: &Hir) -> Option<meta::Regex> {
    meta::Builder::new()
        .configure(meta_config())
        .build_from_hir(hir)
        .ok()
}

/// A pattern compiled for the meta engine.
#[derive(Clone, Debug)]
pub(crate) struct Automaton {
    regex: meta::Regex,
    /// The pattern as the engine read it (`(?i:…)` around it for `~*`).
    source: Box<str>,
    /// For `^.*R`: `R`, to read groups from.
    tail: Option<Tail>,
}

/// The `R` of a pattern `\A.*R` or `\A(.*)R` (`.*` greedy).
#[derive(Clone, Debug)]
struct Tail {
    /// `R` after its literal prefix, its groups numbered as in the whole pattern.
    regex: meta::Regex,
    /// The literal `R` starts with (empty only when `R` is empty).
    prefix: Box<[u8]>,
    /// `.` matches `\n` too (`(?s)`), so `.*` may run to the end.
    dot_all: bool,
    /// `(.*)`: the group's number.
    group: Option<usize>,
    /// Nothing follows the prefix (as in `^(.*)`): no engine needs to run.
    empty: bool,
}

impl Automaton {
    /// The pattern on the meta engine, or `None` when it needs `fancy-regex` (a construct
    /// `regex-syntax` does not have, or a group count the two would disagree on).
    pub(super) fn build(text: &str, caseless: bool, groups: usize) -> Option<Automaton> {
        let source: Box<str> = if caseless {
            format!("(?i:{text})").into()
        } else {
            text.into()
        };
        let hir = syntax::parse_with(&source, &syntax_config()).ok()?;
        let regex = build(&hir)?;
        // Every group the translator opened is one of the engine's (group 0 is the match).
        if regex.captures_len() != groups + 1 {
            return None;
        }
        let tail = Tail::of(&hir, &regex);
        Some(Automaton {
            regex,
            source,
            tail,
        })
    }

    /// The pattern text the prefilter compiles.
    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    /// Writes the first match's groups into `groups` (cleared first, trailing groups that did
    /// not take part dropped); false without a match.
    pub(super) fn captures_into(&self, subject: &[u8], groups: &mut Groups) -> bool {
        groups.clear();
        let len = self.regex.captures_len().saturating_mul(2);
        let mut stack = [None::<NonMaxUsize>; 2 * STACK_GROUPS];
        let mut heap = Vec::new();
        let slots = match stack.get_mut(..len) {
            Some(slots) => slots,
            None => {
                heap.resize(len, None);
                &mut heap[..]
            }
        };
        let found = match self.tail.as_ref().and_then(|t| t.search(subject, slots)) {
            Some(found) => found,
            None => {
                slots.fill(None);
                self.regex
                    .search_slots(&Input::new(subject), slots)
                    .is_some()
            }
        };
        if !found {
            return false;
        }
        for pair in slots.chunks_exact(2) {
            groups.push(match pair {
                [Some(s), Some(e)] => Some((s.get(), e.get())),
                _ => None,
            });
        }
        while groups.len() > 1 && groups.last() == Some(&None) {
            groups.pop();
        }
        true
    }
}

impl Tail {
    /// `R` of a pattern shaped `\A.*R` or `\A(.*)R`, where `R` is empty or starts with a
    /// literal; `None` for any other shape.
    fn of(hir: &Hir, whole: &meta::Regex) -> Option<Tail> {
        let HirKind::Concat(items) = hir.kind() else {
            return None;
        };
        let [start, dot, rest @ ..] = items.as_slice() else {
            return None;
        };
        if start.kind() != &HirKind::Look(Look::Start) {
            return None;
        }
        let (repetition, group) = match dot.kind() {
            HirKind::Repetition(r) => (r, None),
            HirKind::Capture(c) => match c.sub.kind() {
                HirKind::Repetition(r) => (r, Some(usize::try_from(c.index).ok()?)),
                _ => return None,
            },
            _ => return None,
        };
        if repetition.min != 0 || repetition.max.is_some() || !repetition.greedy {
            return None;
        }
        let HirKind::Class(Class::Bytes(class)) = repetition.sub.kind() else {
            return None;
        };
        let ranges: Vec<(u8, u8)> = class
            .ranges()
            .iter()
            .map(|r| (r.start(), r.end()))
            .collect();
        let dot_all = match ranges.as_slice() {
            [(0x00, 0xFF)] => true,
            [(0x00, 0x09), (0x0B, 0xFF)] => false,
            _ => return None,
        };
        // `R` is its literal prefix, found by comparing bytes, then the rest, run from there.
        let (prefix, rest): (Box<[u8]>, &[Hir]) = match rest.split_first() {
            Some((first, after)) => match first.kind() {
                HirKind::Literal(literal) => (literal.0.clone(), after),
                _ => return None,
            },
            None => (Box::default(), rest),
        };
        // `R`'s groups keep their numbers: for `(.*)`, an empty group stands in for it (the
        // engine numbers groups in order, without gaps), and its place is set after the match.
        let mut tail = Vec::with_capacity(rest.len() + 1);
        if let Some(index) = group {
            if index != 1 {
                return None;
            }
            tail.push(Hir::capture(regex_syntax::hir::Capture {
                index: 1,
                name: None,
                sub: Box::new(Hir::empty()),
            }));
        }
        tail.extend_from_slice(rest);
        let empty = rest.is_empty();
        let regex = build(&Hir::concat(tail))?;
        if regex.captures_len() != whole.captures_len() {
            return None;
        }
        Some(Tail {
            regex,
            prefix,
            dot_all,
            group,
            empty,
        })
    }

    /// The whole pattern's groups, read from `R` at the last places it can start: `Some(true)`
    /// with `slots` filled, `Some(false)` when no place up to the first `\n` matches, `None`
    /// when it gave up after [`TAIL_TRIES`] places (the caller asks the whole pattern).
    fn search(&self, subject: &[u8], slots: &mut [Option<NonMaxUsize>]) -> Option<bool> {
        let limit = match self.dot_all {
            true => subject.len(),
            false => memchr::memchr(b'\n', subject).unwrap_or(subject.len()),
        };
        let own = self.regex.captures_len().saturating_mul(2);
        // Candidates are places at or before `upto`.
        let mut upto = limit;
        for _ in 0..TAIL_TRIES {
            let Some(at) = self.last_prefix(subject, upto) else {
                return Some(false);
            };
            let after = at + self.prefix.len();
            let found = if self.empty {
                // Nothing after the prefix: `R` matches there, and ends there.
                *slots.get_mut(1)? = NonMaxUsize::new(after);
                true
            } else {
                let own = slots.get_mut(..own)?;
                own.fill(None);
                let input = Input::new(subject).range(after..).anchored(Anchored::Yes);
                self.regex.search_slots(&input, own).is_some()
            };
            if found {
                // The match starts at 0, with `.*`; `(.*)` holds what `.*` took.
                *slots.first_mut()? = NonMaxUsize::new(0);
                if let Some(group) = self.group {
                    *slots.get_mut(2 * group)? = NonMaxUsize::new(0);
                    *slots.get_mut(2 * group + 1)? = NonMaxUsize::new(at);
                }
                return Some(true);
            }
            let Some(before) = at.checked_sub(1) else {
                return Some(false);
            };
            upto = before;
        }
        None
    }

    /// The last place at or before `upto` where `R`'s prefix stands.
    fn last_prefix(&self, subject: &[u8], upto: usize) -> Option<usize> {
        let Some(first) = self.prefix.first() else {
            return Some(upto);
        };
        // `end` bounds where the prefix's first byte is looked for.
        let mut end = upto.checked_add(1)?.min(subject.len());
        loop {
            let at = memchr::memrchr(*first, subject.get(..end)?)?;
            if subject
                .get(at..)
                .is_some_and(|s| s.starts_with(&self.prefix))
            {
                return Some(at);
            }
            end = at;
        }
    }
}
