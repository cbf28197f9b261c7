//! User-Agent recognition (issue 19, point 1) as one table: every string is a published sample,
//! copied exactly, with where it was published. A masked MAC in the source (`0004136*****`) is
//! filled with digits of the same vendor range and says so. Rows tagged [I] or [U] follow the
//! confidence tags of vendors.md: the shape is inferred from a sibling family or only named in
//! the issue, not seen in a published capture. "WAZO" is `wazo-platform/wazo-provd-plugins` at
//! commit 2321a3f3, whose extractors quote the User-Agents they were written against.

use provedge::route::user_agent::parse;
use provedge::{Model, Vendor};

/// (User-Agent, vendor, model, MAC, source)
type Row = (
    &'static str,
    Vendor,
    Option<&'static str>,
    Option<&'static str>,
    &'static str,
);

const ROWS: &[Row] = &[
    // Grandstream: WAZO plugins/wazo_grandstream/common/common.py (comments), vendors.md §1.3.
    ("Grandstream Model HW GXP1405 SW 1.0.4.23 DevId 000b8240d55c", Vendor::Grandstream, Some("gxp1405"), Some("000b8240d55c"), "WAZO grandstream"),
    ("Grandstream Model HW GXP1628 SW 1.0.4.138 DevId c074ad2bd859", Vendor::Grandstream, Some("gxp1628"), Some("c074ad2bd859"), "WAZO grandstream"),
    ("Grandstream Model HW GXP2200 V2.2A SW 1.0.1.33 DevId 000b82462d97", Vendor::Grandstream, Some("gxp2200"), Some("000b82462d97"), "WAZO grandstream"),
    ("Grandstream Model HW GXV3240 V1.6B SW 1.0.1.27 DevId 000b82632815", Vendor::Grandstream, Some("gxv3240"), Some("000b82632815"), "WAZO grandstream"),
    ("Grandstream Model HW GXV3350  V1.3A SW 1.0.1.8 DevId c074ad150b88", Vendor::Grandstream, Some("gxv3350"), Some("c074ad150b88"), "WAZO grandstream (double space as published)"),
    ("Grandstream GXP2000 (gxp2000e.bin:1.2.5.3/boot55e.bin:1.1.6.9) DevId 000b822726c8", Vendor::Grandstream, Some("gxp2000"), Some("000b822726c8"), "WAZO grandstream"),
    ("Grandstream Model HW GRP2614 SW 1.0.5.15 DevId c074ad0b63ee", Vendor::Grandstream, Some("grp2614"), Some("c074ad0b63ee"), "WAZO grandstream"),
    ("Grandstream Model HW HT801 V1.1A SW 1.0.17.5 DevId c074ad273a10", Vendor::Grandstream, Some("ht801"), Some("c074ad273a10"), "WAZO grandstream"),
    ("Grandstream Model HW WP820 V1.0A SW 1.0.7.81 DevId c074ad112233", Vendor::Grandstream, Some("wp820"), Some("c074ad112233"), "[I] WP family in the documented Model HW form (no published capture)"),
    ("Grandstream Model HW DP750 V1.0A SW 1.0.3.37 DevId 000b82aabbcc", Vendor::Grandstream, Some("dp750"), Some("000b82aabbcc"), "[I] DP family in the documented Model HW form (no published capture)"),
    // Polycom / Poly: vendors.md §3.3.
    ("FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application", Vendor::Polycom, Some("vvx400"), None, "vendors.md §3.3"),
    ("FileTransport PolycomSoundStationIP-SSIP_6000-UA/5.0.3.1667 Type/Updater", Vendor::Polycom, Some("ssip6000"), None, "vendors.md §3.3"),
    ("FileTransport PolycomSoundPointIP-SPIP_335-UA/3.2.1.0078", Vendor::Polycom, Some("spip335"), None, "vendors.md §3.3"),
    ("FileTransport PolycomSoundStationIP-SSIP_5000-UA/4.0.3.7562 (SN:0004f2e765da) Type/Application", Vendor::Polycom, Some("ssip5000"), Some("0004f2e765da"), "vendors.md §3.3"),
    ("FileTransport PolyCCX-CCX_500-UA/9.4.1.0508 (SN:64167f9f4c90) Type/Application", Vendor::Polycom, Some("ccx500"), Some("64167f9f4c90"), "vendors.md §3.3"),
    // Yealink: WAZO plugins/wazo_yealink/common/common.py (comments), vendors.md §4.6.
    ("Yealink CP860 37.72.0.5 00:15:65:8a:37:86", Vendor::Yealink, Some("cp860"), Some("0015658a3786"), "WAZO yealink"),
    ("yealink SIP-T18 18.0.0.80 00:15:65:27:3e:05", Vendor::Yealink, Some("t18"), Some("001565273e05"), "WAZO yealink"),
    ("Yealink SIP-T19P_E2 53.80.0.3 00:15:65:4c:4c:26", Vendor::Yealink, Some("t19p_e2"), Some("0015654c4c26"), "WAZO yealink"),
    ("Yealink SIP-T20P 9.72.0.30 00:15:65:5e:16:7c", Vendor::Yealink, Some("t20p"), Some("0015655e167c"), "WAZO yealink"),
    ("Yealink SIP-T23G 44.80.0.60 00:15:65:93:70:f2", Vendor::Yealink, Some("t23g"), Some("0015659370f2"), "WAZO yealink"),
    ("yealink SIP-T28P 2.70.0.140 00:15:65:13:ae:0b", Vendor::Yealink, Some("t28p"), Some("00156513ae0b"), "WAZO yealink"),
    ("Yealink SIP-T38G  38.70.0.125 00:15:65:2f:c3:5e", Vendor::Yealink, Some("t38g"), Some("0015652fc35e"), "WAZO yealink"),
    ("Yealink SIP-T46G 28.72.0.1 00:15:65:4a:a9:37", Vendor::Yealink, Some("t46g"), Some("0015654aa937"), "WAZO yealink"),
    ("Yealink SIP VP-T49G 51.80.0.10 00:15:65:9b:5a:44", Vendor::Yealink, Some("t49g"), Some("0015659b5a44"), "WAZO yealink"),
    ("Yealink SIP-W52P 25.73.0.20 00:15:65:40:ae:35", Vendor::Yealink, Some("w52p"), Some("00156540ae35"), "WAZO yealink"),
    ("W52P 25.30.0.2 00:15:65:44:b3:7c", Vendor::Yealink, Some("w52p"), Some("00156544b37c"), "WAZO yealink (no maker: settled by the Yealink OUI)"),
    ("Yealink W52P 25.80.0.15 00:15:65:b8:60:05", Vendor::Yealink, Some("w52p"), Some("001565b86005"), "WAZO yealink"),
    ("Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0", Vendor::Yealink, Some("t46g"), None, "WAZO yealink"),
    ("Yealink SIP-T56A  58.80.0.25 001565f429a4", Vendor::Yealink, Some("t56a"), Some("001565f429a4"), "vendors.md §4.6"),
    // Cisco SPA / Linksys: WAZO plugins/wazo_cisco_spa/common/common.py; MPP: wazo_cisco_sip.
    ("Linksys/SPA-942-6.1.5(a) (88019FA42805)", Vendor::Cisco, Some("spa-942"), None, "WAZO cisco_spa (serial, not a MAC)"),
    ("Linksys/SPA-962-6.1.5(a) (4MM00F903042)", Vendor::Cisco, Some("spa-962"), None, "WAZO cisco_spa"),
    ("Cisco/SPA501G-7.4.4 (8843E157DDCC)(CBT141100HR)", Vendor::Cisco, Some("spa501g"), Some("8843e157ddcc"), "WAZO cisco_spa"),
    ("Cisco/SPA508G-7.4.8a (0002FDFF2103)(CBT141400UK)", Vendor::Cisco, Some("spa508g"), Some("0002fdff2103"), "WAZO cisco_spa"),
    ("Cisco/SPA525G-7.4.4 (CBT141900G7)", Vendor::Cisco, Some("spa525g"), None, "WAZO cisco_spa"),
    ("Cisco-CP-7832-3PCC/11.0.1 (00562b043615)", Vendor::Cisco, Some("cp-7832-3pcc"), Some("00562b043615"), "WAZO cisco_sip v11_3_1/v12_0_1"),
    ("Cisco/ATA191-MPP-11-1-0-MSR4 (FCH2443D9R4)", Vendor::Cisco, Some("ata191"), None, "WAZO cisco_sip v11_1_0 (serial only)"),
    // Snom: WAZO plugins/wazo_snom/common/common.py (comments); DECT: Snom M300/M700 provisioning guide.
    ("Mozilla/4.0 (compatible; snom lid 3605)", Vendor::Snom, None, None, "WAZO snom (firmware 6.5)"),
    ("Mozilla/4.0 (compatible; snom320-SIP 6.5.20; snom320 jffs2 v3.36; snom320 linux 3.38)", Vendor::Snom, Some("320"), None, "WAZO snom"),
    ("Mozilla/4.0 (compatible; snom320-SIP 7.3.30 1.1.3-u)", Vendor::Snom, Some("320"), None, "WAZO snom"),
    ("Mozilla/4.0 (compatible; snom710-SIP 8.7.3.19 1.1.5-IFX-05.01.12)", Vendor::Snom, Some("710"), None, "WAZO snom"),
    ("Mozilla/4.0 (compatible; snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767)", Vendor::Snom, Some("710"), Some("000413741767"), "WAZO snom (MAC from 8.7.5)"),
    ("Mozilla/4.0 (compatible; snom870-SIP 8.4.35 SPEAr300 SNOM 1.4)", Vendor::Snom, Some("870"), None, "WAZO snom"),
    ("Mozilla/4.0 (compatible; snomPA1-SIP 8.4.35 1.1.3-s)", Vendor::Snom, Some("pa1"), None, "WAZO snom"),
    ("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413922D24 SXM:0 UXM:0)", Vendor::Snom, Some("d785"), Some("000413922d24"), "WAZO snom, vendors.md §7"),
    ("snomM700/03.23.0005 (MAC=000413612345; SER= 00000; HW=255)", Vendor::Snom, Some("m700"), Some("000413612345"), "Snom M300/M700 provisioning guide p.6 (MAC masked there as 0004136*****)"),
    ("snom-D785 10.1.54.13 000413922D25", Vendor::Snom, Some("d785"), Some("000413922d25"), "[U] issue 19's `snom-DNNN` form"),
    ("Snom M900 05.20.0001 000413B50038", Vendor::Snom, Some("m900"), Some("000413b50038"), "[U] issue 19's `Snom MNNN` form"),
    // Fanvil: WAZO plugins/wazo_fanvil/common/common.py (comments).
    ("Fanvil X4 2.10.2.6887 0c383e07e16c", Vendor::Fanvil, Some("x4"), Some("0c383e07e16c"), "WAZO fanvil"),
    ("Fanvil X6U Pro 0.0.10 0c383e2cd782", Vendor::Fanvil, Some("x6u-pro"), Some("0c383e2cd782"), "WAZO fanvil"),
    ("Fanvil i10SV 2.12.10.1 0c383e2397f4", Vendor::Fanvil, Some("i10sv"), Some("0c383e2397f4"), "WAZO fanvil"),
    ("Fanvil W620W 2.16.10 0c383e7dd216", Vendor::Fanvil, Some("w620w"), Some("0c383e7dd216"), "WAZO fanvil"),
    ("Fanvil H2U-V2 2.12.0 0c383e32342e", Vendor::Fanvil, Some("h2u-v2"), Some("0c383e32342e"), "WAZO fanvil"),
    // Aastra / Mitel: WAZO plugins/wazo_aastra/common/common.py (comments, _UA_MODELS_MAP).
    ("Aastra6731i MAC:00-08-5D-23-74-29 V:3.2.0.70-SIP", Vendor::Aastra, Some("6731i"), Some("00085d237429"), "WAZO aastra"),
    ("Aastra6863i MAC:00-08-5D-40-90-5F V:4.1.0.128-SIP", Vendor::Aastra, Some("6863i"), Some("00085d40905f"), "WAZO aastra"),
    ("Aastra57i MAC:00-08-5D-1A-2B-3C V:2.6.0.1008-SIP", Vendor::Aastra, Some("6757i"), Some("00085d1a2b3c"), "WAZO aastra _UA_MODELS_MAP (57i → 6757i)"),
    ("Mitel6915 MAC:14-00-E9-1B-E2-41 V:6.4.0.140-SIP", Vendor::Aastra, Some("6915"), Some("1400e91be241"), "WAZO aastra"),
    ("Mitel6940 MAC:14-00-E9-1B-45-24 V:6.4.0.140-SIP", Vendor::Aastra, Some("6940"), Some("1400e91b4524"), "WAZO aastra"),
    // Gigaset: WAZO plugins/wazo_gigaset/common/common.py (comments); Gigaset wiki pageId=995885350.
    ("Gigaset N720 DM PRO/70.089.00.000.000;7C2F80CA21E4", Vendor::Gigaset, Some("n720-dm-pro"), Some("7c2f80ca21e4"), "WAZO gigaset"),
    ("Gigaset N720 DM PRO/70.108.00.000.000", Vendor::Gigaset, Some("n720-dm-pro"), None, "WAZO gigaset"),
    ("N720-DM-PRO/70.040.00.000.000", Vendor::Gigaset, Some("n720-dm-pro"), None, "WAZO gigaset (no maker, no MAC: model table)"),
    ("N510 IP PRO/42.245.00.000.000;7C2F804DF9A9", Vendor::Gigaset, Some("n510-ip-pro"), Some("7c2f804df9a9"), "WAZO gigaset, issue 19"),
    ("N510 IP PRO/42.245.00.000.000", Vendor::Gigaset, Some("n510-ip-pro"), None, "WAZO gigaset"),
    ("N510 IP PRO/42.258.00.000.000;7C2F806257D7", Vendor::Gigaset, Some("n510-ip-pro"), Some("7c2f806257d7"), "WAZO gigaset"),
    ("Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80E0D605", Vendor::Gigaset, Some("n870-ip-pro"), Some("7c2f80e0d605"), "WAZO gigaset, vendors.md §7"),
    ("Gigaset N670 IP PRO/83.V2.23.0+build.f68eeed;589EC600C8A9", Vendor::Gigaset, Some("n670-ip-pro"), Some("589ec600c8a9"), "Gigaset wiki user-agent page"),
    ("Gigaset N870 IP PRO/83.V2.26.0+build.e6c1b5b;7C2F80123456;Handset=250", Vendor::Gigaset, Some("n870-ip-pro"), Some("7c2f80123456"), "Gigaset wiki (fw 2.26 Handset=; MAC masked there as 7C2F80XXXXXX)"),
    ("Gigaset N870 VI PRO/83.V2.26.0+build.e6c1b5b;7C2F80654321;Handset=0", Vendor::Gigaset, Some("n870-vi-pro"), Some("7c2f80654321"), "Gigaset wiki (virtual integrator; MAC masked there)"),
    // Panasonic, Htek: WAZO plugins/wazo_panasonic, wazo_htek (comments).
    ("Panasonic_KX-UT113/01.133 (0080f0c8c381)", Vendor::Panasonic, Some("kx-ut113"), Some("0080f0c8c381"), "WAZO panasonic"),
    ("Panasonic_KX-HDV230/12.112 (bcc342123456)", Vendor::Panasonic, Some("kx-hdv230"), Some("bcc342123456"), "[I] KX-HDV in the KX-UT form (no published capture)"),
    ("Htek UC903 2.0.4.2 00:1f:c1:1c:22:a9", Vendor::Htek, Some("uc903"), Some("001fc11c22a9"), "WAZO htek"),
];

#[test]
fn every_published_user_agent_is_recognised() {
    let mut failures = Vec::new();
    for &(ua, vendor, model, mac, source) in ROWS {
        let got = parse(ua);
        let want = Some((vendor, model.map(str::to_owned), mac.map(str::to_owned)));
        let have = got.map(|u| {
            (
                u.vendor,
                u.model.as_ref().map(Model::as_str).map(str::to_owned),
                u.mac.map(|m| m.to_string()),
            )
        });
        if have != want {
            failures.push(format!("{ua:?} ({source}): got {have:?}, want {want:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Forms that look like a vendor's but must not be taken for it: the maker-less shapes are
/// settled by the model table or the MAC range, and nothing else.
#[test]
fn maker_less_shapes_need_the_model_table_or_the_mac_range() {
    for ua in [
        // Gigaset shape, model not in the table, Yealink MAC.
        "N720/1.0;001565000001",
        // Gigaset shape, unknown model, no MAC.
        "N999 IP PRO/42.245.00.000.000",
        // Gigaset shape but not a version.
        "Gigaset N510 IP PRO/abc",
        // Yealink's bare W52P shape with a Gigaset MAC.
        "W52P 25.30.0.2 7c:2f:80:44:b3:7c",
        // "snom" inside a word, or a word with no model, MAC or `lid`.
        "Mozilla/5.0 (compatible; Nosnom320-SIP 8.4)",
        "Snowmobile snomad/1.0",
        "curl/8.5.0",
        "",
    ] {
        assert_eq!(parse(ua), None, "{ua:?}");
    }
}

/// Gigaset's unprefixed form is Gigaset by MAC range even for a model the table lacks.
#[test]
fn a_gigaset_mac_settles_an_unknown_model() {
    let u = parse("N300 IP/42.245.00.000.000;589EC6000001").expect("recognised");
    assert_eq!(u.vendor, Vendor::Gigaset);
    assert_eq!(u.model.as_ref().map(Model::as_str), Some("n300-ip"));
}
