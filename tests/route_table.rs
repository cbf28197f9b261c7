//! The vendor recognisers are a table; so is their test. Each row is (method, User-Agent, path)
//! and the expected route as `vendor scope kind mac model file key` (`-` for null), or the
//! refusal status.

use provedge::route::{self, GrandstreamAffixes, PathDefault, RouteConfig};
use provedge::{Method, Request, Vendor};

const GS: &str = "Grandstream Model HW GXP2170 V2.4B SW 1.0.11.3 DevId 000b82123456";
const GS_OTHER: &str = "Grandstream Model HW GRP2614 SW 1.0.5.67 DevId 000b82aaaaaa";
const POLY: &str =
    "FileTransport PolycomVVX-VVX_400-UA/5.9.5.0614 (SN:0004f2123456) Type/Application";
const POLY_NOSN: &str = "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 Type/Application";
const YEA: &str = "Yealink SIP-T46S 66.86.0.15 00:15:65:12:34:56";
const YEA_T58V: &str = "Yealink SIP-T58V 58.86.0.15 00:15:65:12:34:57";
const YEA_NOMAC: &str = "Yealink-T46G 28.71.0.81 28.1.0.128.0.0.0";
const CISCO_MPP: &str = "Cisco-CP-8841-3PCC/11.3.1 (00562b123456)";
const CISCO_SPA: &str = "Cisco/SPA504G-7.6.2 (000E08ABCDEF)(CBT141400UK)";
const SNOM: &str = "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2010.12-00004-g9ba52f5 000413123456 SXM:0 UXM:0)";
const FANVIL: &str = "Fanvil X5U-V2 2.12.16.17 0c383e123456";
const AASTRA: &str = "Aastra6731i MAC:00-08-5D-12-34-56 V:3.2.0.70-SIP";
const GIGASET: &str = "Gigaset N870 IP PRO/83.V2.11.0+build.a546b91;7C2F80123456";
const PANA: &str = "Panasonic_KX-UT113/01.133 (0080f0123456)";
const HTEK: &str = "Htek UC903 2.0.4.2 00:1f:c1:12:34:56";
const ALGO: &str = "Algo-8188 5.2 0022EE123456";

/// (method, user agent, path, expected)
const CASES: &[(&str, &str, &str, &str)] = &[
    // ---------------------------------------------------------------- Grandstream
    ("GET", "", "/cfg000b82123456", "grandstream device config 000b82123456 - cfg000b82123456 grandstream/cfg000b82123456"),
    ("GET", "", "/cfg000b82123456.bin", "grandstream device config 000b82123456 - cfg000b82123456 grandstream/cfg000b82123456"),
    ("GET", "", "/cfg000b82123456.xml", "grandstream device config 000b82123456 - cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("GET", "", "/CFG000B82123456.XML", "grandstream device config 000b82123456 - cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("GET", GS, "/cfg000b82123456.xml", "grandstream device config 000b82123456 gxp2170 cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("HEAD", GS, "/cfg000b82123456.xml", "grandstream device config 000b82123456 gxp2170 cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("GET", "", "/Grandstream/cfg000b82123456.xml", "grandstream device config 000b82123456 - cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("GET", "", "/provision/Grandstream/cfgec74d7123456.xml", "grandstream device config ec74d7123456 - cfgec74d7123456.xml grandstream/cfgec74d7123456.xml"),
    ("GET", "", "/cfgc074ad123456", "grandstream device config c074ad123456 - cfgc074ad123456 grandstream/cfgc074ad123456"),
    ("GET", "", "/cfggxp2170.xml", "grandstream model config - gxp2170 cfggxp2170.xml grandstream/cfggxp2170.xml"),
    ("GET", "", "/cfgGRP2612W.xml", "grandstream model config - grp2612w cfggrp2612w.xml grandstream/cfggrp2612w.xml"),
    ("GET", GS, "/cfggxp2170.xml", "grandstream model config 000b82123456 gxp2170 cfggxp2170.xml grandstream/cfggxp2170.xml"),
    ("GET", "", "/cfght802.xml", "grandstream model config - ht802 cfght802.xml grandstream/cfght802.xml"),
    ("GET", "", "/cfg.xml", "grandstream generic config - - cfg.xml grandstream/cfg.xml"),
    ("GET", GS, "/cfg.xml", "grandstream generic config 000b82123456 gxp2170 cfg.xml grandstream/cfg.xml"),
    ("GET", GS_OTHER, "/Grandstream/cfg.xml", "grandstream generic config 000b82aaaaaa grp2614 cfg.xml grandstream/cfg.xml"),
    ("GET", "", "/cfg000b82123456.cfg", "grandstream device config 000b82123456 - cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("GET", "", "/dev000b82123456.cfg", "grandstream device config 000b82123456 - dev000b82123456.cfg grandstream/dev000b82123456.cfg"),
    ("GET", "", "/phonebook.xml", "grandstream generic directory - - phonebook.xml grandstream/phonebook.xml"),
    // The other phonebook vendors keep theirs as `<vendor>/phonebook.xml`: that key, asked
    // for, names their file (the fuzzer's canonical round trip), as does their phone.
    ("GET", "", "/yealink/phonebook.xml", "yealink generic directory - - phonebook.xml yealink/phonebook.xml"),
    ("GET", "", "/snom/phonebook.xml", "snom generic directory - - phonebook.xml snom/phonebook.xml"),
    ("GET", "", "/fanvil/phonebook.xml", "fanvil generic directory - - phonebook.xml fanvil/phonebook.xml"),
    ("GET", YEA, "/phonebook.xml", "yealink generic directory 001565123456 t46s phonebook.xml yealink/phonebook.xml"),
    ("GET", GS, "/phonebook.xml", "grandstream generic directory 000b82123456 gxp2170 phonebook.xml grandstream/phonebook.xml"),
    ("GET", POLY, "/phonebook.xml", "grandstream generic directory 0004f2123456 - phonebook.xml grandstream/phonebook.xml"),
    ("GET", "", "/000b82123456/phonebook.xml", "grandstream device directory 000b82123456 - 000b82123456/phonebook.xml grandstream/000b82123456/phonebook.xml"),
    ("GET", "", "/gxp2140fw.bin", "grandstream model firmware - gxp2140 gxp2140fw.bin grandstream/gxp2140fw.bin"),
    ("GET", "", "/boot.bin", "grandstream generic firmware - - boot.bin grandstream/boot.bin"),
    ("GET", GS, "/firmware/gxp2170fw.bin", "grandstream model firmware 000b82123456 gxp2170 gxp2170fw.bin grandstream/gxp2170fw.bin"),
    ("GET", GS, "/custom-image.bin", "grandstream generic firmware 000b82123456 gxp2170 custom-image.bin grandstream/custom-image.bin"),
    ("GET", "", "/cfg000b8212345.xml", "400"),
    ("GET", "", "/cfg000b82123456z.xml", "404"),
    ("GET", "", "/cfg000b8212345g.xml", "400"),
    ("PUT", "", "/cfg000b82123456.xml", "405"),
    ("DELETE", "", "/cfg.xml", "405"),
    ("GET", GS, "/cfg000b82654321.xml", "grandstream device config 000b82654321 gxp2170 cfg000b82654321.xml grandstream/cfg000b82654321.xml"),
    // ---------------------------------------------------------------- Polycom
    ("GET", "", "/000000000000.cfg", "polycom generic config - - 000000000000.cfg polycom/000000000000.cfg"),
    ("GET", POLY, "/000000000000.cfg", "polycom generic config 0004f2123456 vvx400 000000000000.cfg polycom/000000000000.cfg"),
    ("GET", "", "/0004f2123456.cfg", "polycom device config 0004f2123456 - 0004f2123456.cfg polycom/0004f2123456.cfg"),
    ("GET", POLY_NOSN, "/64167f123456.cfg", "polycom device config 64167f123456 vvx400 64167f123456.cfg polycom/64167f123456.cfg"),
    ("GET", POLY, "/0004F2123456.cfg", "polycom device config 0004f2123456 vvx400 0004f2123456.cfg polycom/0004f2123456.cfg"),
    ("GET", "", "/0004f2123456-phone.cfg", "polycom device config 0004f2123456 - 0004f2123456-phone.cfg polycom/0004f2123456-phone.cfg"),
    ("GET", "", "/0004f2123456-registration.cfg", "polycom device config 0004f2123456 - 0004f2123456-registration.cfg polycom/0004f2123456-registration.cfg"),
    ("GET", "", "/0004f2123456-sip.cfg", "polycom device config 0004f2123456 - 0004f2123456-sip.cfg polycom/0004f2123456-sip.cfg"),
    ("GET", "", "/0004f2123456-features.cfg", "polycom device config 0004f2123456 - 0004f2123456-features.cfg polycom/0004f2123456-features.cfg"),
    ("GET", "", "/0004f2123456-site.cfg", "polycom device config 0004f2123456 - 0004f2123456-site.cfg polycom/0004f2123456-site.cfg"),
    ("GET", "", "/0004f2123456-web.cfg", "polycom device config 0004f2123456 - 0004f2123456-web.cfg polycom/0004f2123456-web.cfg"),
    ("GET", "", "/0004f2123456-license.cfg", "polycom device config 0004f2123456 - 0004f2123456-license.cfg polycom/0004f2123456-license.cfg"),
    ("GET", "", "/0004f2123456-user.cfg", "polycom device config 0004f2123456 - 0004f2123456-user.cfg polycom/0004f2123456-user.cfg"),
    ("GET", "", "/0004f2123456-directory.xml", "polycom device directory 0004f2123456 - 0004f2123456-directory.xml polycom/0004f2123456-directory.xml"),
    ("GET", "", "/000000000000-directory.xml", "polycom generic directory - - 000000000000-directory.xml polycom/000000000000-directory.xml"),
    ("GET", "", "/000000000000-license.cfg", "polycom generic config - - 000000000000-license.cfg polycom/000000000000-license.cfg"),
    ("GET", "", "/features.cfg", "polycom generic config - - features.cfg polycom/features.cfg"),
    ("GET", "", "/site.cfg", "polycom generic config - - site.cfg polycom/site.cfg"),
    ("GET", "", "/sip.cfg", "polycom generic config - - sip.cfg polycom/sip.cfg"),
    ("GET", "", "/sip.ld", "polycom generic firmware - - sip.ld polycom/sip.ld"),
    ("GET", "", "/2345-12600-001.sip.ld", "polycom model firmware - - 2345-12600-001.sip.ld polycom/2345-12600-001.sip.ld"),
    ("PUT", POLY, "/0004f2123456-app.log", "polycom device upload 0004f2123456 vvx400 0004f2123456-app.log uploads/polycom/0004f2123456-app.log"),
    ("PUT", "", "/0004f2123456-boot.log", "polycom device upload 0004f2123456 - 0004f2123456-boot.log uploads/polycom/0004f2123456-boot.log"),
    ("PUT", "", "/0004f2123456-phone.cfg", "polycom device upload 0004f2123456 - 0004f2123456-phone.cfg uploads/polycom/0004f2123456-phone.cfg"),
    ("PUT", "", "/0004f2123456-web.cfg", "polycom device upload 0004f2123456 - 0004f2123456-web.cfg uploads/polycom/0004f2123456-web.cfg"),
    ("POST", "", "/0004f2123456-directory.xml", "polycom device upload 0004f2123456 - 0004f2123456-directory.xml uploads/polycom/0004f2123456-directory.xml"),
    ("GET", "", "/0004f2123456-app.log", "405"),
    ("PUT", "", "/0004f2123456-registration.cfg", "405"),
    ("PUT", "", "/000000000000.cfg", "405"),
    ("GET", "", "/0004f212345-phone.cfg", "400"),
    ("GET", "", "/000000000000-phone.cfg", "404"),
    ("GET", "", "/provision/polycom/0004f2123456-phone.cfg", "polycom device config 0004f2123456 - 0004f2123456-phone.cfg polycom/0004f2123456-phone.cfg"),
    // ---------------------------------------------------------------- Yealink
    ("GET", "", "/y000000000066.cfg", "yealink model config - t46s y000000000066.cfg yealink/y000000000066.cfg"),
    ("GET", YEA, "/y000000000066.cfg", "yealink model config 001565123456 t46s y000000000066.cfg yealink/y000000000066.cfg"),
    ("GET", YEA_T58V, "/y000000000058.cfg", "yealink model config 001565123457 t58v y000000000058.cfg yealink/y000000000058.cfg"),
    ("GET", "", "/y000000000058.cfg", "yealink model config - t58a y000000000058.cfg yealink/y000000000058.cfg"),
    ("GET", "", "/y000000000000.cfg", "yealink model config - t28p y000000000000.cfg yealink/y000000000000.cfg"),
    ("GET", "", "/y000000000150.cfg", "yealink model config - t58w y000000000150.cfg yealink/y000000000150.cfg"),
    ("GET", YEA, "/y000000000999.cfg", "yealink model config 001565123456 t46s y000000000999.cfg yealink/y000000000999.cfg"),
    ("GET", "", "/y000000000000.boot", "yealink generic config - - y000000000000.boot yealink/y000000000000.boot"),
    ("GET", "", "/001565123456.boot", "yealink device config 001565123456 - 001565123456.boot yealink/001565123456.boot"),
    ("GET", "", "/001565123456.cfg", "yealink device config 001565123456 - 001565123456.cfg yealink/001565123456.cfg"),
    ("GET", YEA, "/001565123456.cfg", "yealink device config 001565123456 t46s 001565123456.cfg yealink/001565123456.cfg"),
    ("GET", "", "/805ec0123456.cfg", "yealink device config 805ec0123456 - 805ec0123456.cfg yealink/805ec0123456.cfg"),
    ("GET", YEA_NOMAC, "/aabbcc123456.cfg", "yealink device config aabbcc123456 t46g aabbcc123456.cfg yealink/aabbcc123456.cfg"),
    ("GET", "", "/001565123456-local.cfg", "yealink device config 001565123456 - 001565123456-local.cfg yealink/001565123456-local.cfg"),
    ("PUT", YEA, "/001565123456-local.cfg", "yealink device upload 001565123456 t46s 001565123456-local.cfg uploads/yealink/001565123456-local.cfg"),
    ("GET", "", "/001565123456-contact.xml", "yealink device directory 001565123456 - 001565123456-contact.xml yealink/001565123456-contact.xml"),
    ("PUT", "", "/001565123456-contact.xml", "yealink device upload 001565123456 - 001565123456-contact.xml uploads/yealink/001565123456-contact.xml"),
    ("GET", "", "/phonebook/yealink.xml", "yealink generic directory - - phonebook.xml yealink/phonebook.xml"),
    ("GET", YEA, "/beta/Phonebook/Yealink.xml", "yealink generic directory 001565123456 t46s phonebook.xml yealink/phonebook.xml"),
    ("GET", "", "/phonebook/yealink/001565ABCDEF.xml", "yealink device directory 001565abcdef - 001565abcdef-phonebook.xml yealink/001565abcdef-phonebook.xml"),
    ("GET", "", "/phonebook/yealink/001565ABCDE.xml", "400"),
    ("PUT", "", "/phonebook/yealink.xml", "405"),
    ("GET", "", "/y000000000066_Security.enc", "yealink model key - t46s y000000000066_Security.enc yealink/y000000000066_security.enc"),
    ("GET", "", "/001565123456_Security.enc", "yealink device key 001565123456 - 001565123456_Security.enc yealink/001565123456_security.enc"),
    ("GET", "", "/account_Security.enc", "yealink generic key - - account_Security.enc yealink/account_security.enc"),
    ("GET", "", "/y000000000066.enc", "yealink model key - t46s y000000000066.enc yealink/y000000000066.enc"),
    ("GET", "", "/account.enc", "yealink generic key - - account.enc yealink/account.enc"),
    ("GET", "", "/directory_setting.xml", "yealink generic asset - - directory_setting.xml yealink/directory_setting.xml"),
    ("GET", "", "/T46S(T48S,T42S,T41S)-66.86.0.15.rom", "yealink generic firmware - - T46S(T48S,T42S,T41S)-66.86.0.15.rom yealink/t46s(t48s,t42s,t41s)-66.86.0.15.rom"),
    ("GET", "", "/prov/yealink/001565123456.cfg", "yealink device config 001565123456 - 001565123456.cfg yealink/001565123456.cfg"),
    ("GET", "", "/provisioning/yealink/aabbcc123456.cfg", "yealink device config aabbcc123456 - aabbcc123456.cfg yealink/aabbcc123456.cfg"),
    ("GET", "", "/y00000000066.cfg", "400"),
    ("GET", "", "/y0000000066.cfg", "404"),
    ("GET", "", "/0015651234.cfg", "400"),
    ("GET", "", "/00156512345x.cfg", "400"),
    // ---------------------------------------------------------------- Algo
    ("GET", "", "/algom0022EE123456.conf", "algo device config 0022ee123456 - algom0022EE123456.conf algo/algom0022ee123456.conf"),
    ("GET", "", "/algom0022ee123456.conf", "algo device config 0022ee123456 - algom0022EE123456.conf algo/algom0022ee123456.conf"),
    ("GET", ALGO, "/algom0022EE123456.conf", "algo device config 0022ee123456 8188 algom0022EE123456.conf algo/algom0022ee123456.conf"),
    ("GET", "", "/algo0022EE123456.conf", "algo device config 0022ee123456 - algom0022EE123456.conf algo/algom0022ee123456.conf"),
    ("GET", "", "/algom0022EE123456-i.conf", "algo device config 0022ee123456 - algom0022EE123456-i.conf algo/algom0022ee123456-i.conf"),
    ("GET", "", "/algom0022EE123456.md5", "algo device checksum 0022ee123456 - algom0022EE123456.md5 algo/algom0022ee123456.md5"),
    ("GET", "", "/algom0022EE123456.conf.md5", "algo device checksum 0022ee123456 - algom0022EE123456.md5 algo/algom0022ee123456.md5"),
    ("GET", "", "/algom0022EE123456-i.md5", "algo device checksum 0022ee123456 - algom0022EE123456-i.md5 algo/algom0022ee123456-i.md5"),
    ("GET", "", "/algom0022EE123456-i.conf.md5", "algo device checksum 0022ee123456 - algom0022EE123456-i.md5 algo/algom0022ee123456-i.md5"),
    ("GET", "", "/algop8188.conf", "algo model config - 8188 algop8188.conf algo/algop8188.conf"),
    ("GET", "", "/algop8188-i.conf", "algo model config - 8188 algop8188-i.conf algo/algop8188-i.conf"),
    ("GET", "", "/algop8188.md5", "algo model checksum - 8188 algop8188.md5 algo/algop8188.md5"),
    ("GET", "", "/algop8188.conf.md5", "algo model checksum - 8188 algop8188.md5 algo/algop8188.md5"),
    ("GET", "", "/algop8180-tones.zip", "algo model asset - 8180 algop8180-tones.zip algo/algop8180-tones.zip"),
    ("GET", "", "/algop8180-tones.zip.md5", "algo model checksum - 8180 algop8180-tones.md5 algo/algop8180-tones.md5"),
    ("GET", "", "/algo-8188-1.5.fw", "algo model firmware - 8188 algo-8188-1.5.fw algo/algo-8188-1.5.fw"),
    ("GET", "", "/algo-8188-1.5.fw.md5", "algo model checksum - 8188 algo-8188-1.5.md5 algo/algo-8188-1.5.md5"),
    ("GET", "", "/algo-pa-kernel-r5.fw", "algo generic firmware - - algo-pa-kernel-r5.fw algo/algo-pa-kernel-r5.fw"),
    ("GET", ALGO, "/TONE_FILE.zip", "algo generic asset 0022ee123456 8188 TONE_FILE.zip algo/tone_file.zip"),
    ("GET", ALGO, "/TONE_FILE.zip.md5", "algo generic checksum 0022ee123456 8188 TONE_FILE.zip.md5 algo/tone_file.zip.md5"),
    ("GET", "", "/TONE_FILE.zip", "404"),
    ("GET", "", "/algom0022EE12345.conf", "400"),
    ("GET", "", "/algop818.conf", "404"),
    // ---------------------------------------------------------------- Cisco
    ("GET", "", "/spa504G.cfg", "cisco model config - spa504g spa504g.cfg cisco/spa504g.cfg"),
    ("GET", CISCO_SPA, "/spa504g.cfg", "cisco model config 000e08abcdef spa504g spa504g.cfg cisco/spa504g.cfg"),
    ("GET", "", "/spa942.cfg", "cisco model config - spa942 spa942.cfg cisco/spa942.cfg"),
    ("GET", "", "/init.cfg", "cisco generic config - - init.cfg cisco/init.cfg"),
    ("GET", "", "/ata191.cfg", "cisco model config - ata191 ata191.cfg cisco/ata191.cfg"),
    ("GET", "", "/ATA00562B043615.cnf.xml", "cisco device config 00562b043615 - ATA00562B043615.cnf.xml cisco/ata00562b043615.cnf.xml"),
    ("GET", "", "/8841-3PCC.xml", "cisco model config - cp-8841-3pcc 8841-3PCC.xml cisco/8841-3pcc.xml"),
    ("GET", CISCO_MPP, "/00562b123456.xml", "cisco device config 00562b123456 cp-8841-3pcc 00562b123456.xml cisco/00562b123456.xml"),
    ("GET", CISCO_MPP, "/00562b123456.cfg", "cisco device config 00562b123456 cp-8841-3pcc 00562b123456.cfg cisco/00562b123456.cfg"),
    ("GET", "", "/00562b123456.cfg", "cisco device config 00562b123456 - 00562b123456.cfg cisco/00562b123456.cfg"),
    ("GET", "", "/Cisco/CP-8841-3PCC/00562b123456.cfg", "cisco device config 00562b123456 cp-8841-3pcc 00562b123456.cfg cisco/00562b123456.cfg"),
    ("GET", "", "/SEP00562B123456.cnf.xml", "cisco device config 00562b123456 - SEP00562B123456.cnf.xml cisco/sep00562b123456.cnf.xml"),
    ("GET", "", "/SIP00562B123456.cnf", "cisco device config 00562b123456 - SIP00562B123456.cnf cisco/sip00562b123456.cnf"),
    ("GET", "", "/CTLSEP00562B123456.tlv", "cisco device key 00562b123456 - CTLSEP00562B123456.tlv cisco/ctlsep00562b123456.tlv"),
    ("GET", "", "/ITLSEP00562B123456.tlv", "cisco device key 00562b123456 - ITLSEP00562B123456.tlv cisco/itlsep00562b123456.tlv"),
    ("GET", "", "/XMLDefault.cnf.xml", "cisco generic config - - XMLDefault.cnf.xml cisco/xmldefault.cnf.xml"),
    ("GET", "", "/SIPDefault.cnf", "cisco generic config - - SIPDefault.cnf cisco/sipdefault.cnf"),
    ("GET", "", "/OS79XX.TXT", "cisco generic firmware - - OS79XX.TXT cisco/os79xx.txt"),
    ("GET", "", "/ITLFile.tlv", "cisco generic key - - ITLFile.tlv cisco/itlfile.tlv"),
    ("GET", "", "/RINGLIST.XML", "cisco generic asset - - RINGLIST.XML cisco/ringlist.xml"),
    ("GET", "", "/000e08abcdef.xml", "cisco device config 000e08abcdef - 000e08abcdef.xml cisco/000e08abcdef.xml"),
    ("GET", "", "/SEP00562B12345.cnf.xml", "400"),
    // ---------------------------------------------------------------- Aastra / Mitel
    ("GET", "", "/aastra.cfg", "aastra generic config - - aastra.cfg aastra/aastra.cfg"),
    ("GET", "", "/startup.cfg", "aastra generic config - - startup.cfg aastra/startup.cfg"),
    ("GET", "", "/security.tuz", "aastra generic key - - security.tuz aastra/security.tuz"),
    ("GET", "", "/6731i.cfg", "aastra model config - 6731i 6731i.cfg aastra/6731i.cfg"),
    ("GET", "", "/6940.cfg", "aastra model config - 6940 6940.cfg aastra/6940.cfg"),
    ("GET", "", "/00085D123456.cfg", "aastra device config 00085d123456 - 00085D123456.cfg aastra/00085d123456.cfg"),
    ("GET", AASTRA, "/00085d123456.cfg", "aastra device config 00085d123456 6731i 00085D123456.cfg aastra/00085d123456.cfg"),
    ("GET", "", "/1400E9123456.tuz", "aastra device config 1400e9123456 - 1400E9123456.tuz aastra/1400e9123456.tuz"),
    ("GET", "", "/MN_1400E9123456.cfg", "aastra device config 1400e9123456 - MN_1400E9123456.cfg aastra/mn_1400e9123456.cfg"),
    ("GET", "", "/MN_Generic.cfg", "aastra generic config - - MN_Generic.cfg aastra/mn_generic.cfg"),
    // ---------------------------------------------------------------- Snom
    ("GET", "", "/snom320.htm", "snom model config - 320 snom320.htm snom/snom320.htm"),
    ("GET", "", "/snomD785.htm", "snom model config - d785 snomD785.htm snom/snomd785.htm"),
    ("GET", "", "/snomD785-000413123456.htm", "snom device config 000413123456 d785 snomD785-000413123456.htm snom/snomd785-000413123456.htm"),
    ("GET", "", "/000413123456.xml", "snom device config 000413123456 - 000413123456.xml snom/000413123456.xml"),
    ("GET", SNOM, "/000413123456.xml", "snom device config 000413123456 d785 000413123456.xml snom/000413123456.xml"),
    ("GET", "", "/snomD785-firmware.xml", "snom model firmware - d785 snomD785-firmware.xml snom/snomd785-firmware.xml"),
    ("GET", "", "/gui_lang.xml", "snom generic asset - - gui_lang.xml snom/gui_lang.xml"),
    ("GET", "", "/C520-WiMi_000413123456.cfg", "snom device config 000413123456 - C520-WiMi_000413123456.cfg snom/c520-wimi_000413123456.cfg"),
    ("GET", "", "/phonebook/snom.xml", "snom generic directory - - phonebook.xml snom/phonebook.xml"),
    ("GET", "", "/phonebook/snom/000413abcdef.xml", "snom device directory 000413abcdef - 000413ABCDEF-phonebook.xml snom/000413abcdef-phonebook.xml"),
    ("GET", SNOM, "/provision/000413123456/directory.xml", "snom generic directory 000413123456 d785 phonebook.xml snom/phonebook.xml"),
    // ---------------------------------------------------------------- Fanvil
    ("GET", "", "/0c383e123456.cfg", "fanvil device config 0c383e123456 - 0c383e123456.cfg fanvil/0c383e123456.cfg"),
    ("GET", FANVIL, "/0c383e123456.cfg", "fanvil device config 0c383e123456 x5u-v2 0c383e123456.cfg fanvil/0c383e123456.cfg"),
    ("GET", "", "/F0V00X600000.cfg", "fanvil model config - - F0V00X600000.cfg fanvil/f0v00x600000.cfg"),
    ("GET", FANVIL, "/f0X4hw1.100.cfg", "fanvil model config 0c383e123456 x5u-v2 f0X4hw1.100.cfg fanvil/f0x4hw1.100.cfg"),
    ("GET", "", "/phonebook/fanvil.xml", "fanvil generic directory - - phonebook.xml fanvil/phonebook.xml"),
    ("GET", "", "/phonebook/fanvil/0C383E123456.xml", "fanvil device directory 0c383e123456 - 0c383e123456-phonebook.xml fanvil/0c383e123456-phonebook.xml"),
    // ---------------------------------------------------------------- Gigaset
    ("GET", "", "/provisioning.xml", "gigaset generic config - - provisioning.xml gigaset/provisioning.xml"),
    ("GET", "", "/7C2F80123456.xml", "gigaset device config 7c2f80123456 - 7C2F80123456.xml gigaset/7c2f80123456.xml"),
    ("GET", GIGASET, "/7c2f80123456.xml", "gigaset device config 7c2f80123456 n870-ip-pro 7C2F80123456.xml gigaset/7c2f80123456.xml"),
    // ---------------------------------------------------------------- Panasonic
    ("GET", "", "/Config0080F0123456.cfg", "panasonic device config 0080f0123456 - Config0080F0123456.cfg panasonic/config0080f0123456.cfg"),
    ("GET", PANA, "/config0080f0123456.cfg", "panasonic device config 0080f0123456 kx-ut113 Config0080F0123456.cfg panasonic/config0080f0123456.cfg"),
    ("GET", "", "/Config0080F0123456.enc", "panasonic device config 0080f0123456 - Config0080F0123456.enc panasonic/config0080f0123456.enc"),
    ("GET", "", "/Config0080F0123456.e2c", "panasonic device config 0080f0123456 - Config0080F0123456.e2c panasonic/config0080f0123456.e2c"),
    ("GET", "", "/KX-UT113.cfg", "panasonic model config - kx-ut113 KX-UT113.cfg panasonic/kx-ut113.cfg"),
    ("GET", "", "/ConfigKX-UT113.cfg", "panasonic model config - kx-ut113 ConfigKX-UT113.cfg panasonic/configkx-ut113.cfg"),
    ("GET", "", "/ConfigCommon.cfg", "panasonic generic config - - ConfigCommon.cfg panasonic/configcommon.cfg"),
    // ---------------------------------------------------------------- Htek
    ("GET", HTEK, "/cfg001fc1123456.xml", "htek device config 001fc1123456 uc903 cfg001fc1123456.xml htek/cfg001fc1123456.xml"),
    ("GET", "", "/cfg001fc1123456.xml", "htek device config 001fc1123456 - cfg001fc1123456.xml htek/cfg001fc1123456.xml"),
    ("GET", "", "/001fc1123456.cfg", "htek device config 001fc1123456 - 001fc1123456.cfg htek/001fc1123456.cfg"),
    ("GET", "", "/cfgaabbcc123456.xml", "grandstream device config aabbcc123456 - cfgaabbcc123456.xml grandstream/cfgaabbcc123456.xml"),
    // ---------------------------------------------------------------- Obihai
    ("GET", "", "/9cadef123456.xml", "obihai device config 9cadef123456 - 9cadef123456.xml obihai/9cadef123456.xml"),
    ("GET", "", "/9cadef123456.aes", "obihai device config 9cadef123456 - 9cadef123456.aes obihai/9cadef123456.aes"),
    // ---------------------------------------------------------------- settled by evidence
    ("GET", YEA, "/0c383e123456.cfg", "yealink device config 0c383e123456 t46s 0c383e123456.cfg yealink/0c383e123456.cfg"),
    ("GET", POLY, "/001565123456.cfg", "polycom device config 001565123456 vvx400 001565123456.cfg polycom/001565123456.cfg"),
    ("GET", SNOM, "/aabbcc123456.xml", "snom device config aabbcc123456 d785 AABBCC123456.xml snom/aabbcc123456.xml"),
    ("GET", HTEK, "/aabbcc123456.cfg", "htek device config aabbcc123456 uc903 aabbcc123456.cfg htek/aabbcc123456.cfg"),
    ("GET", GS, "/aabbcc123456.cfg", "404"),
    ("GET", "", "/aabbcc123456.cfg", "404"),
    ("GET", "", "/aabbcc123456.xml", "404"),
    ("GET", "", "/provision/polycom/aabbcc123456.cfg", "polycom device config aabbcc123456 - aabbcc123456.cfg polycom/aabbcc123456.cfg"),
    ("GET", "", "/mitel/aabbcc123456.cfg", "aastra device config aabbcc123456 - AABBCC123456.cfg aastra/aabbcc123456.cfg"),
    // ---------------------------------------------------------------- static assets by User-Agent
    ("GET", POLY, "/provision/logo.png", "polycom generic asset 0004f2123456 vvx400 logo.png polycom/logo.png"),
    ("GET", YEA, "/lang/000.GUI.English.lang", "yealink generic asset 001565123456 t46s 000.GUI.English.lang yealink/000.gui.english.lang"),
    ("GET", "", "/provision/logo.png", "404"),
    ("PUT", POLY, "/provision/logo.png", "405"),
    // ---------------------------------------------------------------- FusionPBX query form
    ("GET", "", "/app/provision/index.php?mac=0004f2123456", "polycom device config 0004f2123456 - 0004f2123456.cfg polycom/0004f2123456.cfg"),
    ("GET", "", "/app/provision/?mac=00:0b:82:12:34:56", "grandstream device config 000b82123456 - cfg000b82123456.xml grandstream/cfg000b82123456.xml"),
    ("GET", "", "/app/provision/?mac=0022ee123456", "algo device config 0022ee123456 - algom0022EE123456.conf algo/algom0022ee123456.conf"),
    ("GET", YEA, "/app/provision/?mac=001565123456", "yealink device config 001565123456 t46s 001565123456.cfg yealink/001565123456.cfg"),
    ("GET", "", "/app/provision/index.php?mac=0004f2123456&file=%7b%24mac%7d-registration.cfg", "polycom device config 0004f2123456 - 0004f2123456-registration.cfg polycom/0004f2123456-registration.cfg"),
    ("GET", "", "/app/provision/?mac=0004f2123456&file=features.cfg", "polycom generic config 0004f2123456 - features.cfg polycom/features.cfg"),
    ("GET", "", "/app/provision/index.php?file=y000000000066.cfg", "yealink model config - t46s y000000000066.cfg yealink/y000000000066.cfg"),
    ("GET", YEA, "/app/provision/?file=directory.xml&contacts=users", "yealink generic directory 001565123456 t46s phonebook.xml yealink/phonebook.xml"),
    ("GET", FANVIL, "/app/provision/?address=0c383e123456&file=directory.xml", "fanvil generic directory 0c383e123456 x5u-v2 phonebook.xml fanvil/phonebook.xml"),
    ("GET", "", "/app/provision/?mac=001565123456&file=directory.xml", "yealink generic directory 001565123456 - phonebook.xml yealink/phonebook.xml"),
    ("GET", "", "/app/provision/?file=directory.xml", "404"),
    ("GET", GS, "/directory.xml", "404"),
    ("GET", "", "/app/provision/?mac=aabbcc123456", "404"),
    ("GET", "", "/app/provision/?mac=0004f212345", "400"),
    ("GET", "", "/app/provision/?mac=0004f2123456&file=../../etc/passwd", "400"),
    ("GET", "", "/app/provision/", "404"),
    ("GET", YEA, "/app/provision/?mac=001565654321", "403-conflict"),
    // ---------------------------------------------------------------- MAC conflicts are recorded
    ("GET", YEA, "/001565654321.cfg", "403-conflict"),
    ("GET", GS, "/cfg000b82999999.xml", "403-conflict"),
    // ---------------------------------------------------------------- refusals
    ("GET", "", "/", "404"),
    ("GET", "", "/index.html", "404"),
    ("GET", "", "/provision/", "404"),
    ("GET", "", "/../etc/passwd", "400"),
    ("GET", "", "/provision/%2e%2e/%2e%2e/etc/passwd", "400"),
    ("GET", "", "/provision/..%2fcfg.xml", "400"),
    ("GET", "", "/cfg.xml%00.png", "400"),
    ("GET", "", "/prov\\..\\cfg.xml", "400"),
    ("GET", "", "cfg.xml", "400"),
    ("GET", "", "/%c0%af.cfg", "400"),
    ("BREW", "", "/cfg.xml", "405"),
    ("GET", "", "/cfg000000000000.xml", "404"),
];

fn cfg() -> RouteConfig {
    RouteConfig::default()
}

fn check(cfg: &RouteConfig, method: &str, ua: &str, path: &str, want: &str) -> Result<(), String> {
    let mut req = Request::new(Method::parse(method), path);
    if !ua.is_empty() {
        req = req.with_header("User-Agent", ua);
    }
    let got = route::route(&req, cfg);
    let got = match (&got, want) {
        (Ok(r), "403-conflict") if r.mac_conflict().is_some() => return Ok(()),
        (Ok(r), _) => {
            let opt = |s: Option<String>| s.unwrap_or_else(|| "-".into());
            format!(
                "{} {} {} {} {} {} {}",
                r.vendor(),
                r.scope().name(),
                r.kind().name(),
                opt(r.mac().map(|m| m.to_string())),
                opt(r.model().map(|m| m.to_string())),
                r.file(),
                r.key()
            )
        }
        (Err(e), _) => e.status().to_string(),
    };
    if got == want {
        Ok(())
    } else {
        Err(format!(
            "{method} {path:?} UA {ua:?}\n     want {want}\n      got {got} ({:?})",
            route::route(&Request::get(path), cfg)
                .err()
                .map(|e| e.to_string())
        ))
    }
}

#[test]
fn the_route_table() {
    assert!(CASES.len() >= 150, "{} cases", CASES.len());
    let cfg = cfg();
    let failures: Vec<String> = CASES
        .iter()
        .filter_map(|(m, ua, p, want)| check(&cfg, m, ua, p, want).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        CASES.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vendor_is_covered_by_the_table() {
    let cfg = cfg();
    for vendor in Vendor::ALL {
        let hit = CASES.iter().any(|(m, ua, p, want)| {
            want.starts_with(vendor.name()) && check(&cfg, m, ua, p, want).is_ok()
        });
        assert!(hit, "no passing case for {vendor}");
    }
}

#[test]
fn grandstream_prefix_and_postfix_are_stripped() {
    let cfg = RouteConfig {
        grandstream: GrandstreamAffixes {
            config_prefix: "gs_".into(),
            config_postfix: "_cfg001".into(),
            firmware_prefix: "fw_".into(),
            firmware_postfix: "_1.0.7.5".into(),
        },
        ..RouteConfig::default()
    };
    let rows = [
        ("/gs_cfg000b82000001_cfg001", "grandstream device config 000b82000001 - cfg000b82000001 grandstream/cfg000b82000001"),
        ("/gs_cfg000b82000001.xml_cfg001", "grandstream device config 000b82000001 - cfg000b82000001.xml grandstream/cfg000b82000001.xml"),
        ("/gs_cfg000b82000001_cfg001.xml", "grandstream device config 000b82000001 - cfg000b82000001.xml grandstream/cfg000b82000001.xml"),
        ("/gs_cfg.xml_cfg001", "grandstream generic config - - cfg.xml grandstream/cfg.xml"),
        ("/fw_boot.bin_1.0.7.5", "grandstream generic firmware - - boot.bin grandstream/boot.bin"),
        ("/fw_gxp2140fw.bin_1.0.7.5", "grandstream model firmware - gxp2140 gxp2140fw.bin grandstream/gxp2140fw.bin"),
        // Unprefixed names still work for phones without affixes.
        ("/cfg000b82000001.xml", "grandstream device config 000b82000001 - cfg000b82000001.xml grandstream/cfg000b82000001.xml"),
        // A firmware affix does not make a config name, nor the reverse.
        ("/fw_cfg.xml_1.0.7.5", "404"),
    ];
    for (path, want) in rows {
        check(&cfg, "GET", "", path, want).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn configured_default_vendors_settle_shared_names() {
    let cfg = RouteConfig {
        default_vendors: vec![
            PathDefault {
                prefix: "/fanvil/".into(),
                vendor: Vendor::Fanvil,
            },
            PathDefault {
                prefix: "/fanvil/old-gigasets/".into(),
                vendor: Vendor::Gigaset,
            },
        ],
        extra_ouis: serde_json::from_str(r#"[{"oui":"c4:fc:22","vendor":"yealink"}]"#).unwrap(),
        ..RouteConfig::default()
    };
    let rows = [
        (
            "GET",
            "",
            "/fanvil/aabbcc123456.cfg",
            "fanvil device config aabbcc123456 - aabbcc123456.cfg fanvil/aabbcc123456.cfg",
        ),
        (
            "GET",
            "",
            "/fanvil/old-gigasets/aabbcc123456.xml",
            "gigaset device config aabbcc123456 - AABBCC123456.xml gigaset/aabbcc123456.xml",
        ),
        // The User-Agent outranks configuration; the OUI does too.
        (
            "GET",
            YEA_NOMAC,
            "/fanvil/aabbcc123456.cfg",
            "yealink device config aabbcc123456 t46g aabbcc123456.cfg yealink/aabbcc123456.cfg",
        ),
        (
            "GET",
            "",
            "/fanvil/0004f2123456.cfg",
            "polycom device config 0004f2123456 - 0004f2123456.cfg polycom/0004f2123456.cfg",
        ),
        // An operator-added OUI.
        (
            "GET",
            "",
            "/c4fc22123456.cfg",
            "yealink device config c4fc22123456 - c4fc22123456.cfg yealink/c4fc22123456.cfg",
        ),
    ];
    for (m, ua, path, want) in rows {
        check(&cfg, m, ua, path, want).unwrap_or_else(|e| panic!("{e}"));
    }
    let bad: Result<RouteConfig, _> =
        serde_json::from_str(r#"{"extra_ouis":[{"oui":"c4fc2","vendor":"yealink"}]}"#);
    assert!(bad.unwrap_err().to_string().contains("invalid OUI"));
}

#[test]
fn limits_are_enforced_with_their_statuses() {
    let cfg = cfg();
    let long = format!("/{}cfg.xml", "a/".repeat(1100));
    assert_eq!(
        route::route(&Request::get(long), &cfg)
            .unwrap_err()
            .status(),
        414
    );
    let big_ua = Request::get("/cfg.xml").with_header("User-Agent", "x".repeat(9000));
    assert_eq!(route::route(&big_ua, &cfg).unwrap_err().status(), 431);
    let mut many = Request::get("/cfg.xml");
    for i in 0..100 {
        many = many.with_header(format!("x-{i}"), "1");
    }
    assert_eq!(route::route(&many, &cfg).unwrap_err().status(), 431);
}

#[test]
fn refusal_messages_never_echo_headers_or_query_values() {
    let req = Request::get("/app/provision/?mac=zz&password=hunter2")
        .with_header("Authorization", "Basic c2VjcmV0");
    let msg = route::route(&req, &cfg()).unwrap_err().to_string();
    assert!(
        !msg.contains("hunter2") && !msg.contains("c2VjcmV0") && !msg.contains("zz"),
        "{msg}"
    );
}
