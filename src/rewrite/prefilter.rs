//! The URI prefilter: every regex of a file that tests `$uri` (the `rewrite` rules, `if ($uri
//! ~ …)` conditions, `location ~` blocks), compiled once into one multi-pattern automaton, so
//! that one scan of the current `$uri` says which of them can match.
//!
//! Evaluation stays exactly nginx's: directives still run one by one, in order. The scan only
//! answers "no match" for a regex without running it (rules it rules out in a row are passed
//! in one step, [`Rule::run`]), and a regex that does match is still run on its own for its
//! groups (or later, if nothing reads them; see `Captures`). The scan is valid until a rule
//! changes `$uri`; then the next regex on `$uri` scans again, unless the rule always writes the
//! same path, whose scan was made at load ([`Rule::scan_after`]).
//!
//! Only patterns on the meta engine take part ([`ByteRegex::prefilter_source`]): they read the
//! same text the same way in the set as alone. The set compiles PCRE's `$` as `\z`, which is
//! exact for every subject that does not end in `\n`; for one that does (a request for
//! `…%0A`), and for files whose regexes together outgrow [`SIZE_LIMIT`], every regex runs on its
//! own, as without a prefilter.
//!
//! [`ByteRegex::prefilter_source`]: super::pcre::ByteRegex::prefilter_source

use std::fmt;
use std::panic::{RefUnwindSafe, UnwindSafe};

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::pool::Pool;
use regex_automata::{Input, MatchKind};

use super::location::{Location, Matcher};
use super::pcre::syntax_config;
use super::rule::{Action, Rule};
use super::script::{Condition, Pattern, Stmt};
use super::vars::Var;

/// Bound on the compiled set (all of a file's `$uri` regexes together; each is also bound on
/// its own). Beyond it the file runs without a prefilter.
const SIZE_LIMIT: usize = 8 << 20;
/// The scan's lazy-DFA cache (one per thread that evaluates the file).
const DFA_LIMIT: usize = 1 << 20;
/// Words of answers (64 patterns each) a scan keeps without allocating.
const INLINE_WORDS: usize = 4;
/// How much of the last `$uri` a thread remembers the scan of (see [`ScanCache`]).
const MEMO_LEN: usize = 256;

/// A file's `$uri` regexes as one automaton.
#[derive(Clone, Debug, Default)]
pub(crate) struct UriPrefilter {
    /// `None` when no regex takes part, or the set outgrew its bound.
    scanner: Option<Scanner>,
}

/// Makes a scan cache for a thread that has none in the pool.
type MakeCache = Box<dyn Fn() -> ScanCache + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// The set as a lazy DFA that reports, at the end of `$uri`, every pattern that matched.
struct Scanner {
    dfa: DFA,
    caches: Pool<ScanCache, MakeCache>,
    patterns: usize,
}

/// A thread's lazy-DFA cache, and where its last scan went.
///
/// A DFA's state after some bytes depends on those bytes only, and the requests a
/// provisioning server sees share their directories (`/provision/`, a tenant's directory). So
/// the state after each `/` of the last scan is kept, and a scan starts after the last `/` of
/// the part of `$uri` the last one shared (a cleared cache renumbers its states: then it
/// starts over).
struct ScanCache {
    dfa: Cache,
    /// The last `$uri` scanned (its first [`MEMO_LEN`] bytes).
    last: Vec<u8>,
    /// (length, state after that many bytes) at each `/` of `last`.
    marks: Vec<(usize, LazyStateID)>,
    /// `dfa.clear_count()` when `marks` were recorded.
    clears: usize,
}

impl Scanner {
    fn new(dfa: DFA, patterns: usize) -> Scanner {
        let for_pool = dfa.clone();
        let make: MakeCache = Box::new(move || ScanCache {
            dfa: for_pool.create_cache(),
            last: Vec::new(),
            marks: Vec::new(),
            clears: 0,
        });
        Scanner {
            dfa,
            caches: Pool::new(make),
            patterns,
        }
    }

    /// Sets in `matches` the patterns that match somewhere in `uri`; `false` if the lazy DFA
    /// could not answer (then nothing is known).
    fn scan(&self, uri: &[u8], matches: &mut Bits) -> bool {
        let mut guard = self.caches.get();
        let memo: &mut ScanCache = &mut guard;
        // How much of `uri` the last scan went through, and the last mark within it.
        let shared = if memo.clears == memo.dfa.clear_count() {
            shared_len(&memo.last, uri)
        } else {
            0
        };
        let kept = memo.marks.partition_point(|&(len, _)| len <= shared);
        memo.marks.truncate(kept);
        let (from, mut state) = match memo.marks.last() {
            Some(&mark) => mark,
            None => match self
                .dfa
                .start_state_forward(&mut memo.dfa, &Input::new(uri))
            {
                Ok(state) => (0, state),
                Err(_) => return false,
            },
        };
        let clears = memo.dfa.clear_count();
        let mut failed = false;
        let rest = uri.get(from..).unwrap_or_default();
        for (at, &byte) in (from + 1..).zip(rest) {
            state = match self.dfa.next_state(&mut memo.dfa, state, byte) {
                Ok(next) => next,
                Err(_) => {
                    failed = true;
                    break;
                }
            };
            if byte == b'/' && at <= MEMO_LEN {
                memo.marks.push((at, state));
            }
        }
        let end = match failed {
            false => self.dfa.next_eoi_state(&mut memo.dfa, state).ok(),
            true => None,
        };
        memo.last.clear();
        if failed || memo.dfa.clear_count() != clears {
            // States recorded before the cache was cleared mean nothing now.
            memo.marks.clear();
        } else {
            memo.last
                .extend_from_slice(uri.get(..MEMO_LEN).unwrap_or(uri));
        }
        memo.clears = memo.dfa.clear_count();
        let Some(end) = end else {
            return false;
        };
        if end.is_match() {
            for i in 0..self.dfa.match_len(&memo.dfa, end) {
                matches.set(self.dfa.match_pattern(&memo.dfa, end, i).as_usize());
            }
        }
        true
    }
}

/// How many first bytes `a` and `b` share (compared eight at a time).
fn shared_len(a: &[u8], b: &[u8]) -> usize {
    let words = a
        .chunks_exact(8)
        .zip(b.chunks_exact(8))
        .take_while(|(x, y)| x == y)
        .count();
    let done = words * 8;
    let (a, b) = (
        a.get(done..).unwrap_or_default(),
        b.get(done..).unwrap_or_default(),
    );
    done + a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

impl Clone for Scanner {
    fn clone(&self) -> Scanner {
        Scanner::new(self.dfa.clone(), self.patterns)
    }
}

impl fmt::Debug for Scanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scanner")
            .field("patterns", &self.patterns)
            .finish_non_exhaustive()
    }
}

impl UriPrefilter {
    /// Numbers every `$uri` regex of the file that can take part ([`Pattern::prefilter`]) and
    /// compiles them into one automaton.
    pub fn build(server: &mut [Stmt], locations: &mut [Location]) -> UriPrefilter {
        let mut patterns = Vec::new();
        collect_stmts(server, &mut patterns);
        collect_locations(locations, &mut patterns);
        let mut sources = Vec::new();
        for pattern in patterns {
            if let Some(source) = pattern.regex.prefilter_source() {
                pattern.prefilter = Some(sources.len());
                // "P matches somewhere" as "P, then anything up to the end": every pattern then
                // matches only at the end of `$uri`, so the state the scan ends in holds every
                // pattern that matched.
                sources.push(format!("(?:{source})(?s-u:.)*\\z"));
            }
        }
        if sources.is_empty() {
            return UriPrefilter { scanner: None };
        }
        let nfa = thompson::Compiler::new()
            .syntax(syntax_config())
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .which_captures(WhichCaptures::None)
                    .nfa_size_limit(Some(SIZE_LIMIT)),
            )
            .build_many(&sources);
        let dfa = nfa.ok().and_then(|nfa| {
            DFA::builder()
                .configure(
                    DFA::config()
                        .match_kind(MatchKind::All)
                        .cache_capacity(DFA_LIMIT),
                )
                .build_from_nfa(nfa)
                .ok()
        });
        let Some(scanner) = dfa.map(|dfa| Scanner::new(dfa, sources.len())) else {
            return UriPrefilter { scanner: None };
        };
        number_runs(server);
        for loc in locations.iter_mut() {
            number_runs_in_location(loc);
        }
        // A rule that always writes the same path has that path's scan ready.
        let mut rules = Vec::new();
        rules_of(server, &mut rules);
        for loc in locations {
            rules_of_location(loc, &mut rules);
        }
        for rule in rules {
            if matches!(rule.action, Action::Redirect(_)) {
                continue;
            }
            let Some(path) = rule.replacement.constant_path() else {
                continue;
            };
            let mut matches = Bits::new(scanner.patterns);
            if path.last() != Some(&b'\n') && scanner.scan(&path, &mut matches) {
                rule.scan_after = Some(KnownScan(matches));
            }
        }
        UriPrefilter {
            scanner: Some(scanner),
        }
    }
}

/// Sets [`Rule::run`] in a block (and the blocks inside it).
fn number_runs(stmts: &mut [Stmt]) {
    let mut next: Option<(usize, usize)> = None;
    for stmt in stmts.iter_mut().rev() {
        next = match stmt {
            Stmt::Rewrite(rule) => match rule.pattern.prefilter {
                Some(index) => {
                    rule.run = match next {
                        Some((following, run)) if following == index + 1 => run + 1,
                        _ => 1,
                    };
                    Some((index, rule.run))
                }
                None => None,
            },
            Stmt::If { body, .. } => {
                number_runs(body);
                None
            }
            Stmt::Set { .. } | Stmt::Return(_) | Stmt::Break => None,
        };
    }
}

fn number_runs_in_location(loc: &mut Location) {
    number_runs(&mut loc.body);
    for child in &mut loc.children {
        number_runs_in_location(child);
    }
}

/// The scan of a path known at load time.
#[derive(Clone, Debug)]
pub(crate) struct KnownScan(Bits);

fn rules_of<'a>(stmts: &'a mut [Stmt], out: &mut Vec<&'a mut Rule>) {
    for stmt in stmts {
        match stmt {
            Stmt::Rewrite(rule) => out.push(rule),
            Stmt::If { body, .. } => rules_of(body, out),
            Stmt::Set { .. } | Stmt::Return(_) | Stmt::Break => {}
        }
    }
}

fn rules_of_location<'a>(loc: &'a mut Location, out: &mut Vec<&'a mut Rule>) {
    rules_of(&mut loc.body, out);
    for child in &mut loc.children {
        rules_of_location(child, out);
    }
}

fn collect_stmts<'a>(stmts: &'a mut [Stmt], out: &mut Vec<&'a mut Pattern>) {
    for stmt in stmts {
        match stmt {
            Stmt::Rewrite(rule) => out.push(&mut rule.pattern),
            Stmt::If { cond, body } => {
                if let Condition::Matches {
                    var: Var::Uri,
                    pattern,
                    ..
                } = cond
                {
                    out.push(pattern);
                }
                collect_stmts(body, out);
            }
            Stmt::Set { .. } | Stmt::Return(_) | Stmt::Break => {}
        }
    }
}

fn collect_locations<'a>(locations: &'a mut [Location], out: &mut Vec<&'a mut Pattern>) {
    for loc in locations {
        if let Matcher::Regex(pattern) = &mut loc.matcher {
            out.push(pattern);
        }
        collect_stmts(&mut loc.body, out);
        collect_locations(&mut loc.children, out);
    }
}

/// Which patterns a scan found: a bit each.
#[derive(Clone, Debug)]
enum Bits {
    Inline([u64; INLINE_WORDS]),
    Heap(Vec<u64>),
}

impl Bits {
    fn new(patterns: usize) -> Bits {
        let words = patterns.div_ceil(64);
        if words <= INLINE_WORDS {
            Bits::Inline([0; INLINE_WORDS])
        } else {
            Bits::Heap(vec![0; words])
        }
    }

    fn words(&mut self) -> &mut [u64] {
        match self {
            Bits::Inline(words) => words,
            Bits::Heap(words) => words,
        }
    }

    fn clear(&mut self) {
        self.words().fill(0);
    }

    fn set(&mut self, i: usize) {
        if let Some(word) = self.words().get_mut(i / 64) {
            *word |= 1 << (i % 64);
        }
    }

    /// The first pattern in `from..to` whose bit is set.
    fn first_set(&self, from: usize, to: usize) -> Option<usize> {
        let words = match self {
            Bits::Inline(words) => &words[..],
            Bits::Heap(words) => &words[..],
        };
        let mut i = from;
        while i < to {
            let word = words.get(i / 64)? >> (i % 64);
            if word != 0 {
                let found = i + word.trailing_zeros() as usize;
                return (found < to).then_some(found);
            }
            i = (i / 64 + 1) * 64;
        }
        None
    }

    fn get(&self, i: usize) -> bool {
        let words = match self {
            Bits::Inline(words) => &words[..],
            Bits::Heap(words) => &words[..],
        };
        words
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }
}

/// One request's view of the prefilter: the last scan, valid while `$uri` stays the same.
pub(crate) struct UriScan<'r> {
    prefilter: &'r UriPrefilter,
    matches: Bits,
    state: ScanState,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ScanState {
    /// `$uri` changed since the last scan (or none ran yet).
    Stale,
    /// `matches` holds the scan of the current `$uri`.
    Fresh,
    /// The scan does not apply to the current `$uri`: every regex runs.
    Unusable,
}

impl<'r> UriScan<'r> {
    pub fn new(prefilter: &'r UriPrefilter) -> UriScan<'r> {
        let patterns = prefilter.scanner.as_ref().map_or(0, |s| s.patterns);
        UriScan {
            prefilter,
            matches: Bits::new(patterns),
            state: ScanState::Stale,
        }
    }

    /// A rule wrote `$uri`: its scan is known if the rule always writes the same path,
    /// else the next question scans again.
    pub fn rewritten(&mut self, known: Option<&KnownScan>) {
        match known {
            Some(KnownScan(bits)) => {
                self.matches.clone_from(bits);
                self.state = ScanState::Fresh;
            }
            None => self.state = ScanState::Stale,
        }
    }

    /// Whether the current scan already says the regex numbered `index` does not match (no
    /// scan is run: a stale or missing one says nothing).
    #[inline]
    pub fn rules_out(&self, index: Option<usize>) -> bool {
        match index {
            Some(i) if self.state == ScanState::Fresh => !self.matches.get(i),
            _ => false,
        }
    }

    /// For a `rewrite` numbered `index` at the start of a run of `run` (see [`Rule::run`]):
    /// when the current scan rules it out, how many of the run it rules out in a row (those
    /// fail without running); `None` when it does not.
    #[inline]
    pub fn ruled_out_run(&self, index: Option<usize>, run: usize) -> Option<usize> {
        let index = index?;
        if self.state != ScanState::Fresh || self.matches.get(index) {
            return None;
        }
        let end = index.saturating_add(run.max(1));
        Some(
            self.matches
                .first_set(index + 1, end)
                .map_or(run.max(1), |next| next - index),
        )
    }

    /// Whether the last answer of [`Self::can_match`] came from a scan (so `true` meant "does
    /// match").
    pub fn is_fresh(&self) -> bool {
        self.state == ScanState::Fresh
    }

    /// Whether the regex numbered `index` can match `uri`, which must be the current `$uri`:
    /// `false` only when it certainly does not.
    pub fn can_match(&mut self, index: usize, uri: &[u8]) -> bool {
        if self.state == ScanState::Stale {
            self.matches.clear();
            self.state = match &self.prefilter.scanner {
                Some(scanner)
                    if uri.last() != Some(&b'\n') && scanner.scan(uri, &mut self.matches) =>
                {
                    ScanState::Fresh
                }
                _ => ScanState::Unusable,
            };
        }
        match self.state {
            ScanState::Fresh => self.matches.get(index),
            ScanState::Stale | ScanState::Unusable => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rewrite::pcre::FANCY_ONLY;
    use crate::rewrite::{Outcome, RewriteInput, RuleSet};

    use crate::rewrite::rewrite_gen;

    /// The rules as they loaded before the prefilter: every regex on `fancy-regex`, none in a
    /// prefilter, each run on its own.
    fn reference(text: &str) -> RuleSet {
        FANCY_ONLY.with(|f| f.set(true));
        let rules = RuleSet::parse(text);
        FANCY_ONLY.with(|f| f.set(false));
        let rules = rules.unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(rules.prefilter.scanner.is_none());
        rules
    }

    fn both(text: &str) -> (RuleSet, RuleSet) {
        let fast = RuleSet::parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert!(fast.prefilter.scanner.is_some(), "{text}");
        (fast, reference(text))
    }

    /// What the rules answer for `target` (the path and query, or the answer).
    fn answer(rules: &RuleSet, target: &str) -> String {
        match rules.apply(&RewriteInput::new(target).with_host("pbx")) {
            Outcome::Internal(i) => String::from_utf8_lossy(&i.upstream_target()).into_owned(),
            Outcome::Redirect(r) => format!(
                "{} {}",
                r.status.code(),
                String::from_utf8_lossy(&r.location)
            ),
            Outcome::Return(r) => format!(
                "{} {}",
                r.status,
                String::from_utf8_lossy(r.body.as_deref().or(r.location.as_deref()).unwrap_or(b""))
            ),
            other => format!("{:?}", other.status()),
        }
    }

    /// Each (target, answer), with the prefilter and by the reference, and the two the same
    /// in every detail.
    fn check(text: &str, cases: &[(&str, &str)]) {
        let (fast, reference) = both(text);
        for &(target, expected) in cases {
            let input = RewriteInput::new(target).with_host("pbx");
            assert_eq!(
                fast.apply(&input),
                reference.apply(&input),
                "{target}\n{text}"
            );
            assert_eq!(answer(&fast, target), expected, "{target}\n{text}");
        }
    }

    #[test]
    fn a_later_rule_sees_the_path_an_earlier_one_wrote() {
        // Flagless rules hand their result on: the scan of the old path must not be used for
        // the new one, whether the path is built from captures or always the same.
        check(
            "rewrite ^/a/(.*)$ /b/$1;\n\
             rewrite ^/b/(.*)$ /c/$1;\n\
             rewrite ^/c/x$ /fixed;\n\
             rewrite ^/fixed$ /done last;\n\
             rewrite ^/b/ /never last;",
            &[
                ("/a/x", "/done"),
                ("/a/y", "/c/y"),
                ("/b/x", "/done"),
                ("/fixed", "/done"),
                ("/z", "/z"),
            ],
        );
        // `last` in a location: the locations are searched again with the new path.
        check(
            "location / { rewrite ^/one/(.*) /two/$1 last; }\n\
             location /two/ { rewrite ^/two/(.*)$ /three?v=$1 last; }\n\
             location ~ ^/three { return 200 $args; }",
            &[
                ("/one/x", "200 v=x"),
                ("/two/y", "200 v=y"),
                ("/other", "/other"),
            ],
        );
    }

    #[test]
    fn if_blocks_and_case_insensitive_regexes() {
        check(
            "if ($uri !~* ^.*(provision|xml_cdr|firmware).*$) {\n\
                 rewrite ^(.*) https://$host$1 permanent;\n\
                 break;\n\
             }\n\
             if ($uri ~* ^.*/api/.*$) {\n\
                 rewrite ^(.*)/api/(.*)$ $1/api/index.php?rewrite_uri=$2 last;\n\
             }\n\
             if ($uri ~ ^/provision/(x)) { set $v $1; }\n\
             rewrite \"^.*/provision/([A-Fa-f0-9]{12})(\\.(xml|cfg))?$\" /p?mac=$1&v=$v last;\n\
             location ~* \\.PHP$ { return 200 php:$1; }\n\
             set $v \"\";",
            &[
                // `~*` tests ignore case; the rewrites do not.
                ("/x/PROVISION/0004f2a1b2c3", "/x/PROVISION/0004f2a1b2c3"),
                ("/x/provision/0004F2A1B2C3.cfg", "/p?mac=0004F2A1B2C3&v="),
                ("/provision/xy", "/provision/xy"),
                ("/provision/API/v1", "/provision/API/v1"),
                // … to `index.php`, which the `~*` location then takes.
                ("/provision/api/v1", "200 php:"),
                ("/other", "301 https://pbx/other"),
                ("/firmware/a.php", "200 php:"),
            ],
        );
    }

    #[test]
    fn backtracking_regexes_run_among_the_prefiltered_ones() {
        // Lookaround and backreferences stay on fancy-regex, outside the set, in their place.
        check(
            "rewrite ^/a/(.*)$ /b/$1;\n\
             rewrite \"^/b/(?!x)([a-z])\" /neg/$1 last;\n\
             rewrite \"^/b/(x)\\1$\" /double last;\n\
             rewrite \"(?<=/b/)x(.*)\" /after/$1 last;\n\
             rewrite ^/b/ /plain last;",
            &[
                ("/a/q", "/neg/q"),
                ("/a/xx", "/double"),
                ("/a/xyz", "/after/yz"),
                ("/b/1", "/plain"),
            ],
        );
    }

    #[test]
    fn a_path_ending_in_a_newline_runs_every_regex() {
        // `$` before a final `\n` is not in the set (which compiles `$` as the end).
        check(
            "rewrite ^/a$ /dollar last;\n\
             rewrite ^/a\\n /newline last;",
            &[("/a%0A", "/dollar"), ("/a", "/dollar"), ("/b%0A", "/b%0A")],
        );
    }

    #[test]
    fn captures_read_late_are_those_of_the_last_match() {
        // A location regex that matched leaves its groups for a `return`; a failed `rewrite`
        // clears them; an `if` regex sets them.
        check(
            "location ~ ^/l/(.*)$ { rewrite ^/nomatch /x; return 200 [$1]; }\n\
             location ~ ^/m/(.*)$ { return 200 [$1]; }\n\
             location / { if ($uri ~ ^/(i)/) { return 200 [$1]; } return 200 none[$1]; }",
            &[
                ("/l/abc", "200 []"),
                ("/m/abc", "200 [abc]"),
                ("/i/x", "200 [i]"),
                ("/j/x", "200 none[]"),
            ],
        );
    }

    /// The scan's memory of the last path: a path sharing directories with the previous one
    /// resumes there; the answers are those of a scan from the start.
    #[test]
    fn resuming_after_shared_directories_changes_nothing() {
        let text =
            std::fs::read_to_string("tests/data/rewrite/fusionpbx-install.conf").expect("fixture");
        let rules = RuleSet::parse(&text).expect("loads");
        let scanner = rules.prefilter.scanner.as_ref().expect("a scanner");
        let paths = [
            "/provision/cfg000b82123456.xml",
            "/provision/cfg000b82123456.xml",
            "/provision/Grandstream/cfg000b82123456",
            "/provision/Grandstream/",
            "/provision/",
            "/provision",
            "/app/provision/",
            "/app/provision/index.php",
            "/",
            "",
            "/provision/.htaccess",
            "/provision/0004f2123456-phone.cfg",
        ];
        for path in paths {
            let mut resumed = Bits::new(scanner.patterns);
            assert!(scanner.scan(path.as_bytes(), &mut resumed));
            let fresh_scanner = scanner.clone();
            let mut fresh = Bits::new(scanner.patterns);
            assert!(fresh_scanner.scan(path.as_bytes(), &mut fresh));
            let list = |b: &Bits| {
                (0..scanner.patterns)
                    .filter(|&i| b.get(i))
                    .collect::<Vec<_>>()
            };
            assert_eq!(list(&resumed), list(&fresh), "{path}");
        }
    }

    #[test]
    fn runs_of_ruled_out_rules_are_skipped_to_the_next_candidate() {
        let mut bits = Bits::new(200);
        for i in [3, 70, 130] {
            bits.set(i);
        }
        assert_eq!(bits.first_set(0, 200), Some(3));
        assert_eq!(bits.first_set(4, 200), Some(70));
        assert_eq!(bits.first_set(4, 70), None);
        assert_eq!(bits.first_set(71, 131), Some(130));
        assert_eq!(bits.first_set(131, 200), None);
        assert_eq!(bits.first_set(199, 1_000), None);
    }

    /// Generated rule files (every directive, condition, flag and variable; regexes that need
    /// backtracking among them) and requests: with the prefilter and the meta engine, the
    /// answers are the reference's in every detail.
    #[test]
    fn generated_rules_answer_as_the_reference_does() {
        let mut rng = rewrite_gen::Rng::new(20);
        let mut compared = 0;
        for _ in 0..60 {
            let text = rewrite_gen::rule_file(&mut rng);
            let fast = RuleSet::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
            let reference = reference(&text);
            for _ in 0..60 {
                let req = rewrite_gen::request(&mut rng);
                let input = RewriteInput::new(&req.target)
                    .with_host("g.test")
                    .with_method(req.method)
                    .with_headers(&req.headers);
                assert_eq!(
                    fast.apply(&input),
                    reference.apply(&input),
                    "{}\n{text}",
                    req.target
                );
                compared += 1;
            }
        }
        assert_eq!(compared, 3_600);
    }

    /// The fixtures (FusionPBX's lists and server block among them) on their own corpus.
    #[test]
    fn the_fixtures_answer_as_the_reference_does() {
        let dir = std::path::Path::new("tests/data/rewrite");
        let mut targets: Vec<String> = Vec::new();
        for name in [
            "cfg000b82123456.xml",
            "0004f2a1b2c3-phone.cfg",
            "0004F2A1B2C3.cfg",
            "y000000000066.cfg",
            "algom0022EE123456.conf",
            "MN_0004f2a1b2c3.cfg",
            "phonebook.xml",
            "000000000000.cfg",
            "file/a.xml",
            "12345_Extern.xml",
            "pb0004f2a1b2c3/directory.xml",
            "-0004f2a1b2c3",
            "a.png",
            "index.php",
            ".htaccess",
            "x.db",
        ] {
            for dir in [
                "/provision/",
                "/x/provision/",
                "/app/provision/",
                "/",
                "/api/",
            ] {
                targets.push(format!("{dir}{name}"));
                targets.push(format!("{dir}{name}?a=1"));
            }
        }
        targets.extend(["/a/../b", "/%2e%2e/x", "/a%0A", "/+x", "/a//b/./c"].map(String::from));
        let mut files = 0;
        for entry in std::fs::read_dir(dir).expect("fixtures") {
            let path = entry.expect("entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("conf") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("fixture");
            let Ok(fast) = RuleSet::parse(&text) else {
                continue;
            };
            let reference = reference(&text);
            for target in &targets {
                let input = RewriteInput::new(target).with_host("pbx");
                assert_eq!(
                    fast.apply(&input),
                    reference.apply(&input),
                    "{} {target}",
                    path.display()
                );
            }
            files += 1;
        }
        assert!(files >= 5, "{files} fixtures");
    }
}
