//! Feeds arbitrary scanner input to `parse_scan`; whatever parses must print and re-parse to the
//! same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use threadline_gs1::{DigitalLink, ElementString, EpcUrn, Scan, parse_scan};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(scan) = parse_scan(text) else { return };
    match &scan {
        Scan::ElementString(es) => {
            assert_eq!(ElementString::parse_raw(&es.to_raw()).as_ref(), Ok(es));
            assert_eq!(ElementString::parse_bracketed(&es.to_bracketed()).as_ref(), Ok(es));
            if let Ok(dl) = DigitalLink::from_element_string(es) {
                let back = DigitalLink::parse(&dl.to_uri()).expect("produced Digital Link parses");
                assert_eq!(back, dl);
            }
        }
        Scan::DigitalLink(dl) => {
            let back = DigitalLink::parse(&dl.to_uri()).expect("printed Digital Link parses");
            assert_eq!(back.element_string(), dl.element_string());
        }
        Scan::EpcUrn(urn) => {
            assert_eq!(EpcUrn::parse(&urn.to_urn()).as_ref(), Ok(urn));
            let dl = urn.to_digital_link();
            let back = EpcUrn::from_digital_link(&dl, urn.company_prefix_len()).expect("URN from its own Digital Link");
            assert_eq!(&back, urn);
        }
        Scan::Plain(s) => assert!(!s.is_empty()),
    }
});
