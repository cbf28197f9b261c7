//! Algo `.md5` of a large stored file in the native server: summed once per file version, in
//! pieces, off the event loop. The audit's attack (16 concurrent `.md5` requests for a 64 MiB
//! firmware took the server from 8 MB to 1.19 GB) now leaves its peak memory flat.

mod serve_support;

use md5::{Digest as _, Md5};
use serve_support::Server;

/// The server's peak resident memory (VmHWM), in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn concurrent_md5_requests_for_a_large_firmware_stay_bounded_and_agree() {
    let server = Server::start();
    let firmware: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(server.store.join("algo/algo-8188-5.2.fw"), &firmware).unwrap();
    let want: String = Md5::digest(&firmware)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    drop(firmware);
    let before = peak_rss_kib(server.pid());
    let answers: Vec<(u16, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..16)
            .map(|_| s.spawn(|| server.get("/algo-8188-5.2.md5", None)))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                let r = h.join().unwrap();
                (r.status, String::from_utf8_lossy(&r.body).into_owned())
            })
            .collect()
    });
    for (status, body) in &answers {
        assert_eq!((*status, body.as_str()), (200, want.as_str()));
    }
    let peak = peak_rss_kib(server.pid());
    // Pieces of 64 KiB, two files at a time: nothing near the file's 64 MiB, let alone 16 of them.
    assert!(
        peak < before + 48 * 1024,
        "peak RSS grew from {before} KiB to {peak} KiB"
    );
    // The file changes: the next answer is the new sum, not the remembered one.
    std::fs::write(server.store.join("algo/algo-8188-5.2.fw"), b"new firmware").unwrap();
    let new: String = Md5::digest(b"new firmware")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let resp = server.get("/algo-8188-5.2.md5", None);
    assert_eq!(String::from_utf8_lossy(&resp.body), new);
    // A 304 for a client that holds the sum.
    let etag = resp.header("etag").unwrap().to_owned();
    let again = server.connect().request(
        "GET",
        "/algo-8188-5.2.md5",
        &[("If-None-Match", &etag)],
        None,
    );
    assert_eq!(again.status, 304);
}
