//! The fleet CSV's columns: one vocabulary for `devices import`, `devices export` and
//! `devices set`, documented in docs/devices.md.
//!
//! Column names are matched without regard to case or surrounding spaces. Besides the
//! documented names, the common `mac,displayname,username,secret,server,brand,product,model`
//! header is read as aliases of line 1's columns and of the vendor.

use std::collections::HashMap;

/// The most lines a CSV row may describe (`line1_…` to `line32_…`).
pub const MAX_LINES: u8 = 32;

/// The variable a device's serial number is kept in (the redirection services that register
/// phones by serial read it from there).
pub const SERIAL_VAR: &str = "serial_number";

/// What a column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    Mac,
    Vendor,
    Model,
    /// The common header's `product`: the model, when the row's `model` is blank.
    Product,
    Profile,
    /// The serial number, kept in the record's `vars` as [`SERIAL_VAR`].
    Serial,
    /// A column of line `n` (1-based).
    Line(u8, LineField),
}

/// A column of one SIP line: the fields of the core's [`provedge::store::Line`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineField {
    User,
    AuthId,
    Password,
    DisplayName,
    Server,
    Port,
    Transport,
    Label,
}

impl LineField {
    /// In the order `devices export` writes them.
    pub const ALL: [LineField; 8] = [
        LineField::User,
        LineField::AuthId,
        LineField::Password,
        LineField::DisplayName,
        LineField::Server,
        LineField::Port,
        LineField::Transport,
        LineField::Label,
    ];

    fn suffix(self) -> &'static str {
        match self {
            LineField::User => "user",
            LineField::AuthId => "auth_id",
            LineField::Password => "password",
            LineField::DisplayName => "display_name",
            LineField::Server => "server",
            LineField::Port => "port",
            LineField::Transport => "transport",
            LineField::Label => "label",
        }
    }
}

impl Field {
    /// The column a header name means, documented names and the common header's aliases alike.
    pub fn parse(name: &str) -> Option<Field> {
        let name = name.trim().to_ascii_lowercase();
        let field = match name.as_str() {
            "mac" => Field::Mac,
            "vendor" | "brand" => Field::Vendor,
            "model" => Field::Model,
            "product" => Field::Product,
            "profile" => Field::Profile,
            "serial" => Field::Serial,
            "username" => Field::Line(1, LineField::User),
            "secret" => Field::Line(1, LineField::Password),
            "displayname" => Field::Line(1, LineField::DisplayName),
            "server" => Field::Line(1, LineField::Server),
            _ => {
                let rest = name.strip_prefix("line")?;
                let (n, suffix) = rest.split_once('_')?;
                if n.starts_with('0') {
                    return None;
                }
                let n: u8 = n.parse().ok().filter(|n| (1..=MAX_LINES).contains(n))?;
                let field = LineField::ALL.into_iter().find(|f| f.suffix() == suffix)?;
                Field::Line(n, field)
            }
        };
        Some(field)
    }

    /// The documented name, as `devices export` writes it and messages name it.
    pub fn name(self) -> String {
        match self {
            Field::Mac => "mac".into(),
            Field::Vendor => "vendor".into(),
            Field::Model => "model".into(),
            Field::Product => "product".into(),
            Field::Profile => "profile".into(),
            Field::Serial => "serial".into(),
            Field::Line(n, f) => format!("line{n}_{}", f.suffix()),
        }
    }
}

/// The header `devices export` writes for a fleet whose devices have at most `lines` lines.
pub fn export_header(lines: u8) -> Vec<String> {
    let mut names: Vec<String> = [
        Field::Mac,
        Field::Vendor,
        Field::Model,
        Field::Profile,
        Field::Serial,
    ]
    .into_iter()
    .map(Field::name)
    .collect();
    for n in 1..=lines.max(1) {
        names.extend(LineField::ALL.map(|f| Field::Line(n, f).name()));
    }
    names
}

/// A parsed header: which field each column holds.
#[derive(Debug)]
pub struct Header {
    columns: Vec<Field>,
    index: HashMap<Field, usize>,
}

impl Header {
    /// Reads a header row, naming the first column that is unknown or says what another says.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Header, String> {
        let mut columns = Vec::new();
        let mut index = HashMap::new();
        let mut spelled: HashMap<Field, String> = HashMap::new();
        for (i, name) in names.into_iter().enumerate() {
            let field = Field::parse(name).ok_or_else(|| {
                format!(
                    "column {} {:?} is not a device column (see docs/devices.md)",
                    i + 1,
                    name.trim()
                )
            })?;
            if let Some(first) = spelled.get(&field) {
                return Err(format!(
                    "columns {first:?} and {:?} both hold {}",
                    name.trim(),
                    field.name()
                ));
            }
            spelled.insert(field, name.trim().to_owned());
            index.insert(field, i);
            columns.push(field);
        }
        if !index.contains_key(&Field::Mac) {
            return Err("no mac column".into());
        }
        Ok(Header { columns, index })
    }

    /// How many columns the header has.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// The highest line number any column names (0 without line columns).
    pub fn lines(&self) -> u8 {
        self.columns
            .iter()
            .filter_map(|f| match f {
                Field::Line(n, _) => Some(*n),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The cell of `field` in `row`: `None` when the header has no such column. Cells are
    /// trimmed, except passwords, whose spaces may be meant.
    pub fn cell<'r>(&self, row: &'r csv::StringRecord, field: Field) -> Option<&'r str> {
        let raw = row.get(*self.index.get(&field)?)?;
        Some(match field {
            Field::Line(_, LineField::Password) => raw,
            _ => raw.trim(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_names_and_the_common_aliases() {
        let table = [
            ("MAC", Field::Mac),
            (" brand ", Field::Vendor),
            ("vendor", Field::Vendor),
            ("product", Field::Product),
            ("serial", Field::Serial),
            ("username", Field::Line(1, LineField::User)),
            ("secret", Field::Line(1, LineField::Password)),
            ("displayname", Field::Line(1, LineField::DisplayName)),
            ("server", Field::Line(1, LineField::Server)),
            ("line2_auth_id", Field::Line(2, LineField::AuthId)),
            ("Line32_Label", Field::Line(32, LineField::Label)),
        ];
        for (name, want) in table {
            assert_eq!(Field::parse(name), Some(want), "{name}");
        }
        for name in [
            "line0_user",
            "line33_user",
            "line01_user",
            "line1_pasword",
            "pasword",
        ] {
            assert_eq!(Field::parse(name), None, "{name}");
        }
        for n in 1..=MAX_LINES {
            for f in LineField::ALL {
                let field = Field::Line(n, f);
                assert_eq!(Field::parse(&field.name()), Some(field));
            }
        }
    }

    #[test]
    fn a_header_names_its_faults() {
        let e = Header::parse(["mac", "vendor", "pasword"]).unwrap_err();
        assert!(e.contains("column 3 \"pasword\""), "{e}");
        let e = Header::parse(["mac", "vendor", "brand"]).unwrap_err();
        assert!(
            e.contains("\"vendor\" and \"brand\" both hold vendor"),
            "{e}"
        );
        assert_eq!(Header::parse(["vendor"]).unwrap_err(), "no mac column");
        let h = Header::parse(export_header(2).iter().map(String::as_str)).unwrap();
        assert_eq!((h.len(), h.lines()), (5 + 16, 2));
    }
}
