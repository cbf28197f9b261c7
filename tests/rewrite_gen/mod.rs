//! A generator of nginx rule files and requests for the differential test: every directive of
//! the rewrite module (`rewrite` with each flag, `if` with each condition form, `set`, `return`
//! in each form, `break`), nested and regex `location` blocks, `allow`/`deny`, and every
//! variable provedge offers, drawn from one small vocabulary so that regexes, conditions and
//! requests meet often. Deterministic for a seed.

/// SplitMix64: small, fast and good enough to spread choices.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Regexes rules and `if` conditions test `$uri` with; several capture, some name groups, some
/// need the backtracking engine.
const URI_REGEXES: &[&str] = &[
    r"^/(a|b)/(.*)$",
    r"^/p/([a-z]+)\.(cfg|xml)$",
    r"^.*/provision/([A-Fa-f0-9]{12})(\.(xml|cfg))?$",
    r"^.*(provision|xml_cdr|firmware).*$",
    r"^(.*)/api/(.*)$",
    r"^/(?<n>[0-9a-f]{12})",
    r"(?i)^/A/(.+)",
    r"^/x(.*)",
    r"\.cfg$",
    r"^/[^/]+$",
    r"^/(?!x)([a-z])",
    r"^/(a)\1",
    r"^/(?P<f>[a-z]+)/(?P<g>[a-z.]*)",
    r"^/s/(.*?)(b*)$",
    r"(?<=/p/)([a-z]+)",
    r"^/b/(?:(c)|d)+",
    r"^/e/(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)",
    r"^",
    r"^/(.*)$",
    r"%",
    r"\+",
    r"é",
    r"[[:digit:]]{3}",
    r"^/c/(x)?(y)?$",
];

/// Regexes `if` tests other variables with.
const VALUE_REGEXES: &[&str] = &[
    r"^(\d+)$",
    r"(?<k>[a-z]+)=([^&]*)",
    r"^(GET|HEAD)$",
    r"^$",
    r"^Mozilla/(?<ver>[0-9.]+)",
    r"(?i)^yes",
    r"1",
];

/// Pieces of values: replacements, `set` values, `return` texts.
const PIECES: &[&str] = &[
    "/r",
    "/t/",
    "$1",
    "$2",
    "$3",
    "$10",
    "?q=$1",
    "?",
    "&z=2",
    "$args",
    "$query_string",
    "$uri",
    "$document_uri",
    "$is_args",
    "$arg_a",
    "$ARG_MAC",
    "$host",
    "$request_uri",
    "$http_x_test",
    "$http_user_agent",
    "$http_cookie",
    "$remote_addr",
    "$request_method",
    "$scheme",
    "$n",
    "$f",
    "$g",
    "$k",
    "$ver",
    "$v",
    "$w",
    "${uri}x",
    "%20",
    "%7b%24mac%7d",
    "é",
    "\\$1",
    "x",
    "-",
];

/// Request paths (the vocabulary the regexes above know, percent-encoding and `+` included).
const PATHS: &[&str] = &[
    "/a/x",
    "/b/y/z",
    "/p/abc.cfg",
    "/p/q.xml",
    "/x/provision/0004f2a1b2c3.cfg",
    "/provision/0004F2A1B2C3",
    "/app/xml_cdr/x",
    "/u/api/v1/things",
    "/0004f2a1b2c3-phone.cfg",
    "/A/Thing",
    "/a/Thing",
    "/xyz",
    "/x",
    "/file.cfg",
    "/s/aabb",
    "/b/cdcd",
    "/aa/x",
    "/e/abcdefghij",
    "/c/xy",
    "/c/y",
    "/c/",
    "/p/%61b.cfg",
    "/a/b%20c",
    "/a/b+c",
    "/a/%2B",
    "/%C3%A9/x",
    "/é/x",
    "/123/x",
    "/exact",
    "/exact/",
    "/nest/deep/x",
    "/nest/x.cfg",
    "/stop/x.cfg",
    "/loc/abc",
    "/deny/x",
    "/q",
    "/firmware/x.bin",
    "/a/x%0A",
    "/",
];

const QUERIES: &[&str] = &[
    "",
    "",
    "",
    "?a=1",
    "?a=0",
    "?mac=0004f2a1b2c3&a=x",
    "?a=1&b=%20",
    "?x=y+z",
    "?k=v",
    "?A=2",
    "?",
];

/// One generated request.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: &'static str,
    pub target: String,
    pub headers: Vec<(String, String)>,
}

pub fn request(rng: &mut Rng) -> Req {
    let method = rng.pick(&["GET", "GET", "GET", "POST", "HEAD", "PUT"]);
    let target = format!("{}{}", rng.pick(PATHS), rng.pick(QUERIES));
    let mut headers = Vec::new();
    if rng.chance(40) {
        let v = rng.pick(&["1", "yes", "0", "", "a=b", "YES please", "123"]);
        headers.push(("X-Test".to_owned(), v.to_owned()));
    }
    if rng.chance(40) {
        let v = rng.pick(&["Mozilla/5.0 (X11)", "Yealink SIP-T46S 66.86.0.15", "curl/8"]);
        headers.push(("User-Agent".to_owned(), v.to_owned()));
    }
    if rng.chance(20) {
        headers.push(("Cookie".to_owned(), "a=1".to_owned()));
        if rng.chance(50) {
            headers.push(("Cookie".to_owned(), "b=2".to_owned()));
        }
    }
    Req {
        method,
        target,
        headers,
    }
}

/// The text being generated: one directive or block opening per line, as the test's
/// `with_proxy` (which adds `proxy_pass` to every location for nginx) expects.
struct Out(String);

impl Out {
    fn line(&mut self, depth: usize, text: &str) {
        self.0.push_str(&"    ".repeat(depth));
        self.0.push_str(text);
        self.0.push('\n');
    }
}

fn value(rng: &mut Rng, max: usize) -> String {
    let mut out = String::new();
    append_value(rng, max, &mut out);
    out
}

/// Appends 1..=`max` pieces to `out`.
fn append_value(rng: &mut Rng, max: usize, out: &mut String) {
    for _ in 0..1 + rng.below(max) {
        let piece = rng.pick(PIECES);
        // A variable name runs on over letters and digits: keep the pieces apart.
        let tail = out.rsplit('$').next().unwrap_or("");
        let ends_in_name = out.contains('$')
            && !tail.is_empty()
            && tail.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if ends_in_name && piece.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            out.push('-');
        }
        out.push_str(piece);
    }
}

/// A replacement that nginx accepts: starts with `/`, a scheme, or a variable.
fn replacement(rng: &mut Rng) -> String {
    let start = rng.pick(&[
        "/",
        "/",
        "/",
        "/n/",
        "http://h.test/",
        "$scheme://$host/",
        "$uri",
    ]);
    let mut r = start.to_owned();
    append_value(rng, 4, &mut r);
    if rng.chance(15) {
        r.push('?');
    }
    r
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn rewrite(rng: &mut Rng, out: &mut Out, depth: usize) {
    let re = rng.pick(URI_REGEXES);
    let flag = rng.pick(&["", "", " last", " break", " redirect", " permanent"]);
    let repl = replacement(rng);
    out.line(
        depth,
        &format!("rewrite {} {}{flag};", quoted(re), quoted(&repl)),
    );
}

fn condition(rng: &mut Rng) -> String {
    match rng.below(9) {
        0 | 1 => {
            let op = rng.pick(&["~", "~*", "!~", "!~*"]);
            format!("($uri {op} {})", quoted(rng.pick(URI_REGEXES)))
        }
        2 => {
            let var = rng.pick(&[
                "$args",
                "$arg_a",
                "$http_user_agent",
                "$request_method",
                "$http_x_test",
                "$v",
            ]);
            let op = rng.pick(&["~", "~*", "!~"]);
            format!("({var} {op} {})", quoted(rng.pick(VALUE_REGEXES)))
        }
        3 | 4 => {
            let var = rng.pick(&["$arg_a", "$http_x_test", "$v", "$is_args", "$n", "$1"]);
            if var == "$1" {
                "($arg_a)".to_owned()
            } else {
                format!("({var})")
            }
        }
        5 | 6 => {
            let var = rng.pick(&["$arg_a", "$request_method", "$v", "$http_x_test", "$uri"]);
            let op = rng.pick(&["=", "!="]);
            let rhs = rng.pick(&["1", "POST", "", "yes", "$arg_a", "/x", "$1", "a$w"]);
            format!("({var} {op} {})", quoted(rhs))
        }
        7 => format!("( $uri ~ {} )", quoted(rng.pick(URI_REGEXES))),
        _ => format!("($request_method = {})", rng.pick(&["GET", "POST", "HEAD"])),
    }
}

fn ret(rng: &mut Rng, out: &mut Out, depth: usize) {
    let line = match rng.below(8) {
        0 => format!("return 200 {};", quoted(&value(rng, 4))),
        1 => format!(
            "return {} {};",
            rng.pick(&["301", "302", "303", "307", "308"]),
            quoted(&format!("/{}", value(rng, 3)))
        ),
        2 => format!(
            "return {};",
            quoted(&format!("http://h.test/{}", value(rng, 3)))
        ),
        3 => format!(
            "return {};",
            rng.pick(&["404", "403", "410", "204", "200", "500"])
        ),
        4 => format!("return 403 {};", quoted(&value(rng, 3))),
        5 => format!(
            "return 302 {};",
            quoted(&format!("$scheme://${{host}}{}", value(rng, 2)))
        ),
        6 => format!("return 418 {};", quoted("teapot $1")),
        _ => format!(
            "return 201 {};",
            quoted("$request_method $uri $is_args$args")
        ),
    };
    out.line(depth, &line);
}

fn set(rng: &mut Rng, out: &mut Out, depth: usize) {
    let var = rng.pick(&["$v", "$w", "$v", "$args"]);
    let v = if var == "$args" {
        rng.pick(&["a=1", "", "k=$1", "$args&s=1"]).to_string()
    } else {
        value(rng, 3)
    };
    out.line(depth, &format!("set {var} {};", quoted(&v)));
}

/// Directives of a block (server, location or `if`).
fn directives(rng: &mut Rng, out: &mut Out, depth: usize, n: usize, in_if: bool) {
    // nginx refuses a flag directive twice in one block.
    let (mut log, mut warn) = (false, false);
    for _ in 0..n {
        match rng.below(20) {
            0..=8 => rewrite(rng, out, depth),
            9..=10 => set(rng, out, depth),
            11..=12 => ret(rng, out, depth),
            13 => out.line(depth, "break;"),
            14 if !log => {
                log = true;
                out.line(depth, &format!("rewrite_log {};", rng.pick(&["on", "off"])));
            }
            15 if !warn => {
                warn = true;
                out.line(depth, "uninitialized_variable_warn off;");
            }
            _ if in_if => rewrite(rng, out, depth),
            _ => {
                let cond = condition(rng);
                out.line(depth, &format!("if {cond} {{"));
                let k = 1 + rng.below(3);
                directives(rng, out, depth + 1, k, true);
                out.line(depth, "}");
            }
        }
    }
}

fn location(
    rng: &mut Rng,
    out: &mut Out,
    depth: usize,
    parent: Option<&str>,
    used: &mut Vec<String>,
) {
    let (head, name) = match (parent, rng.below(7)) {
        (Some(p), 0..=3) => {
            let n = format!("{p}/{}", rng.pick(&["deep", "x", "y"]));
            (n.clone(), n)
        }
        (Some(_), _) => {
            let re = rng.pick(&[r"\.cfg$", r"^/nest/(?<n>x)"]);
            (format!("~ {}", quoted(re)), re.to_owned())
        }
        (None, 0) => ("= /exact".into(), "=/exact".into()),
        (None, 1) => ("^~ /stop".into(), "/stop".into()),
        (None, 2) => {
            let re = rng.pick(&[r"\.cfg$", r"\.XML$", r"^/loc/(?<n>[a-z]+)", r"^/(b)/"]);
            let m = if rng.chance(30) { "~*" } else { "~" };
            (format!("{m} {}", quoted(re)), re.to_owned())
        }
        (None, _) => {
            let p = rng.pick(&["/a", "/p", "/nest", "/deny", "/x", "/", "/c"]);
            (p.to_owned(), p.to_owned())
        }
    };
    if used.contains(&name) {
        return;
    }
    used.push(name.clone());
    out.line(depth, &format!("location {head} {{"));
    if name == "/deny" || rng.chance(10) {
        let rule = rng.pick(&[
            "deny all;",
            "deny 127.0.0.1;",
            "allow 10.0.0.0/8;\n        deny all;",
            "allow 127.0.0.1;\n        deny all;",
        ]);
        for l in rule.lines() {
            out.line(depth + 1, l.trim());
        }
    }
    let n = rng.below(4);
    directives(rng, out, depth + 1, n, false);
    if parent.is_none() && name.starts_with('/') && !name.starts_with("=") && rng.chance(40) {
        let mut inner = Vec::new();
        location(rng, out, depth + 1, Some(name.as_str()), &mut inner);
    }
    out.line(depth, "}");
}

/// A rule file: server-level directives, then locations, then declarations of every variable
/// the vocabulary uses (in a branch that never runs), so each file loads alone and in nginx.
pub fn rule_file(rng: &mut Rng) -> String {
    let mut out = Out(String::new());
    let n = rng.below(6);
    directives(rng, &mut out, 0, n, false);
    let mut used = Vec::new();
    for _ in 0..rng.below(5) {
        location(rng, &mut out, 0, None, &mut used);
    }
    out.line(0, "if ($request_method = NEVER) {");
    for v in ["v", "w", "n", "f", "g", "k", "ver"] {
        out.line(1, &format!("set ${v} \"\";"));
    }
    out.line(0, "}");
    out.0
}
