//! nginx rewrite rules: arbitrary text either loads or is refused with a reason; a rule file
//! that loads evaluates every target to an outcome (never a panic), and a pass-through keeps
//! the target, a rewrite leaves a non-empty URI, redirects are 301/302, returns are 200–599.
#![no_main]

use libfuzzer_sys::fuzz_target;
use provedge::rewrite::{Outcome, RewriteInput, RuleSet};

// The input is a rule file, a line `---`, then one request target per line (the seeds in
// fuzz/seeds/rewrite/ are the project's real rule files in this form).
fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (rules, targets) = text.split_once("\n---\n").unwrap_or((&text, "/"));
    let rules = match RuleSet::parse(rules) {
        Ok(rules) => rules,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    let headers = vec![("X-Test".to_owned(), "1".to_owned())];
    for target in targets.lines().take(16) {
        let req = RewriteInput::new(target)
            .with_host("pbx.example.com")
            .with_headers(&headers);
        match rules.apply(&req) {
            Outcome::Internal(pass) => {
                if pass.rewritten() {
                    assert!(!pass.uri().is_empty());
                } else {
                    assert_eq!(pass.upstream_target(), target.as_bytes().to_vec());
                }
            }
            Outcome::Redirect(r) => assert!([301, 302].contains(&r.status.code())),
            Outcome::Return(r) => assert!((200..600).contains(&r.status)),
            other => assert!(other.status().is_some()),
        }
    }
});
