//! Yealink common-file codes: `y0000000000XX.cfg` names a model family by a number that is
//! usually, but not always, the firmware major (vendors.md §4.4, from the FusionPBX templates,
//! cross-checked with Provisioner and Wazo). The phone knows its own code; this table only names
//! the model for keys, logs and templates, and picks the file a device's boot file includes.

/// `(code, models)`: the first model is the one a bare code is reported as.
const CODES: &[(u16, &[&str])] = &[
    (0, &["t28p"]),
    (4, &["t26p"]),
    (5, &["t22p"]),
    (7, &["t20p"]),
    (9, &["t18"]),
    (23, &["vp530"]),
    (25, &["w52p", "w56p"]),
    (28, &["t46g"]),
    (29, &["t42g"]),
    (32, &["t32g"]),
    (34, &["t21p"]),
    (35, &["t48g"]),
    (36, &["t41p"]),
    (37, &["cp860"]),
    (38, &["t38g"]),
    (44, &["t23p", "t23g"]),
    (45, &["t27p"]),
    (46, &["t29g"]),
    (51, &["t49g"]),
    (52, &["t21p_e2"]),
    (53, &["t19p_e2"]),
    (54, &["t40p"]),
    (56, &["t56a"]),
    (58, &["t58a", "t58v"]),
    (65, &["t48s"]),
    (66, &["t46s"]),
    (67, &["t42s"]),
    (68, &["t41s"]),
    (69, &["t27g"]),
    (70, &["t54s"]),
    (73, &["cp960"]),
    (74, &["t52s"]),
    (76, &["t40g"]),
    (77, &["w60b"]),
    (78, &["cp920"]),
    (91, &["vp59"]),
    (95, &["t53", "t53w"]),
    (96, &["t54w"]),
    (97, &["t57w"]),
    (107, &["t43u"]),
    (108, &["t46u"]),
    (109, &["t48u"]),
    (116, &["t42u"]),
    (123, &["t31g"]),
    (124, &["t33g"]),
    (143, &["cp965"]),
    (146, &["w70b"]),
    (148, &["cp925"]),
    (150, &["t58w"]),
    (171, &["t34w"]),
    (172, &["t31w"]),
    (174, &["t44w"]),
    (175, &["w80"]),
    (180, &["ax83h"]),
    (182, &["ax86r"]),
    (183, &["t73w"]),
    (184, &["t74w"]),
    (186, &["t73u"]),
    (187, &["t74u"]),
    (188, &["t77u"]),
    (192, &["t88v", "t88w"]),
    (196, &["t85w"]),
    (197, &["t87w"]),
];

/// The model a three-digit code names, e.g. `"066"` → `t46s`.
pub fn model_of(code: &str) -> Option<&'static str> {
    let n: u16 = code.parse().ok()?;
    CODES
        .iter()
        .find(|(c, _)| *c == n)
        .and_then(|(_, models)| models.first().copied())
}

/// The code of a model, e.g. `t46s` → 66; case-insensitive.
pub fn code_of(model: &str) -> Option<u16> {
    CODES
        .iter()
        .find(|(_, models)| models.iter().any(|m| m.eq_ignore_ascii_case(model)))
        .map(|(c, _)| *c)
}

/// Whether `model` is one of the models sharing `code` (so a T58V asking for `y000000000058.cfg`
/// is reported as a T58V, not as the table's first T58A).
pub fn code_covers(code: &str, model: &str) -> bool {
    let Ok(n) = code.parse::<u16>() else {
        return false;
    };
    CODES
        .iter()
        .any(|(c, models)| *c == n && models.iter().any(|m| m.eq_ignore_ascii_case(model)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_models_map_both_ways() {
        assert_eq!(model_of("066"), Some("t46s"));
        assert_eq!(model_of("000"), Some("t28p"));
        assert_eq!(model_of("150"), Some("t58w"));
        assert_eq!(model_of("999"), None);
        assert_eq!(code_of("T46S"), Some(66));
        assert!(code_covers("058", "t58v"));
        assert!(!code_covers("058", "t46s"));
        let mut seen = std::collections::HashSet::new();
        for (c, _) in CODES {
            assert!(seen.insert(c), "duplicate code {c}");
        }
    }
}
