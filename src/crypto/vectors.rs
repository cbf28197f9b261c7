//! The reference's test vectors (vendors.md §8), as one table-driven test module.
//!
//! §8.1 are real vendor outputs; §8.2 were generated with and checked against the OpenSSL 3.0
//! CLI. Nothing here was produced by this crate.

use sha2::{Digest as _, Sha256};

use super::*;

/// `pt.xml` from §8.2 (133 bytes).
const PT_XML: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\" ?>\n<gs_provision version=\"1\">\n <config version=\"1\">\n  <P271>1</P271>\n </config>\n</gs_provision>\n";
const SALT: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn password(p: &str) -> Password {
    Password::new(p).expect("non-empty")
}

#[test]
fn plaintext_is_the_one_the_reference_hashed() {
    assert_eq!(PT_XML.len(), 133);
    assert_eq!(
        sha256_hex(PT_XML),
        "3acebfc5115833a132415b961d44b9f9f78ba5920c760fbec567b589c4f1c516"
    );
}

/// §8.2 items 1–3: key and IV from EVP_BytesToKey, as `openssl enc -P` prints them.
#[test]
fn evp_bytes_to_key_matches_openssl() {
    let table = [
        (
            Cipher::Aes256Cbc,
            Digest::Md5,
            "SecretPhrase1234",
            "75618538a4502fa7161d6dc303f2a1f1c0ee19362ee647e725505c3c52364c82",
            "04ca41f7b4e382da569224b0c61b445a",
        ),
        (
            Cipher::Aes256Cbc,
            Digest::Sha256,
            "SecretPhrase1234",
            "ec2a2d45a836181f7fa96d7e6204d9c24cd45ff1e1062e3b2dae7e7baa7d63a8",
            "e10dd0d54aefddc59586871b1a7bd83c",
        ),
        (
            Cipher::Aes128Cbc,
            Digest::Md5,
            "12341234abcdabcd12341234abcdabcd",
            "11e50e316fea23fc66367b4e756c5b78",
            "1e3a26b79adfe666927f14fdc3198e83",
        ),
        (
            Cipher::Aes128Cbc,
            Digest::Sha256,
            "12341234abcdabcd12341234abcdabcd",
            "ce905575ddfb270341d7ea3a6fa6c7b1",
            "58c30a4fdce414daa636528b6cb06f99",
        ),
    ];
    for (cipher, md, pass, key, iv) in table {
        let kiv = Kdf::EvpBytesToKey(md).derive(cipher, &password(pass), &SALT);
        assert_eq!(hex(kiv.key.as_bytes()), key, "{cipher} {md}");
        assert_eq!(hex(&kiv.iv), iv, "{cipher} {md}");
    }
}

/// §8.2 items 1 and 2: the whole Grandstream/Cisco file, byte for byte (by its hash).
#[test]
fn openssl_container_matches_reference_files() {
    let table = [
        (
            Digest::Md5,
            "ceec4d2bed980006c1145a2f1cc818b016bacada09116ffb539cccf718b2b57d",
        ),
        (
            Digest::Sha256,
            "fdc6d66c73c236bd191170a59598173523b2a51068292babf2b2dcb8414559d8",
        ),
    ];
    for (md, file_sha) in table {
        let enc = OpensslEnc::new(
            Cipher::Aes256Cbc,
            Kdf::EvpBytesToKey(md),
            password("SecretPhrase1234"),
        );
        let file = enc.encrypt_with_salt(PT_XML, SALT);
        assert_eq!(file.len(), 160);
        assert_eq!(sha256_hex(&file), file_sha, "{md}");
        assert_eq!(enc.decrypt(&file).as_deref(), Ok(PT_XML));
        if md == Digest::Md5 {
            assert_eq!(
                hex(&file[..48]),
                "53616c7465645f5f0102030405060708323747e4bb38cb058276e6ee1f210d651375043da8dda780c2cbb6fb7d01b0c9"
            );
        }
    }
}

/// §8.2 item 3 through the settings type: the Panasonic armour around the §8.2 container.
#[test]
fn panasonic_is_armoured_container() {
    let settings: Encryption = serde_json::from_str(
        r#"{"scheme":"panasonic","password":"12341234abcdabcd12341234abcdabcd"}"#,
    )
    .expect("valid settings");
    let armoured = settings.encrypt_with_salt(PT_XML, SALT);
    let raw = OpensslEnc::new(
        Cipher::Aes128Cbc,
        Kdf::EvpBytesToKey(Digest::Md5),
        password("12341234abcdabcd12341234abcdabcd"),
    )
    .encrypt_with_salt(PT_XML, SALT);
    assert_eq!(panasonic::dearmor(&armoured), Ok(raw.clone()));
    let text = std::str::from_utf8(&armoured).expect("ascii");
    assert!(text.ends_with('\n'));
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 64));
    assert!(lines.iter().all(|l| l.len() <= 64 && !l.is_empty()));
    assert_eq!(settings.decrypt(&armoured).as_deref(), Ok(PT_XML));
}

/// §8.1 (genuine Yealink tool output) and §8.2 item 4: `_Security.enc` key files.
#[test]
fn yealink_key_files() {
    let table = [
        ("ljB7jiDIQQ7XD888", "ac31d043a08b31ec3c0a88fc2de47156"),
        ("0123456789abcdef", "72d49d5d44e30a1fdb829d9d6905efc4"),
    ];
    for (key, file) in table {
        let k = YealinkKey::parse(key).expect("valid key");
        assert_eq!(k.key_file().map(|f| hex(&f)), Ok(file.to_string()));
        let bytes = k.key_file().expect("16-char key");
        assert_eq!(YealinkKey::from_key_file(&bytes), Ok(k));
    }
    let long = YealinkKey::parse("0123456789abcdef0123456789abcdef").expect("valid key");
    assert!(matches!(long.key_file(), Err(CryptoError::Unsupported(_))));
    assert_eq!(
        yealink::key_file_name("y000000000058.cfg"),
        "y000000000058_Security.enc"
    );
    assert_eq!(
        yealink::key_file_name("account.cfg"),
        "account_Security.enc"
    );
}

/// §8.1: genuine Yealink tool output, `test/test.cfg` from traviscross/yealink-confenc@939a5b5f
/// (Copyright (c) 2013 Travis Cross, MIT licence), 800 bytes, as hex.
const YEALINK_TOOL_CFG: [&str; 25] = [
    "fc21be82400c10d8a649ba983d494ac77a69945354e8ce903873b0898788faae",
    "f719903ad92ed168ef7ffd5c8bd5433917ff499f1a2874a4fad0ec0eab26cd82",
    "04d3d36f3ae43bc34ae0d628a84d16dbe244999c494036bc87e99f0fbe9229db",
    "7ad03e3595d071d764b7437124b1c859e8539391b3a8640b139a96a6f91fd045",
    "ab517f6f7fc955218edf6dd5ad69bac7bd6af375448523dafe2a2b8e82b9c966",
    "3e256de4b32a4255160d5fabcc3c0b1df86eba8bf6f379d1f95f8bdb70a6ec58",
    "fba5d0a05085d7e11277b753d28906b6ebc9e05a67f8ced66aacdada0219d4a4",
    "c6ada56057e74f80f403288a865cbd83c2e7d35aa805b120622452f21f18168b",
    "7f194871f186420a56ad499ba3db31705333189f49c9770d93a48cb88d3fbdb4",
    "35e2c3538e003e4292143caff5f7297dac8c3c3bf376265c24b5bfc880cb6d45",
    "874b7e59084b033e9096aa957b5cb26d6480772ff5a685424aac3485df216ceb",
    "ddb39400ea3fd67f93b1530c02d1e6805c7aba2b2d5e360a32c91bdee0d5fdb2",
    "e1d2d5891b9254ace6d43c0d6964e8acb8b2af575c4e53dd8772a6b392b248d7",
    "38467cdb47ec4039bc7d7778d294e274f1d08dd3125a8a5f7dbd597a659bd35c",
    "adf9dad9049ef6fb08a261d964f0b93f6db28b43573a218d0f66474ba0e74136",
    "442726888542c48e6481121c84cb075a47f2a9f1312512815b1aae4cff555f5d",
    "441a2cdefde2009eae52404ca9c8a9fc63cf873adf13c9636349ecbd1b628cef",
    "44694dbc9df889809eebd260d3fd027b8124b6d648e18650cb7e303f8f223ff0",
    "d1d6b93116eb4a4583f350f399e0b0f23e640c5982d049905e2fc79540e15bd6",
    "253dee6ed024429912643200b555af24fd7728f9c46bb56e98c55e5cc6997a32",
    "f82d4f33989113d0764f6cb9ebc279e7d3dad83e718bbfd1e476d22c5476d770",
    "5aff5c3e11b6ed6e8bde7b71be251367547b687a39681269941a5439251a759c",
    "89f89878fd6178206ee64216f9c6b9b6d22c6f10bb4228c511d11b9a77529b14",
    "375c9c25a1e1ea91c44a109f29cc3bd7de181e64ee0162b63a43ae8a914bc02a",
    "ff16ec5925f28e32d840dcaf9fab6d916a89c7f75c06ea900dc288d7d4773880",
];

/// §8.1: the vendor file decrypts under the key from its `_Security.enc`, its padding is four
/// spaces, and re-encrypting with space padding reproduces the tool's bytes exactly.
#[test]
fn yealink_vendor_tool_file_round_trips_byte_for_byte() {
    let file: Vec<u8> = YEALINK_TOOL_CFG
        .concat()
        .as_bytes()
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).expect("ascii"), 16).expect("hex"))
        .collect();
    assert_eq!(
        sha256_hex(&file),
        "33eb0640cb813fb053972af27070dca6e149b0c0f21eaa49c10b801032cde888"
    );
    assert_eq!(hex(&file[..16]), "fc21be82400c10d8a649ba983d494ac7");
    let key_file = [
        0xac, 0x31, 0xd0, 0x43, 0xa0, 0x8b, 0x31, 0xec, 0x3c, 0x0a, 0x88, 0xfc, 0x2d, 0xe4, 0x71,
        0x56,
    ];
    let key = YealinkKey::from_key_file(&key_file).expect("genuine key file");
    let plain = key.decrypt(&file, Padding::Space).expect("whole blocks");
    assert!(plain.starts_with(b"[ account ]\r\npath=/yealink/config/voip/sipAccount0.cfg\r\n"));
    assert!(plain.ends_with(b"RejectAnonymousCall = 0\r\n"));
    assert_eq!(plain.len(), 796);
    let padded = [&plain[..], b"    "].concat();
    assert_eq!(
        sha256_hex(&padded),
        "34f934a1290b2ff1d55e2c227b40d166d758a321c1b31a8e38fc0033b12d9aa8"
    );
    assert!(
        key.encrypt(&plain, Padding::Space) == file,
        "not the vendor tool's bytes"
    );
}

/// §8.2 item 4: a config file under both paddings.
#[test]
fn yealink_config_blocks() {
    let cfg = b"#!version:1.0.0.1\naccount.1.enable = 1\n";
    assert_eq!(cfg.len(), 39);
    let key = YealinkKey::parse("0123456789abcdef").expect("valid key");
    let common = "22e88b18521c9155c78839d7ac8c1c4464b2eedd5c902cd2497a504b9fa73926";
    let table = [
        (Padding::Space, "d9af7570ff44626b5afb87ab66a714cb"),
        (Padding::Pkcs7, "6e9eadf6e04c1ffcf49e5582b7f100fd"),
    ];
    for (padding, third) in table {
        let file = key.encrypt(cfg, padding);
        assert_eq!(hex(&file), format!("{common}{third}"), "{padding:?}");
        assert_eq!(key.decrypt(&file, padding).as_deref(), Ok(&cfg[..]));
    }
}

/// §8.2 item 6: Obihai raw AES-128-CBC of pt.xml.
#[test]
fn obihai_raw_cbc() {
    let key = ObihaiKey::from_hex(
        "1234567890abcdef1234567890abcd01",
        "1234567890abcdef1234567890abcd02",
    )
    .expect("valid hex");
    let file = key.encrypt(PT_XML);
    assert_eq!(
        sha256_hex(&file),
        "6cb769587990ad63b0655fa2f182781bfc5686842f8569eb8ad0eb60a216bbc1"
    );
    assert_eq!(key.decrypt(&file).as_deref(), Ok(PT_XML));
}
