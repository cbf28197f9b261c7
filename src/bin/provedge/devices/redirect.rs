//! `provedge devices export --redirect SERVICE --base-url URL [--config FILE] [--group NAME]`:
//! the bulk-import file of a vendor's redirection service, so that a phone fresh out of the box,
//! on a network whose DHCP the operator does not control, asks its vendor's cloud where to
//! provision from and is sent here (docs/bootstrap.md).
//!
//! One table says what each service takes ([`Service::spec`]): the vendor, whether the service
//! keeps a provisioning URL per device or per group (a Poly ZTP profile, a GDMS site, an FDPS
//! group), and the columns it needs. A device a service cannot take is refused, naming the
//! column it lacks, and then nothing is written. Where the tenant's policy uses URL tokens
//! (`--config`), a per-device URL carries the device's own first-boot token
//! (`auth.first_boot_token`), and a group's URL the tenant's first-boot token.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use provedge::store::DeviceRecord;
use provedge::{MacCase, Vendor};
use serde::Serialize;

use super::columns::SERIAL_VAR;
use super::StoreArgs;

/// The redirection services provedge writes files for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Service {
    /// Yealink Redirection and Provisioning Service.
    YealinkRps,
    /// Poly (Polycom) Zero Touch Provisioning.
    PolyZtp,
    /// Grandstream Device Management System.
    GrandstreamGdms,
    /// Fanvil Device Provisioning Service.
    FanvilFdps,
}

/// Where a service keeps the provisioning URL it hands a phone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UrlScope {
    /// One URL per device: it carries the device's own first-boot token.
    Device,
    /// One URL per group of devices (the service calls the group `group_word`): it can only
    /// carry the tenant's first-boot token.
    Group { group_word: &'static str },
}

/// What a service takes.
struct Spec {
    vendor: Vendor,
    scope: UrlScope,
}

impl Service {
    fn spec(self) -> Spec {
        match self {
            Service::YealinkRps => Spec {
                vendor: Vendor::Yealink,
                scope: UrlScope::Device,
            },
            Service::PolyZtp => Spec {
                vendor: Vendor::Polycom,
                scope: UrlScope::Group {
                    group_word: "profile",
                },
            },
            Service::GrandstreamGdms => Spec {
                vendor: Vendor::Grandstream,
                scope: UrlScope::Group { group_word: "site" },
            },
            Service::FanvilFdps => Spec {
                vendor: Vendor::Fanvil,
                scope: UrlScope::Group {
                    group_word: "group",
                },
            },
        }
    }

    fn name(self) -> &'static str {
        match self {
            Service::YealinkRps => "yealink-rps",
            Service::PolyZtp => "poly-ztp",
            Service::GrandstreamGdms => "grandstream-gdms",
            Service::FanvilFdps => "fanvil-fdps",
        }
    }
}

#[derive(clap::Args)]
pub struct RedirectArgs {
    /// Write this redirection service's bulk-import file instead of the fleet CSV.
    #[arg(
        long = "redirect",
        value_enum,
        value_name = "SERVICE",
        requires = "base_url"
    )]
    pub service: Option<Service>,
    /// The URL phones reach this tenant at (scheme, host and the tenant's path prefix), e.g.
    /// https://prov.example.com/acme
    #[arg(long, value_name = "URL", requires = "service")]
    base_url: Option<String>,
    /// The engine configuration the server runs with: says whether the tenant's policy uses
    /// URL tokens, and holds the tenant's first-boot token.
    #[arg(long, value_name = "FILE", requires = "service")]
    config: Option<PathBuf>,
    /// The ZTP profile, GDMS site or FDPS group to file every device under (default: each
    /// device's profile).
    #[arg(long, value_name = "NAME", requires = "service")]
    group: Option<String>,
}

#[derive(Serialize)]
struct RpsRow {
    mac: String,
    #[serde(rename = "uniqueServerUrl")]
    unique_server_url: String,
}

#[derive(Serialize)]
struct ZtpRow {
    mac: String,
    profile: String,
    #[serde(rename = "provisioningUrl")]
    url: String,
}

#[derive(Serialize)]
struct GdmsRow {
    mac: String,
    sn: String,
    #[serde(rename = "deviceName")]
    device_name: String,
    site: String,
    #[serde(rename = "provisioningUrl")]
    url: String,
}

#[derive(Serialize)]
struct FdpsRow {
    mac: String,
    model: String,
    group: String,
    #[serde(rename = "provisioningUrl")]
    url: String,
}

/// The service's file for the fleet's devices of its vendor; or, having said why on stderr,
/// the exit code.
pub fn write(
    service: Service,
    args: &RedirectArgs,
    store: &StoreArgs,
    records: &[DeviceRecord],
) -> Result<Vec<u8>, ExitCode> {
    let fail = |e: String| {
        eprintln!("{e}");
        ExitCode::from(2)
    };
    let base = base_url(args.base_url.as_deref().unwrap_or_default()).map_err(fail)?;
    let tokens = match &args.config {
        None => None,
        Some(path) => {
            let config = crate::load_config(Some(path)).map_err(fail)?;
            Some(tenant_first_boot(&config, store.tenant()).map_err(fail)?)
        }
    };
    // `Some(None)`: the policy has no URL tokens; `None`: no configuration was given.
    let uses_tokens = matches!(tokens, Some(Some(_)));
    let spec = service.spec();
    let mut out = csv::Writer::from_writer(Vec::new());
    let mut refused = Vec::new();
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    let (mut taken, mut other_vendors, mut unused_tokens) = (0usize, 0usize, 0usize);
    for record in records {
        if record.vendor != spec.vendor {
            other_vendors += 1;
            continue;
        }
        let own_token = record
            .auth
            .as_ref()
            .and_then(|a| a.first_boot_token.as_ref())
            .map(|t| t.expose());
        if own_token.is_some() && !uses_tokens {
            unused_tokens += 1;
        }
        let group = args.group.clone().or_else(|| record.profile.clone());
        let row = match spec.scope {
            UrlScope::Device => {
                let token = match (uses_tokens, own_token) {
                    (false, _) => Ok(None),
                    (true, Some(token)) => Ok(Some(token)),
                    (true, None) => Err(
                        "uniqueServerUrl: the device has no first-boot token \
                         (auth.first_boot_token; `provedge devices set MAC --first-boot-token new`)"
                            .to_owned(),
                    ),
                };
                token.and_then(|token| {
                    let url = url_with(&base, token)?;
                    Ok(out.serialize(RpsRow {
                        mac: record.mac.compact(MacCase::Lower),
                        unique_server_url: url,
                    }))
                })
            }
            UrlScope::Group { .. } => {
                let tenant_token = tokens.as_ref().and_then(|t| t.as_deref());
                url_with(&base, tenant_token)
                    .and_then(|url| group_row(service, record, group.clone(), url, &mut out))
            }
        };
        match row {
            Ok(written) => {
                written.map_err(|e| fail(format!("writing the file: {e}")))?;
                taken += 1;
                if let UrlScope::Group { .. } = spec.scope {
                    *groups.entry(group.unwrap_or_default()).or_default() += 1;
                }
            }
            Err(reason) => refused.push(format!("{}: {reason}", record.mac)),
        }
    }
    if !refused.is_empty() {
        for line in &refused {
            eprintln!("{line}");
        }
        eprintln!(
            "{} {} refused by {}; nothing written",
            refused.len(),
            if refused.len() == 1 {
                "device"
            } else {
                "devices"
            },
            service.name()
        );
        return Err(ExitCode::FAILURE);
    }
    let mut note = format!("{}: {taken} {} devices", service.name(), spec.vendor);
    if other_vendors > 0 {
        note.push_str(&format!(
            "; {other_vendors} devices of other vendors left out"
        ));
    }
    eprintln!("{note}");
    if unused_tokens > 0 {
        eprintln!(
            "note: {unused_tokens} devices have a first-boot token, but {}: their URLs carry none",
            if tokens.is_none() {
                "no --config says whether the tenant's policy uses URL tokens"
            } else {
                "the tenant's policy in --config has no url_tokens"
            }
        );
    }
    if let UrlScope::Group { group_word } = spec.scope {
        let url = url_with(&base, tokens.as_ref().and_then(|t| t.as_deref())).unwrap_or_default();
        for (group, count) in &groups {
            let name = if group.is_empty() {
                format!("the default {group_word}")
            } else {
                format!("{group_word} {group:?}")
            };
            eprintln!("set the provisioning URL of {name} ({count} devices) to {url}");
        }
    }
    out.into_inner()
        .map_err(|e| fail(format!("writing the file: {e}")))
}

/// Writes the row of a service that keeps its URL per group; `Err` names what is missing.
fn group_row(
    service: Service,
    record: &DeviceRecord,
    group: Option<String>,
    url: String,
    out: &mut csv::Writer<Vec<u8>>,
) -> Result<csv::Result<()>, String> {
    let mac = record.mac;
    Ok(match service {
        Service::PolyZtp => {
            let profile = group.ok_or(
                "profile: the device has no profile to file it under in ZTP \
                 (give it one, or pass --group NAME)",
            )?;
            out.serialize(ZtpRow {
                mac: mac.compact(MacCase::Lower),
                profile,
                url,
            })
        }
        Service::GrandstreamGdms => {
            let sn = match record.vars.get(SERIAL_VAR) {
                Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
                _ => {
                    return Err("sn: the device has no serial number, which GDMS registers \
                                devices by (the CSV's serial column, vars.serial_number)"
                        .into())
                }
            };
            let upper = mac.compact(MacCase::Upper);
            let colons: Vec<&str> = (0..6).map(|i| &upper[2 * i..2 * i + 2]).collect();
            out.serialize(GdmsRow {
                mac: colons.join(":"),
                sn,
                device_name: device_name(record),
                site: group.unwrap_or_default(),
                url,
            })
        }
        Service::FanvilFdps => {
            let model = record.model.as_ref().ok_or(
                "model: the device has no model, which FDPS files devices by \
                 (the CSV's model column)",
            )?;
            out.serialize(FdpsRow {
                mac: mac.compact(MacCase::Lower),
                model: model.to_string(),
                group: group.unwrap_or_default(),
                url,
            })
        }
        Service::YealinkRps => unreachable!("RPS keeps a URL per device"),
    })
}

/// What a person calls the device: its first line's label, display name or user, else its MAC.
fn device_name(record: &DeviceRecord) -> String {
    record
        .lines
        .first()
        .and_then(|l| {
            [
                l.label.as_deref(),
                l.display_name.as_deref(),
                Some(l.user.as_str()),
            ]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
        })
        .map_or_else(|| record.mac.to_string(), str::to_owned)
}

/// `--base-url` without its trailing `/`: an http(s) URL with no query or fragment.
fn base_url(raw: &str) -> Result<String, String> {
    let ok = (raw.starts_with("https://") || raw.starts_with("http://"))
        && !raw.contains(['?', '#', ' '])
        && raw.split("://").nth(1).is_some_and(|rest| !rest.is_empty());
    if !ok {
        return Err(format!(
            "--base-url {raw:?}: expected http(s)://host[/prefix], without query or fragment"
        ));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// The provisioning URL: the base, then the token as the first path segment (where the policy
/// reads it), ending in `/` so that phones append their file names.
fn url_with(base: &str, token: Option<&str>) -> Result<String, String> {
    match token {
        None => Ok(format!("{base}/")),
        Some(token) => {
            // The core compares the segment as sent: a token that a URL must percent-encode
            // would never match, so it is refused here rather than exported broken.
            let url_safe = token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
            if !url_safe {
                return Err("first-boot token: has characters a URL must encode \
                            (use letters, digits, - . _ ~)"
                    .into());
            }
            Ok(format!("{base}/{token}/"))
        }
    }
}

/// The tenant's first-boot token in the engine configuration (`Ok(None)`: its policy has no
/// URL tokens).
fn tenant_first_boot(
    config: &provedge::Config,
    tenant: Option<&str>,
) -> Result<Option<String>, String> {
    let rules = match tenant {
        None => &config.policy.default,
        Some(name) => {
            &config
                .policy
                .tenants
                .iter()
                .find(|t| t.name == name)
                .ok_or_else(|| format!("--config: policy.tenants has no tenant {name:?}"))?
                .rules
        }
    };
    Ok(rules.url_tokens.as_ref().map(|t| t.first_boot.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_end_in_a_slash_and_refuse_tokens_a_url_would_encode() {
        let base = base_url("https://prov.example.com/acme/").unwrap();
        assert_eq!(
            url_with(&base, None).unwrap(),
            "https://prov.example.com/acme/"
        );
        assert_eq!(
            url_with(&base, Some("a1-b2")).unwrap(),
            "https://prov.example.com/acme/a1-b2/"
        );
        assert!(url_with(&base, Some("a b")).is_err());
        assert!(url_with(&base, Some("a%20")).is_err());
        for bad in ["ftp://x", "https://", "prov.example.com", "https://x/?a=1"] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }
}
