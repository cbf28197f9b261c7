//! What a fleet page's query asks for: `?tenant=NAME&sort=mac|vendor|model|last|status&
//! dir=asc|desc&q=TEXT`, parsed once into types (an unknown sort or direction is the default,
//! never an error: the page is for people clicking links), and written back into the links the
//! page offers.

/// Longest filter text kept, in characters.
const MAX_FILTER: usize = 100;
/// Longest tenant name looked at.
const MAX_TENANT: usize = 64;

/// The column a list is sorted by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    #[default]
    Mac,
    Vendor,
    Model,
    /// The last fetch's time.
    Last,
    Status,
}

impl SortKey {
    pub const ALL: [SortKey; 5] = [
        SortKey::Mac,
        SortKey::Vendor,
        SortKey::Model,
        SortKey::Last,
        SortKey::Status,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SortKey::Mac => "mac",
            SortKey::Vendor => "vendor",
            SortKey::Model => "model",
            SortKey::Last => "last",
            SortKey::Status => "status",
        }
    }

    /// What a header offers first: the newest fetches for time, A to Z for the rest.
    pub fn first_direction(self) -> Direction {
        match self {
            SortKey::Last => Direction::Desc,
            _ => Direction::Asc,
        }
    }

    fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.name() == s)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

impl Direction {
    pub fn name(self) -> &'static str {
        match self {
            Direction::Asc => "asc",
            Direction::Desc => "desc",
        }
    }

    pub fn flipped(self) -> Direction {
        match self {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        }
    }
}

/// A fleet page's query.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The tenant asked for, as given (checked against the known tenants by the page);
    /// `None` or empty is the default tenant.
    pub tenant: Option<String>,
    pub sort: SortKey,
    pub dir: Direction,
    /// Filter text, trimmed; empty shows every device.
    pub filter: String,
}

impl Query {
    /// Parses `a=1&b=2` (form encoding: `+` is a space, `%XX` a byte); unknown names are
    /// ignored, and later values win.
    pub fn parse(query: Option<&str>) -> Query {
        let mut out = Query::default();
        let mut dir = None;
        for pair in query.unwrap_or_default().split('&') {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = decode(value);
            match name {
                "tenant" => {
                    let tenant: String = value.trim().chars().take(MAX_TENANT).collect();
                    out.tenant = (!tenant.is_empty()).then_some(tenant);
                }
                "sort" => out.sort = SortKey::parse(&value).unwrap_or_default(),
                "dir" => {
                    dir = match value.as_str() {
                        "asc" => Some(Direction::Asc),
                        "desc" => Some(Direction::Desc),
                        _ => None,
                    }
                }
                "q" => out.filter = value.trim().chars().take(MAX_FILTER).collect(),
                _ => {}
            }
        }
        out.dir = dir.unwrap_or(out.sort.first_direction());
        out
    }

    /// The query string (without `?`) of this query with another sort: what a column
    /// header links to. Empty values are left out.
    pub fn with_sort(&self, sort: SortKey, dir: Direction) -> String {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(4);
        if let Some(tenant) = &self.tenant {
            pairs.push(("tenant", tenant));
        }
        pairs.push(("sort", sort.name()));
        pairs.push(("dir", dir.name()));
        if !self.filter.is_empty() {
            pairs.push(("q", &self.filter));
        }
        pairs
            .iter()
            .map(|(name, value)| format!("{name}={}", encode(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The header link of `column`: the other direction when the list is sorted by it
    /// already, else the column's first direction.
    pub fn header_link(&self, column: SortKey) -> String {
        let dir = if self.sort == column {
            self.dir.flipped()
        } else {
            column.first_direction()
        };
        self.with_sort(column, dir)
    }

    /// `tenant=NAME`, or nothing for the default tenant: for links to device pages.
    pub fn tenant_only(&self) -> String {
        self.tenant
            .as_deref()
            .map(|t| format!("tenant={}", encode(t)))
            .unwrap_or_default()
    }
}

/// Form decoding: `+` → space, `%XX` → the byte; bytes that are not UTF-8 become U+FFFD.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| {
            bytes
                .get(at)
                .and_then(|&c| (c as char).to_digit(16))
                .map(|d| d as u8)
        };
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Form encoding of a value: unreserved characters as they are, a space as `+`, the rest
/// `%XX`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        let table: &[(Option<&str>, Query)] = &[
            (None, Query::default()),
            (
                Some("tenant=acme&sort=last&q=+Yealink%20T46+"),
                Query {
                    tenant: Some("acme".into()),
                    sort: SortKey::Last,
                    dir: Direction::Desc,
                    filter: "Yealink T46".into(),
                },
            ),
            (
                Some("sort=vendor&dir=desc&tenant="),
                Query {
                    tenant: None,
                    sort: SortKey::Vendor,
                    dir: Direction::Desc,
                    filter: String::new(),
                },
            ),
            (
                Some("sort=nope&dir=sideways&q=%3Cb%3E%ff%zz&x"),
                Query {
                    filter: "<b>\u{fffd}%zz".into(),
                    ..Query::default()
                },
            ),
        ];
        for (raw, want) in table {
            assert_eq!(&Query::parse(*raw), want, "{raw:?}");
        }
    }

    #[test]
    fn links_round_trip() {
        let q = Query::parse(Some("tenant=a-b&sort=vendor&q=a%26b+%3Cc%3E"));
        assert_eq!(
            q.header_link(SortKey::Vendor),
            "tenant=a-b&sort=vendor&dir=desc&q=a%26b+%3Cc%3E"
        );
        assert_eq!(
            q.header_link(SortKey::Last),
            "tenant=a-b&sort=last&dir=desc&q=a%26b+%3Cc%3E"
        );
        assert_eq!(
            Query::parse(Some(&q.header_link(SortKey::Mac))).filter,
            "a&b <c>"
        );
        assert_eq!(q.tenant_only(), "tenant=a-b");
        let long = Query::parse(Some(&format!("q={}", "x".repeat(500))));
        assert_eq!(long.filter.len(), MAX_FILTER);
    }
}
