//! Turning a row of the parity table into the request bytes a host receives, and a host's
//! answer into the list of its differences from the row's expectation.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use super::envoy_support::{copy_dir, repo, temp_dir, Resp};
use super::row::{Body, Header, Payload, Row, Value, MATTER};
use super::table;

/// The earlier answers of the host the table runs on, by row name.
pub type Answers = HashMap<&'static str, Resp>;

/// The request of `row` as bytes on the wire (`Connection: close`), with values taken from
/// earlier answers where the row says so.
pub fn request(row: &Row, answers: &Answers) -> Result<Vec<u8>, String> {
    let mut head = format!(
        "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        row.method, row.target, row.host
    );
    for (name, value) in &row.headers {
        let value = match value {
            Value::Text(text) => (*text).to_owned(),
            Value::EtagOf(earlier) => header_of(answer(answers, earlier)?, "etag")
                .ok_or_else(|| format!("row {earlier:?} answered no etag"))?,
            Value::Digest {
                challenge,
                user,
                password,
            } => {
                let challenges = header_of(answer(answers, challenge)?, "www-authenticate")
                    .ok_or_else(|| format!("row {challenge:?} answered no challenge"))?;
                digest_authorization(&challenges, row.method, row.target, user, password)?
            }
        };
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    let body: &[u8] = match row.payload {
        Payload::None => &[],
        Payload::Bytes(bytes) => {
            head.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
            bytes
        }
        Payload::DeclaredOnly(length) => {
            head.push_str(&format!("Content-Length: {length}\r\n"));
            &[]
        }
    };
    head.push_str("\r\n");
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    Ok(bytes)
}

fn answer<'a>(answers: &'a Answers, row: &str) -> Result<&'a Resp, String> {
    answers
        .get(row)
        .ok_or_else(|| format!("row {row:?} has no answer on this host"))
}

/// A header's value as HTTP means it: every field line of that name, joined with `, ` (so a
/// host that folds two `WWW-Authenticate` lines into one says the same as one that does not).
pub fn header_of(resp: &Resp, name: &str) -> Option<String> {
    let values: Vec<&str> = resp
        .headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

/// One way an answer differs from a row's expectation: the part (`status`, `body`, a header
/// name; `request` when the request could not be made, `answer` when none came) and how.
#[derive(Debug)]
pub struct Difference {
    pub part: String,
    pub how: String,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.part, self.how)
    }
}

impl Difference {
    pub fn new(part: &str, how: String) -> Difference {
        Difference {
            part: part.to_owned(),
            how,
        }
    }
}

/// How `resp` differs from what `row` expects; empty when it answers as the table says.
pub fn differences(
    row: &Row,
    resp: &Resp,
    answers: &Answers,
    reference: &Reference,
) -> Vec<Difference> {
    let mut out = Vec::new();
    let expect = &row.expect;
    if resp.status != expect.status {
        out.push(Difference::new(
            "status",
            format!(
                "expected {}, got {} ({})",
                expect.status,
                resp.status,
                preview(&resp.body)
            ),
        ));
    }
    let body = reference.body(&expect.body);
    let mut names: Vec<&str> = MATTER.to_vec();
    names.extend(
        expect
            .headers
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| !MATTER.contains(n)),
    );
    for name in names {
        let wanted = expect
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(&Header::Absent, |(_, h)| h);
        let got = header_of(resp, name);
        if let Err(why) = header_matches(wanted, got.as_deref(), name, &body, answers) {
            out.push(Difference::new(name, why));
        }
    }
    let same = match &expect.body {
        Body::Like(pattern) => glob(pattern, &String::from_utf8_lossy(&resp.body)),
        _ => resp.body == body,
    };
    if !same {
        out.push(Difference::new(
            "body",
            format!("expected {}, got {}", describe(&body), describe(&resp.body)),
        ));
    }
    out
}

fn header_matches(
    wanted: &Header,
    got: Option<&str>,
    name: &str,
    body: &[u8],
    answers: &Answers,
) -> Result<(), String> {
    let exact = |want: String| match got {
        Some(v) if v == want => Ok(()),
        other => Err(format!("expected {want:?}, got {}", show(other))),
    };
    match wanted {
        Header::Is(value) => exact((*value).to_owned()),
        Header::BodyEtag => exact(strong_etag(body)),
        Header::SameAs(earlier) => {
            let earlier_value = answers
                .get(earlier)
                .and_then(|r| header_of(r, name))
                .ok_or_else(|| format!("row {earlier:?} answered no {name} on this host"))?;
            exact(earlier_value)
        }
        Header::Like(pattern) => match got {
            Some(v) if glob(pattern, v) => Ok(()),
            other => Err(format!("expected like {pattern:?}, got {}", show(other))),
        },
        Header::Present => got
            .map(|_| ())
            .ok_or_else(|| "expected present, got absent".to_owned()),
        Header::Absent => match got {
            None => Ok(()),
            Some(v) => Err(format!("expected absent, got {v:?}")),
        },
    }
}

fn show(value: Option<&str>) -> String {
    value.map_or_else(|| "absent".to_owned(), |v| format!("{v:?}"))
}

/// The strong ETag of exactly these bytes: their XXH3-128, big-endian hex, quoted.
pub fn strong_etag(body: &[u8]) -> String {
    format!("\"{:032x}\"", xxhash_rust::xxh3::xxh3_128(body))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn describe(body: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    format!(
        "{} bytes, sha256 {}… ({})",
        body.len(),
        &hex(&Sha256::digest(body))[..16],
        preview(body)
    )
}

fn preview(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(100)]).into_owned();
    let more = if body.len() > 100 { "…" } else { "" };
    format!("{text:?}{more}")
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i == parts.len() - 1 {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// `Authorization: Digest …` (`qop=auth`) answering one of `challenges` as an RFC 7616
/// client does: the SHA-256 challenge, or the MD5 one when there is no SHA-256 challenge.
fn digest_authorization(
    challenges: &str,
    method: &str,
    uri: &str,
    user: &str,
    password: &str,
) -> Result<String, String> {
    use md5::Md5;
    use sha2::{Digest, Sha256};
    let (algorithm, params) = ["SHA-256", "MD5"]
        .into_iter()
        .find_map(|a| digest_params(challenges, a).map(|p| (a, p)))
        .ok_or_else(|| format!("no SHA-256 or MD5 Digest challenge in {challenges:?}"))?;
    let h = |s: String| match algorithm {
        "MD5" => hex(&Md5::digest(s.as_bytes())),
        _ => hex(&Sha256::digest(s.as_bytes())),
    };
    let field = |k: &str| {
        params
            .get(k)
            .cloned()
            .ok_or_else(|| format!("the challenge has no {k}: {challenges:?}"))
    };
    let (realm, nonce, opaque) = (field("realm")?, field("nonce")?, field("opaque")?);
    let cnonce = "0a4f113b";
    let ha1 = h(format!("{user}:{realm}:{password}"));
    let ha2 = h(format!("{method}:{uri}"));
    let response = h(format!("{ha1}:{nonce}:00000001:{cnonce}:auth:{ha2}"));
    Ok(format!(
        "Digest username=\"{user}\", realm=\"{realm}\", uri=\"{uri}\", algorithm={algorithm}, \
         nonce=\"{nonce}\", nc=00000001, cnonce=\"{cnonce}\", qop=auth, \
         response=\"{response}\", opaque=\"{opaque}\""
    ))
}

/// The parameters of the Digest challenge with this `algorithm` among `challenges` (several
/// challenges, possibly folded into one value).
fn digest_params(challenges: &str, algorithm: &str) -> Option<BTreeMap<String, String>> {
    challenges.split("Digest ").skip(1).find_map(|challenge| {
        let mut params = BTreeMap::new();
        let mut rest = challenge.trim().trim_end_matches(',');
        while !rest.is_empty() {
            let (key, after) = rest.split_once('=')?;
            let (value, after) = match after.strip_prefix('"') {
                Some(quoted) => {
                    let (v, a) = quoted.split_once('"')?;
                    (v, a)
                }
                None => after.split_once(',').unwrap_or((after, "")),
            };
            params.insert(key.trim().to_ascii_lowercase(), value.to_owned());
            rest = after.trim_start_matches([',', ' ']);
        }
        (params.get("algorithm").map(String::as_str) == Some(algorithm)).then_some(params)
    })
}

/// Where expected bodies come from: a pristine parity store (and the configuration file) for
/// `provedge render`, with renders remembered.
pub struct Reference {
    dir: PathBuf,
    store: PathBuf,
    config: PathBuf,
    renders: Mutex<HashMap<String, Vec<u8>>>,
}

impl Reference {
    pub fn new() -> Reference {
        let dir = temp_dir("parity-reference");
        let store = dir.join("store");
        copy_dir(&repo().join("examples/store"), &store);
        table::prepare(&store);
        let config = dir.join("parity.json");
        std::fs::write(&config, table::CONFIG).unwrap();
        Reference {
            dir,
            store,
            config,
            renders: Mutex::new(HashMap::new()),
        }
    }

    /// The bytes `body` stands for.
    pub fn body(&self, body: &Body) -> Vec<u8> {
        match body {
            Body::Empty => Vec::new(),
            Body::Text(text) | Body::Like(text) => text.as_bytes().to_vec(),
            Body::Golden(name) => read(&repo().join("tests/golden").join(name)),
            Body::Stored(key) => read(&self.store.join(key)),
            Body::StoredRange(key, start, end) => {
                read(&self.store.join(key))[*start..=*end].to_vec()
            }
            Body::Render(target, ua) => self.render(&self.store, Some(&self.config), target, *ua),
            Body::RenderIn(folder, target, ua) => {
                self.render(&self.store.join(folder), None, target, *ua)
            }
            Body::Md5Of(inner) => {
                use md5::{Digest, Md5};
                hex(&Md5::digest(self.body(inner))).into_bytes()
            }
        }
    }

    fn render(
        &self,
        store: &Path,
        config: Option<&Path>,
        target: &str,
        ua: Option<&str>,
    ) -> Vec<u8> {
        let key = format!("{}|{config:?}|{target}|{ua:?}", store.display());
        if let Some(bytes) = self.renders.lock().unwrap().get(&key) {
            return bytes.clone();
        }
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_provedge"));
        cmd.arg("render").arg("--store").arg(store);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        if let Some(ua) = ua {
            cmd.args(["--user-agent", ua]);
        }
        let out = cmd.arg(target).output().unwrap();
        assert!(
            out.status.success(),
            "the table's expectation `provedge render {target}` over {} failed: {}",
            store.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        self.renders.lock().unwrap().insert(key, out.stdout.clone());
        out.stdout
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_runs() {
        assert!(glob("a*c", "abbbc"));
        assert!(glob("a\"*\", b", "a\"x\", b"));
        assert!(!glob("a*c", "abbbd"));
        assert!(glob("abc", "abc"));
        assert!(!glob("abc", "abcd"));
    }

    #[test]
    fn digest_params_pick_the_algorithm() {
        let c = "Digest realm=\"r\", qop=\"auth\", algorithm=SHA-256, nonce=\"n1\", opaque=\"o\", \
                 Digest realm=\"r\", qop=\"auth\", algorithm=MD5, nonce=\"n2\", opaque=\"o\"";
        let p = digest_params(c, "SHA-256").unwrap();
        assert_eq!(p["nonce"], "n1");
        assert_eq!(digest_params(c, "MD5").unwrap()["nonce"], "n2");
    }
}
