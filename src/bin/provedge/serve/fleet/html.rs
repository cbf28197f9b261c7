//! The fleet pages as HTML: server-rendered, self-contained (no CDN, no external file), usable
//! without JavaScript and on a phone's screen.
//!
//! Everything shown comes from phones or the store, so every value goes through [`esc`] (text
//! and double-quoted attributes alike), and the page's [`CSP`] allows only its own inline
//! style and script, by hash: a value that escaped escaping still could not run. The one
//! script filters the table as you type; without it the same filter is the form's GET.
//! Time is an argument (`now`), as everywhere in provedge.

use std::fmt::Write as _;
use std::sync::LazyLock;

use provedge::access::rfc3339;
use provedge::store::DeviceRecord;

use super::query::{Direction, Query, SortKey};
use super::recent::Fetch;
use super::view::{Detail, Device, Listing, Record, Seen};

/// What a secret is shown as.
pub const MASK: &str = "••••••";

const STYLE: &str = r#"
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--mute:#59636e;--line:#d1d9e0;--head:#f6f8fa;--ok:#1a7f37;--warn:#9a6700;--bad:#cf222e;--new:#8250df}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--mute:#9198a1;--line:#3d444d;--head:#151b23;--ok:#3fb950;--warn:#d29922;--bad:#f85149;--new:#ab7df8}}
*{box-sizing:border-box}
body{margin:0;padding:1rem;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.3rem;margin:0 0 .6rem}h2{font-size:1.05rem;margin:1.3rem 0 .4rem}
a{color:inherit}
.mono,td.mac,td.ip,td.fw,td.file{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}
form.filters{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end;margin:0 0 .8rem}
form.filters label{display:flex;flex-direction:column;font-size:.85em;color:var(--mute);min-width:0}
input,select,button{font:inherit;color:var(--fg);background:var(--bg);padding:.3rem .45rem;border:1px solid var(--line);border-radius:6px;max-width:100%}
input[type=search]{width:16rem}
button{cursor:pointer}
.wrap{max-width:100%}
table{border-collapse:collapse;width:100%}
dl+table,table+table{margin-top:.7rem}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{background:var(--head);white-space:nowrap}
th a{text-decoration:none}th a:hover,th a:focus{text-decoration:underline}
tr[hidden]{display:none!important}
.never{color:var(--new);font-weight:600}
tr.unseen td:first-child{box-shadow:inset 3px 0 var(--new)}
.s2{color:var(--ok)}.s3{color:var(--warn)}.s4,.s5{color:var(--bad)}
.note{color:var(--mute)}
.problem{color:var(--bad)}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:var(--head);padding:.6rem;border-radius:6px;margin:0}
dl{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.15rem .9rem;margin:0}
dt{color:var(--mute)}dd{margin:0;overflow-wrap:anywhere}
@media (max-width:700px){
body{padding:.6rem}
table.cards thead{display:none}
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards tr{border:1px solid var(--line);border-radius:8px;margin:0 0 .6rem;padding:.3rem .55rem}
table.cards tr.unseen{border-left:4px solid var(--new)}
table.cards tr.unseen td:first-child{box-shadow:none}
table.cards td:empty{display:none}
table.cards td{display:flex;gap:.6rem;border:0;padding:.12rem 0}
table.cards td::before{content:attr(data-label);flex:0 0 6.2rem;color:var(--mute);font-family:system-ui,sans-serif}
form.filters label{flex:1 1 40%}
input[type=search]{width:100%}
}
"#;

const SCRIPT: &str = r#"
(function(){
var q=document.getElementById('q'),shown=document.getElementById('shown');
var rows=document.querySelectorAll('#devices tbody tr[data-search]');
if(!q||!rows.length)return;
q.addEventListener('input',function(){
var t=q.value.trim().toLowerCase(),bare=t.replace(/[:-]/g,''),n=0;
rows.forEach(function(r){
var s=r.getAttribute('data-search'),on=!t||s.indexOf(t)>=0||(bare!==t&&bare&&r.getAttribute('data-mac').indexOf(bare)>=0);
r.hidden=!on;if(on)n++;});
if(shown)shown.textContent=n;});
})();
"#;

/// `'sha256-…'` of an inline element's text, as CSP names it.
fn csp_hash(text: &str) -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The pages' Content-Security-Policy: nothing but their own inline style and script.
pub static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'",
        csp_hash(STYLE),
        csp_hash(SCRIPT)
    )
});

/// HTML-escapes text for element content and double- or single-quoted attributes.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Controls other than tab and newline have no business on a page.
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// The page around `body`.
fn page(title: &str, body: &str, script: bool) -> String {
    let mut out = String::with_capacity(body.len() + STYLE.len() + SCRIPT.len() + 512);
    out.push_str("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<meta name=\"robots\" content=\"noindex\">");
    let _ = write!(out, "<title>{} · provedge</title>", esc(title));
    let _ = write!(out, "<style>{STYLE}</style></head>\n<body>\n{body}");
    if script {
        let _ = write!(out, "<script>{SCRIPT}</script>");
    }
    out.push_str("\n</body></html>\n");
    out
}

/// A short page saying what went wrong (unknown tenant, no such device).
pub fn message(title: &str, text: &str) -> String {
    let body = format!(
        "<h1>{}</h1>\n<p>{}</p>\n<p><a href=\"/fleet\">Fleet</a></p>",
        esc(title),
        esc(text)
    );
    page(title, &body, false)
}

/// `2026-01-15 08:00:00 UTC`.
fn when(unix: u64) -> String {
    let t = rfc3339(unix.saturating_mul(1000));
    format!("{} {} UTC", &t[..10], &t[11..19])
}

/// `3 min ago`, `2 h ago`, `5 d ago`.
fn ago(unix: u64, now: u64) -> String {
    let secs = now.saturating_sub(unix);
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

fn status_cell(status: Option<u16>) -> String {
    match status {
        Some(s) => format!(
            "<td data-label=\"Status\" class=\"status s{}\">{s}</td>",
            s / 100
        ),
        None => "<td data-label=\"Status\" class=\"status\"></td>".into(),
    }
}

fn opt(v: Option<&str>) -> String {
    v.map(esc).unwrap_or_default()
}

fn tenant_label(tenant: Option<&str>) -> String {
    match tenant {
        Some(t) => format!("tenant {t}"),
        None => "default tenant".into(),
    }
}

/// What the list page shows.
pub struct ListPage<'a> {
    pub tenant: Option<&'a str>,
    /// Every tenant the picker offers (named ones; the default is always there).
    pub tenants: &'a [String],
    pub query: &'a Query,
    /// Filtered and sorted already.
    pub listing: &'a Listing,
    pub now: u64,
}

/// `/fleet`: a tenant's devices.
pub fn list(p: &ListPage<'_>) -> String {
    let mut b = String::with_capacity(512 + p.listing.devices.len() * 600);
    let _ = writeln!(
        b,
        "<h1>Fleet <span class=\"note\">{}</span></h1>",
        esc(&tenant_label(p.tenant))
    );
    filters(&mut b, p);
    summary(&mut b, p);
    b.push_str("<div class=\"wrap\" id=\"fleet-table\"><table class=\"cards\" id=\"devices\">\n<thead><tr>");
    let headers: [(&str, Option<SortKey>); 8] = [
        ("Vendor", Some(SortKey::Vendor)),
        ("Model", Some(SortKey::Model)),
        ("MAC", Some(SortKey::Mac)),
        ("Last fetch", Some(SortKey::Last)),
        ("Client", None),
        ("Firmware", None),
        ("Last file", None),
        ("Status", Some(SortKey::Status)),
    ];
    for (label, key) in headers {
        match key {
            Some(key) => {
                let current = p.query.sort == key;
                let (aria, arrow) = match (current, p.query.dir) {
                    (false, _) => ("", ""),
                    (true, Direction::Asc) => (" aria-sort=\"ascending\"", " ▲"),
                    (true, Direction::Desc) => (" aria-sort=\"descending\"", " ▼"),
                };
                let _ = write!(
                    b,
                    "<th scope=\"col\"{aria}><a id=\"sort-{}\" href=\"/fleet?{}\">{label}</a>{arrow}</th>",
                    key.name(),
                    esc(&p.query.header_link(key))
                );
            }
            None => {
                let _ = write!(b, "<th scope=\"col\">{label}</th>");
            }
        }
    }
    b.push_str("</tr></thead>\n<tbody>\n");
    let tenant_query = p.query.tenant_only();
    for device in &p.listing.devices {
        row(&mut b, device, &tenant_query, p.now);
    }
    b.push_str("</tbody></table></div>\n");
    if p.listing.devices.is_empty() {
        b.push_str("<p class=\"note\" id=\"empty\">No device matches.</p>\n");
    }
    for problem in &p.listing.problems {
        let _ = writeln!(b, "<p class=\"problem\">{}</p>", esc(problem));
    }
    page(&format!("Fleet, {}", tenant_label(p.tenant)), &b, true)
}

fn filters(b: &mut String, p: &ListPage<'_>) {
    b.push_str("<form class=\"filters\" method=\"get\" action=\"/fleet\" role=\"search\">\n");
    b.push_str(
        "<label>Tenant <select name=\"tenant\" id=\"tenant\"><option value=\"\">(default)</option>",
    );
    for t in p.tenants {
        let selected = if Some(t.as_str()) == p.tenant {
            " selected"
        } else {
            ""
        };
        let _ = write!(b, "<option value=\"{0}\"{selected}>{0}</option>", esc(t));
    }
    b.push_str("</select></label>\n");
    let _ = writeln!(
        b,
        "<label>Filter <input type=\"search\" name=\"q\" id=\"q\" value=\"{}\" \
         placeholder=\"MAC, vendor, model, IP, file\" autocomplete=\"off\"></label>",
        esc(&p.query.filter)
    );
    b.push_str("<label>Sort <select name=\"sort\" id=\"sort\">");
    for key in SortKey::ALL {
        let selected = if key == p.query.sort { " selected" } else { "" };
        let _ = write!(
            b,
            "<option value=\"{}\"{selected}>{}</option>",
            key.name(),
            sort_label(key)
        );
    }
    b.push_str("</select></label>\n<label>Order <select name=\"dir\" id=\"dir\">");
    for (dir, label) in [
        (Direction::Asc, "ascending"),
        (Direction::Desc, "descending"),
    ] {
        let selected = if dir == p.query.dir { " selected" } else { "" };
        let _ = write!(
            b,
            "<option value=\"{}\"{selected}>{label}</option>",
            dir.name()
        );
    }
    b.push_str("</select></label>\n<button type=\"submit\" id=\"apply\">Show</button>\n</form>\n");
}

fn sort_label(key: SortKey) -> &'static str {
    match key {
        SortKey::Mac => "MAC",
        SortKey::Vendor => "vendor",
        SortKey::Model => "model",
        SortKey::Last => "last fetch",
        SortKey::Status => "status",
    }
}

fn summary(b: &mut String, p: &ListPage<'_>) {
    let l = p.listing;
    let never = l.devices.iter().filter(|d| d.never_seen()).count();
    let _ = write!(
        b,
        "<p class=\"note\" id=\"summary\"><span id=\"shown\">{}</span> of {} devices shown \
         ({never} never seen); {} device records, {} last-seen records in the store.",
        l.devices.len(),
        l.read,
        l.records,
        l.seen
    );
    if l.truncated {
        let _ = write!(
            b,
            " <strong id=\"truncated\">Only the first {} devices by MAC are read \
             (server.fleet.max_devices).</strong>",
            l.max_devices
        );
    }
    b.push_str("</p>\n");
}

fn row(b: &mut String, d: &Device, tenant_query: &str, now: u64) {
    let mac = d.mac.to_string();
    let class = if d.never_seen() {
        " class=\"unseen\""
    } else {
        ""
    };
    let _ = write!(
        b,
        "<tr data-mac=\"{mac}\" data-search=\"{}\"{class}>",
        esc(&d.search_text())
    );
    let _ = write!(
        b,
        "<td data-label=\"Vendor\" class=\"vendor\">{}</td><td data-label=\"Model\" class=\"model\">{}</td>",
        opt(d.vendor.as_deref()),
        opt(d.model.as_deref())
    );
    let href = if tenant_query.is_empty() {
        format!("/fleet/device/{mac}")
    } else {
        format!("/fleet/device/{mac}?{tenant_query}")
    };
    let _ = write!(
        b,
        "<td data-label=\"MAC\" class=\"mac\"><a href=\"{}\">{mac}</a>{}</td>",
        esc(&href),
        match &d.record {
            Record::Stored => String::new(),
            Record::Absent => " <span class=\"note\">(no record)</span>".into(),
            Record::Unreadable(_) => " <span class=\"problem\">(unreadable record)</span>".into(),
        }
    );
    match &d.seen {
        None => b.push_str(
            "<td data-label=\"Last fetch\" class=\"last\"><span class=\"never\">never seen</span></td>\
             <td data-label=\"Client\" class=\"ip\"></td><td data-label=\"Firmware\" class=\"fw\"></td>\
             <td data-label=\"Last file\" class=\"file\"></td>",
        ),
        Some(s) => {
            let _ = write!(
                b,
                "<td data-label=\"Last fetch\" class=\"last\" data-unix=\"{}\"><time datetime=\"{}\">{}</time> \
                 <span class=\"note\">{}</span></td>",
                s.unix,
                esc(&rfc3339(s.unix.saturating_mul(1000))),
                when(s.unix),
                ago(s.unix, now)
            );
            let _ = write!(
                b,
                "<td data-label=\"Client\" class=\"ip\">{}</td><td data-label=\"Firmware\" class=\"fw\">{}</td>\
                 <td data-label=\"Last file\" class=\"file\">{}</td>",
                s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
                opt(d.firmware.as_deref()),
                opt(s.file.as_deref())
            );
        }
    }
    b.push_str(&status_cell(d.seen.as_ref().and_then(|s| s.status)));
    b.push_str("</tr>\n");
}

/// What the device page shows.
pub struct DevicePage<'a> {
    pub tenant: Option<&'a str>,
    pub query: &'a Query,
    pub detail: &'a Detail,
    pub now: u64,
}

/// `/fleet/device/<mac>`: one device, secrets masked.
pub fn device(p: &DevicePage<'_>) -> String {
    let d = p.detail;
    let mac = d.mac.to_string();
    let mut b = String::with_capacity(4096);
    let back = match p.query.tenant_only() {
        t if t.is_empty() => "/fleet".to_owned(),
        t => format!("/fleet?{t}"),
    };
    let _ = write!(
        b,
        "<p><a href=\"{}\" id=\"back\">← Fleet</a></p>\n<h1>Device <span class=\"mono\" id=\"mac\">{mac}</span> \
         <span class=\"note\">{}</span></h1>\n",
        esc(&back),
        esc(&tenant_label(p.tenant))
    );
    b.push_str("<h2>Record</h2>\n");
    match &d.record {
        Ok(Some(record)) => record_section(&mut b, record),
        Ok(None) => b.push_str("<p class=\"note\">No record in the store (devices/).</p>\n"),
        Err(why) => {
            let _ = writeln!(b, "<p class=\"problem\">{}</p>", esc(why));
        }
    }
    b.push_str("<h2>Last seen</h2>\n");
    match &d.seen {
        Some(seen) => seen_section(&mut b, seen, p.now),
        None => b.push_str("<p class=\"never\">Never seen.</p>\n"),
    }
    b.push_str("<h2>Recent fetches</h2>\n");
    match &d.recent {
        None => b.push_str(
            "<p class=\"note\">Kept in memory by a running server (provedge serve); \
             this page reads a store.</p>\n",
        ),
        Some(fetches) if fetches.is_empty() => {
            b.push_str("<p class=\"note\">None since the server started.</p>\n")
        }
        Some(fetches) => fetches_section(&mut b, fetches, p.now),
    }
    b.push_str(
        "<h2>Variables</h2>\n<p class=\"note\">Merged: global → vendor → model → profile → \
         device; secret variables shown as ",
    );
    let _ = writeln!(b, "{MASK}.</p>");
    match &d.vars {
        Ok(Some(vars)) => {
            let text = serde_json::to_string_pretty(vars).unwrap_or_default();
            let _ = writeln!(b, "<pre id=\"vars\">{}</pre>", esc(&text));
        }
        Ok(None) => b.push_str("<p class=\"note\">None: the device has no record.</p>\n"),
        Err(why) => {
            let _ = writeln!(b, "<p class=\"problem\">{}</p>", esc(why));
        }
    }
    page(&format!("Device {mac}"), &b, false)
}

fn record_section(b: &mut String, r: &DeviceRecord) {
    let _ = writeln!(
        b,
        "<dl id=\"record\"><dt>Vendor</dt><dd>{}</dd><dt>Model</dt><dd>{}</dd><dt>Profile</dt><dd>{}</dd></dl>",
        esc(r.vendor.name()),
        opt(r.model.as_ref().map(|m| m.as_str())),
        opt(r.profile.as_deref())
    );
    if !r.lines.is_empty() {
        b.push_str(
            "<table class=\"cards\" id=\"lines\"><thead><tr><th>Line</th><th>User</th><th>Auth id</th>\
             <th>Display name</th><th>Server</th><th>Label</th><th>Password</th></tr></thead><tbody>\n",
        );
        for (n, line) in r.lines.iter().enumerate() {
            let server = format!(
                "{}:{} ({})",
                line.server,
                line.port,
                serde_json::to_value(line.transport)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            );
            let _ = writeln!(
                b,
                "<tr><td data-label=\"Line\">{}</td><td data-label=\"User\">{}</td><td data-label=\"Auth id\">{}</td>\
                 <td data-label=\"Display name\">{}</td><td data-label=\"Server\">{}</td><td data-label=\"Label\">{}</td>\
                 <td data-label=\"Password\" class=\"secret\">{}</td></tr>",
                n + 1,
                esc(&line.user),
                opt(line.auth_id.as_deref()),
                opt(line.display_name.as_deref()),
                esc(&server),
                opt(line.label.as_deref()),
                if line.password.is_empty() { "" } else { MASK }
            );
        }
        b.push_str("</tbody></table>\n");
    }
    if !r.keys.is_empty() {
        b.push_str(
            "<table class=\"cards\" id=\"keys\"><thead><tr><th>Key</th><th>Type</th><th>Value</th>\
             <th>Label</th><th>Line</th></tr></thead><tbody>\n",
        );
        for (n, key) in r.keys.iter().enumerate() {
            let kind = serde_json::to_value(key.kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let _ = writeln!(
                b,
                "<tr><td data-label=\"Key\">{}</td><td data-label=\"Type\">{}</td><td data-label=\"Value\">{}</td>\
                 <td data-label=\"Label\">{}</td><td data-label=\"Line\">{}</td></tr>",
                n + 1,
                esc(&kind),
                esc(&key.value),
                opt(key.label.as_deref()),
                key.line
            );
        }
        b.push_str("</tbody></table>\n");
    }
}

fn seen_section(b: &mut String, s: &Seen, now: u64) {
    let _ = writeln!(
        b,
        "<dl id=\"seen\"><dt>Time</dt><dd>{} <span class=\"note\">{}</span></dd>\
         <dt>Client</dt><dd class=\"mono\">{}</dd><dt>File</dt><dd class=\"mono\">{}</dd>\
         <dt>Status</dt><dd>{}</dd><dt>Firmware</dt><dd class=\"mono\">{}</dd>\
         <dt>User-Agent</dt><dd class=\"mono\" id=\"user-agent\">{}</dd></dl>",
        when(s.unix),
        ago(s.unix, now),
        s.ip.map(|ip| ip.to_string()).unwrap_or_default(),
        opt(s.file.as_deref()),
        s.status.map(|s| s.to_string()).unwrap_or_default(),
        opt(s
            .user_agent
            .as_deref()
            .and_then(super::firmware::version)
            .as_deref()),
        opt(s.user_agent.as_deref())
    );
}

fn fetches_section(b: &mut String, fetches: &[Fetch], now: u64) {
    b.push_str(
        "<table class=\"cards\" id=\"fetches\"><thead><tr><th>Time</th><th>Client</th><th>File</th>\
         <th>Status</th><th>Firmware</th></tr></thead><tbody>\n",
    );
    for f in fetches {
        let _ = writeln!(
            b,
            "<tr><td data-label=\"Time\">{} <span class=\"note\">{}</span></td><td data-label=\"Client\" class=\"ip\">{}</td>\
             <td data-label=\"File\" class=\"file\">{}</td>{}<td data-label=\"Firmware\" class=\"fw\">{}</td></tr>",
            when(f.unix),
            ago(f.unix, now),
            f.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            esc(&f.file),
            status_cell(Some(f.status)),
            opt(f.user_agent.as_deref().and_then(super::firmware::version).as_deref())
        );
    }
    b.push_str("</tbody></table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use provedge::Mac;

    #[test]
    fn every_value_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>\u{7}"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;\u{fffd}"
        );
        let mac: Mac = "001565123456".parse().unwrap();
        let hostile =
            "Yealink SIP-T46S 66.86.0.15 \"><script>alert(1)</script><img src=x onerror=alert(2)>";
        let seen = Seen {
            unix: 1_800_000_000,
            user_agent: Some(hostile.into()),
            vendor: Some("<b>yealink</b>".into()),
            file: Some("a\"onmouseover=\"x".into()),
            status: Some(200),
            ..Seen::default()
        };
        let listing = Listing {
            devices: vec![Device::new(mac, Ok(None), Some(seen.clone()))],
            read: 1,
            ..Listing::default()
        };
        let query = Query::parse(Some("q=%22%3E%3Cscript%3E&tenant=%3Cx%3E"));
        let html = list(&ListPage {
            tenant: None,
            tenants: &["a<b".into()],
            query: &query,
            listing: &listing,
            now: 1_800_000_060,
        });
        for bad in [
            "<script>alert",
            "<img",
            "<b>yealink",
            "\"onmouseover",
            "a<b",
            "\"><script>",
        ] {
            assert!(!html.contains(bad), "{bad} in the page");
        }
        assert!(html.contains("&lt;b&gt;yealink&lt;/b&gt;"));
        assert_eq!(
            html.matches("<script>").count(),
            1,
            "only the page's own script"
        );
        let detail = Detail {
            mac,
            record: Ok(None),
            seen: Some(seen),
            recent: Some(Vec::new()),
            vars: Ok(None),
        };
        let html = device(&DevicePage {
            tenant: None,
            query: &query,
            detail: &detail,
            now: 1_800_000_060,
        });
        assert!(!html.contains("<script>alert") && html.contains("&lt;script&gt;alert(1)"));
    }

    #[test]
    fn the_policy_names_only_the_inline_style_and_script() {
        assert!(CSP.starts_with("default-src 'none'; style-src 'sha256-"));
        assert_eq!(CSP.matches("'sha256-").count(), 2);
        assert_eq!(when(1_800_000_000), "2027-01-15 08:00:00 UTC");
        assert_eq!(ago(100, 4000), "1 h ago");
    }
}
