//! Whatever bytes a scanner (or an attacker) sends, the scan parser answers with a scan or a
//! named error — it never panics, and reading the accepted scan's parts never panics either.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scan) = threadline_gs1::parse_scan(text) {
        let _ = scan.kind();
        let _ = scan.gtin();
        let _ = scan.serial();
        let _ = scan.lot();
        let _ = scan.expiry();
    }
});
